"""Render the sample cases' source text (data/case_sources/<case_id>/*.md) into the PDFs under data/cases/.

Source format, one Markdown file per document, named `<NN>-<slug>.md` (NN fixes the case's document order):

    ---
    title: Police Incident Report          # shown in the PDF's metadata
    scanned: false                         # true: every page is an image with no text layer (OCR needed)
    scanned_pages: [2]                     # or only these 1-based pages
    ---
    # Heading
    A paragraph.
    - a list item
    <!-- page -->                          # starts a new page

Run: `.venv/bin/python scripts/render_cases.py` (deterministic; re-running rewrites identical PDFs).
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pymupdf as fitz
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "data" / "case_sources"
CASES = ROOT / "data" / "cases"
PAGE = fitz.paper_rect("letter")
MARGIN = 60
CSS = """
body { font-family: sans-serif; font-size: 10.5pt; line-height: 1.35; }
h1 { font-size: 15pt; margin-bottom: 6pt; }
h2 { font-size: 12.5pt; margin-top: 8pt; margin-bottom: 4pt; }
h3 { font-size: 11pt; margin-top: 6pt; margin-bottom: 3pt; }
p { margin-top: 0; margin-bottom: 6pt; }
li { margin-bottom: 2pt; }
"""


def split_front_matter(text: str) -> tuple[dict, str]:
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not m:
        return {}, text
    return yaml.safe_load(m.group(1)) or {}, text[m.end():]


def inline(s: str) -> str:
    s = html.escape(s)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)


def markdown_to_html(block: str) -> str:
    out: list[str] = []
    para: list[str] = []
    in_list = False

    def flush() -> None:
        nonlocal para
        if para:
            out.append("<p>" + "<br/>".join(inline(x) for x in para) + "</p>")
            para = []

    for line in block.splitlines():
        stripped = line.strip()
        heading = re.match(r"^(#{1,3}) (.*)$", stripped)
        if not stripped:
            flush()
            if in_list:
                out.append("</ul>")
                in_list = False
        elif heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif stripped.startswith("- "):
            flush()
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{inline(stripped[2:])}</li>")
        else:
            para.append(stripped)
    flush()
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


def rasterize(doc: fitz.Document, page_numbers: set[int]) -> fitz.Document:
    """Replace the given 1-based pages by grayscale images of themselves: no text layer is left."""
    out = fitz.open()
    for i, page in enumerate(doc, start=1):
        if i in page_numbers:
            pix = page.get_pixmap(dpi=200, colorspace=fitz.csGRAY)
            new = out.new_page(width=page.rect.width, height=page.rect.height)
            new.insert_image(new.rect, pixmap=pix)
        else:
            out.insert_pdf(doc, from_page=i - 1, to_page=i - 1)
    return out


def render_document(source: Path, target: Path) -> int:
    meta, body = split_front_matter(source.read_text(encoding="utf-8"))
    pages = [p for p in re.split(r"^<!-- page -->\s*$", body, flags=re.M) if p.strip()]
    doc = fitz.open()
    box = fitz.Rect(MARGIN, MARGIN, PAGE.width - MARGIN, PAGE.height - MARGIN)
    for i, block in enumerate(pages, start=1):
        page = doc.new_page(width=PAGE.width, height=PAGE.height)
        spare, scale = page.insert_htmlbox(box, markdown_to_html(block), css=CSS, scale_low=0.5)
        if spare < 0:
            raise SystemExit(f"{source.name}: page {i} does not fit on one page even at half size; split it")
    if meta.get("scanned"):
        doc = rasterize(doc, set(meta.get("scanned_pages") or range(1, len(pages) + 1)))
    doc.set_metadata({"title": meta.get("title", source.stem), "creator": "declaration_assets sample cases",
                      "producer": "pymupdf", "creationDate": "D:20250101000000", "modDate": "D:20250101000000"})
    target.parent.mkdir(parents=True, exist_ok=True)
    doc.save(target, garbage=4, deflate=True, no_new_id=True)
    return len(pages)


def main(argv: list[str]) -> int:
    wanted = set(argv[1:])
    for case_dir in sorted(p for p in SOURCES.iterdir() if p.is_dir()):
        if wanted and case_dir.name not in wanted:
            continue
        total = 0
        for source in sorted(case_dir.glob("*.md")):
            total += render_document(source, CASES / case_dir.name / f"{source.stem}.pdf")
        print(f"{case_dir.name}: {total} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
