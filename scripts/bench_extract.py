"""Extraction over any folder of PDFs: per file the method of each page, pages, failures, OCR confidence, time.

Run: `.venv/bin/python scripts/bench_extract.py <folder> [<folder> ...] [--generate DIR] [--dpi 300]`
`--generate DIR` first writes the hard cases of the test suite into DIR (a scan saved with /Rotate 90, an
upside-down scan, a two-column page with columns of different lengths, a LaTeX-style two-column page, a scanned
two-column Spanish page, a noise page) and adds DIR to the folders. Prints a Markdown table per folder and a
summary. No cache: every page is extracted (and every scanned page OCR'd) in this run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from declaration_assets.extraction.pdf import MIN_OCR_CONFIDENCE, extract_document, ocr_settings  # noqa: E402


def generate(folder: Path) -> None:
    """The suite's generated hard cases, as files."""
    from declaration_assets_tests.ingest import test_extraction_quality as q
    from declaration_assets_tests.ingest.pdfs import POLICE_LINES, scanned, text_pdf

    folder.mkdir(parents=True, exist_ok=True)
    rotated = scanned(text_pdf([POLICE_LINES]))
    rotated[0].set_rotation(90)
    docs = {
        "rotate90-scan.pdf": rotated,
        "upside-down-scan.pdf": q._rotated_image_pdf(180),
        "two-column-uneven.pdf": q._two_column_pdf([q._para(f"L{i}") for i in range(4)], [q._para("R0", 20)],
                                                   title="Notas de la entrevista"),
        "latex-two-column.pdf": q._two_column_pdf([q._para(f"L{i}", 30) for i in range(4)],
                                                  [q._para(f"R{i}", 30) for i in range(4)],
                                                  title="A Study of Two Columns",
                                                  footer="Footnote 1: a caption set across the whole page, under "
                                                         "both columns, as LaTeX sets a figure*."),
        "scanned-two-column-es.pdf": scanned(q._two_column_pdf(
            ["Primera columna. La clienta dice que su esposo la insultaba todos los dias en la casa.",
             "Ella explico que tenia miedo de el porque la amenazaba con llamar a inmigracion."],
            ["Segunda columna. La vecina escucho los gritos y llamo a la policia esa noche."]), dpi=200),
        "noise-scan.pdf": q._noise_pdf(),
    }
    for name, doc in docs.items():
        doc.save(folder / name)


def bench_folder(folder: Path, dpi: int) -> list[dict]:
    ocr = ocr_settings(dpi=dpi)
    rows = []
    for path in sorted(folder.rglob("*.pdf")):
        t0 = time.perf_counter()
        r = extract_document(path.name, path.read_bytes(), ocr)
        seconds = time.perf_counter() - t0
        confs = [p.ocr_confidence for p in r.pages if p.ocr_confidence is not None]
        rows.append({
            "file": str(path.relative_to(folder)),
            "pages": r.page_count,
            "text": sum(p.method == "text" for p in r.pages),
            "ocr": sum(p.method == "ocr" for p in r.pages),
            "low": sum(p.quality == "low" for p in r.pages),
            "rotated": ",".join(f"p{p.page}:{p.rotation}" for p in r.pages if p.rotation) or "-",
            "ocr_conf": f"{min(confs):.0f}-{max(confs):.0f}" if confs else "-",
            "languages": ",".join(sorted({p.language for p in r.pages})) or "-",
            "failures": "; ".join(f"{'p%d: ' % f.page if f.page else ''}{f.reason}"[:70] for f in r.failures) or "-",
            "title": r.title[:40],
            "seconds": seconds,
        })
    return rows


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--generate", type=Path, default=None, help="write the generated hard cases here and bench them")
    ap.add_argument("--dpi", type=int, default=300)
    args = ap.parse_args(argv)
    folders = list(args.folders)
    if args.generate:
        generate(args.generate)
        folders.append(args.generate)
    if not folders:
        ap.error("give at least one folder (or --generate DIR)")
    cols = ["file", "pages", "text", "ocr", "low", "rotated", "ocr_conf", "languages", "failures", "title", "seconds"]
    total_pages = total_failed = total_low = 0
    total_s = 0.0
    for folder in folders:
        rows = bench_folder(folder, args.dpi)
        print(f"\n### {folder} ({len(rows)} PDFs; low = OCR confidence < {MIN_OCR_CONFIDENCE:.0f})\n")
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
        for r in rows:
            cells = [f"{r[c]:.2f}" if c == "seconds" else str(r[c]).replace("|", "/") for c in cols]
            print("| " + " | ".join(cells) + " |")
        total_pages += sum(r["pages"] for r in rows)
        total_failed += sum(r["failures"] != "-" for r in rows)
        total_low += sum(r["low"] for r in rows)
        total_s += sum(r["seconds"] for r in rows)
    print(f"\n{total_pages} pages, {total_failed} files with failures, {total_low} low-quality pages, "
          f"{total_s:.1f} s ({total_pages / total_s if total_s else 0:.1f} pages/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
