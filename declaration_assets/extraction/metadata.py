"""What the Dagster UI shows for an `extracted_text` partition: counts, a document table, failures, a preview."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from ..text import translation_note

# One switch for every asset's text previews (DECLARATION_UI_PREVIEWS=0 for a shared UI): see docs/PRIVACY.md.
from ..privacy.settings import case_text, previews_enabled
from .models import ExtractedCase, PageText
from .pdf import DocumentResult, title_from_file_name

PREVIEW_CHARS = 400


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def documents_table(case: ExtractedCase, results: Sequence[DocumentResult]) -> dg.TableMetadataValue:
    by_name = {r.name: r for r in results}
    records = []
    for d in case.documents:
        pages = case.pages_of(d.name)
        r = by_name.get(d.name)
        records.append(
            dg.TableRecord(
                {
                    "exhibit": d.exhibit,
                    "document": d.name,
                    # A title read from the page may name the client: with previews off, the file name's.
                    "title": case_text(d.title, title_from_file_name(d.name)),
                    "pages": d.pages,
                    "ocr_pages": sum(p.method == "ocr" for p in pages),
                    "languages": ",".join(d.languages) or "und",
                    "translation": translation_note(d.languages) or "",
                    "low_quality_pages": sum(p.document == d.name for p in case.low_quality_pages),
                    "characters": sum(len(p.text) for p in pages),
                    "cached": bool(r and r.from_cache),
                }
            )
        )
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("exhibit", "string"),
            dg.TableColumn("document", "string"),
            dg.TableColumn("title", "string"),
            dg.TableColumn("pages", "int"),
            dg.TableColumn("ocr_pages", "int"),
            dg.TableColumn("languages", "string", description="page languages, most pages first"),
            dg.TableColumn("translation", "string", description="foreign-language exhibits need a certified translation"),
            dg.TableColumn("low_quality_pages", "int", description="pages with unreliable OCR, not used as evidence"),
            dg.TableColumn("characters", "int"),
            dg.TableColumn("cached", "bool", description="result re-used from the extraction cache"),
        ]
    )
    return dg.MetadataValue.table(records=records, schema=schema)


def _page_row(p: PageText) -> dg.TableRecord:
    return dg.TableRecord({
        "document": p.document, "page": p.page, "method": p.method, "language": p.language,
        "ocr_confidence": p.ocr_confidence if p.ocr_confidence is not None else -1.0,
        "rotation": p.rotation, "quality": p.quality, "note": p.quality_reason or (
            "no OCR data installed for this language" if p.ocr_language_missing else ""),
    })


def pages_table(case: ExtractedCase) -> dg.TableMetadataValue:
    """Every page: how it was read, how well, which way up (low-quality pages included)."""
    pages = sorted([*case.pages, *case.low_quality_pages], key=lambda p: (p.document, p.page))
    schema = dg.TableSchema(columns=[
        dg.TableColumn("document", "string"), dg.TableColumn("page", "int"), dg.TableColumn("method", "string"),
        dg.TableColumn("language", "string"),
        dg.TableColumn("ocr_confidence", "float", description="Tesseract word confidence 0-100; -1 = text layer"),
        dg.TableColumn("rotation", "int", description="degrees turned to read the page upright"),
        dg.TableColumn("quality", "string"), dg.TableColumn("note", "string"),
    ])
    return dg.MetadataValue.table(records=[_page_row(p) for p in pages], schema=schema)


def letters_markdown(case: ExtractedCase) -> str:
    rows = ["| exhibit | document | status |", "| --- | --- | --- |"]
    rows += [f"| {e.letter} | {_md_cell(e.document)} | {e.status} |" for e in case.letters]
    return "\n".join(rows)


def failures_markdown(case: ExtractedCase) -> str:
    if not case.failures:
        return "No failed documents."
    rows = ["| document | page | reason |", "| --- | --- | --- |"]
    rows += [f"| {_md_cell(f.document)} | {f.page or 'all'} | {_md_cell(f.reason)} |" for f in case.failures]
    return "\n".join(rows)


def preview_markdown(case: ExtractedCase, chars: int = PREVIEW_CHARS) -> str:
    parts = []
    for d in case.documents:
        first = next((p for p in case.pages_of(d.name) if p.text.strip()), None)
        if first is None:
            continue
        text = first.text[:chars] + ("…" if len(first.text) > chars else "")
        parts.append(f"**Ex. {d.exhibit} — {d.title}** (p. {first.page}, {first.method}, {first.language})\n\n> "
                     + text.replace("\n\n", "\n>\n> "))
    return "\n\n".join(parts)


def extraction_metadata(case: ExtractedCase, results: Sequence[DocumentResult]) -> dict[str, dg.MetadataValue]:
    ocr_pages = case.ocr_pages
    languages: dict[str, int] = {}
    for p in case.pages:
        languages[p.language] = languages.get(p.language, 0) + 1
    meta: dict[str, dg.MetadataValue] = {
        "documents": dg.MetadataValue.int(len(case.documents)),
        "pages": dg.MetadataValue.int(len(case.pages)),
        "text_layer_pages": dg.MetadataValue.int(len(case.pages) - len(ocr_pages)),
        "ocr_pages": dg.MetadataValue.int(len(ocr_pages)),
        "ocr_page_list": dg.MetadataValue.text(", ".join(f"{p.document} p.{p.page}" for p in ocr_pages) or "none"),
        "failed_documents": dg.MetadataValue.int(sum(f.page is None for f in case.failures)),
        "failed_pages": dg.MetadataValue.int(sum(f.page is not None for f in case.failures)),
        "failures": dg.MetadataValue.md(failures_markdown(case)),
        "languages": dg.MetadataValue.json(languages),
        "document_table": documents_table(case, results),
        "text_seconds": dg.MetadataValue.float(round(sum(r.text_seconds for r in results), 3)),
        "ocr_seconds": dg.MetadataValue.float(round(sum(r.ocr_seconds for r in results), 3)),
        "documents_from_cache": dg.MetadataValue.int(sum(r.from_cache for r in results)),
        "low_quality_pages": dg.MetadataValue.int(len(case.low_quality_pages)),
        "low_quality_page_list": dg.MetadataValue.text(
            ", ".join(f"{p.document} p.{p.page} ({p.quality_reason})" for p in case.low_quality_pages) or "none"),
        "rotated_pages": dg.MetadataValue.text(
            ", ".join(f"{p.document} p.{p.page} ({p.rotation}°)" for p in case.pages if p.rotation) or "none"),
        "pages_without_ocr_language": dg.MetadataValue.text(
            ", ".join(f"{p.document} p.{p.page} ({p.language})" for p in case.pages if p.ocr_language_missing)
            or "none"),
        "skipped_files": dg.MetadataValue.text(", ".join(case.skipped_files) or "none"),
        "exhibit_letters": dg.MetadataValue.md(letters_markdown(case)),
        "page_table": pages_table(case),
        "review_notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in case.review_notes) or "none"),
    }
    if previews_enabled():
        meta["preview"] = dg.MetadataValue.md(preview_markdown(case))
    return meta
