"""PDFs for the ingest tests, generated with pymupdf: text pages, scanned (image-only) pages, broken files."""

from __future__ import annotations

from pathlib import Path

import pymupdf

PAGE = pymupdf.paper_rect("letter")
BOX = pymupdf.Rect(60, 60, PAGE.width - 60, PAGE.height - 60)


def _html(blocks: list[str]) -> str:
    out = []
    for b in blocks:
        if b.startswith("# "):
            out.append(f"<h2>{b[2:]}</h2>")
        else:
            out.append(f"<p>{b}</p>")
    return "\n".join(out)


def text_pdf(pages: list[list[str]], title: str | None = None) -> pymupdf.Document:
    """One page per item; each page a list of blocks ("# Heading" or a paragraph)."""
    doc = pymupdf.open()
    for blocks in pages:
        page = doc.new_page(width=PAGE.width, height=PAGE.height)
        page.insert_htmlbox(BOX, _html(blocks), css="body {font-family: sans-serif; font-size: 12pt;}")
    if title:
        doc.set_metadata({"title": title})
    return doc


def scanned(doc: pymupdf.Document, dpi: int = 200) -> pymupdf.Document:
    """Every page replaced by a grayscale picture of itself: no text layer left, as from a scanner."""
    out = pymupdf.open()
    for page in doc:
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        new = out.new_page(width=page.rect.width, height=page.rect.height)
        new.insert_image(new.rect, pixmap=pix)
    return out


def to_bytes(doc: pymupdf.Document, **save_kwargs) -> bytes:
    return doc.tobytes(**save_kwargs)


def encrypted_bytes(doc: pymupdf.Document, user_pw: str = "secret") -> bytes:
    return doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=user_pw, owner_pw=user_pw + "-owner")


def corrupt_bytes(good: bytes) -> bytes:
    """A truncated download: the first half of a valid PDF."""
    return good[: len(good) // 2]


MARRIAGE_PAGES = [
    [
        "# Certificate of Marriage",
        "This certifies that John Allen Carter and Ana Lucia Pereira were united in marriage on June 5, 2018, "
        "in the City of Dallas, County of Dallas, State of Texas.",
        "# Officiant",
        "The ceremony was performed by Judge Helen Brooks of the Dallas County Court at Law No. 3.",
    ],
    [
        "# Recording",
        "Recorded by the County Clerk of Dallas County on June 12, 2018, under license number 2018-0045512.",
    ],
]

POLICE_LINES = [
    "# Police Incident Report",
    "Report number 2021-88341. On March 3, 2021 Officer Daniel Whitaker responded to 4410 Maple Avenue.",
    "The victim Ana Pereira stated that her husband John Carter pushed her against the wall and took her phone.",
]

SPANISH_PAGES = [
    [
        "# Notas de la entrevista",
        "La clienta dice que su esposo la insultaba todos los días y que no le permitía salir de la casa. "
        "Cuando ella quería llamar a su familia, él le quitaba el teléfono y se lo escondía.",
        "Ella explicó que tenía miedo de él porque la amenazaba con llamar a inmigración.",
    ]
]

LEASE_PAGES = [
    [
        "# Residential Lease Agreement",
        "The tenants John Allen Carter and Ana Lucia Pereira lease Apartment 12 at 4410 Maple Avenue, Dallas, "
        "Texas, from July 1, 2018 to June 30, 2019, for a monthly rent of 950 dollars.",
    ]
]


def write_case(root: Path, case_id: str, files: dict[str, bytes], case_yaml: str | None = None) -> Path:
    folder = root / case_id
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    if case_yaml is None:
        case_yaml = (
            f"case_id: {case_id}\ncase_type: vawa\nlanguage: en\nparties:\n"
            "  - role: declarant\n    name: Ana Lucia Pereira\n  - role: abuser\n    name: John Allen Carter\n"
        )
    (folder / "case.yaml").write_text(case_yaml, encoding="utf-8")
    return folder
