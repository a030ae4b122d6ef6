"""Exports: foreign-language exhibits are flagged for certified translation; review notes on the case record."""

from __future__ import annotations

from datetime import datetime, timezone

import docx

from declaration_assets.drafting.citations import build_exhibits
from declaration_assets.drafting.models import Exhibit
from declaration_assets.exports.layout import RECORD_NOTES_TITLE, exhibit_line
from declaration_assets.exports.provenance import make_provenance
from declaration_assets.exports.write import write_declaration_version
from declaration_assets.extraction.models import DocumentInfo
from declaration_assets.text import translation_note

from .test_exports import make_draft


def test_translation_note_from_page_languages() -> None:
    assert translation_note(["es"]) == "Spanish: certified translation required"
    assert translation_note(["en", "es", "pt"]) == "Spanish, Portuguese: certified translation required"
    assert translation_note(["en"]) is None and translation_note([]) is None and translation_note(["und"]) is None
    line = exhibit_line(Exhibit(letter="A", document="01-notas.pdf", title="Notas", pages=5, languages=["es"]))
    assert line == "Exhibit A: Notas (01-notas.pdf, 5 pages) (Spanish: certified translation required)"


def test_extracted_languages_reach_the_exhibit_list() -> None:
    docs = [DocumentInfo(name="01-notas.pdf", title="Notas", pages=2, exhibit="A", languages=["es", "en"]),
            DocumentInfo(name="02-lease.pdf", title="Lease", pages=1, exhibit="B", languages=["en"])]
    assert [e.languages for e in build_exhibits(docs)] == [["es", "en"], ["en"]]


def test_markdown_and_docx_flag_foreign_exhibits_and_carry_review_notes(tmp_path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text("default: default\nmodel_configs: {default: {}}\n", encoding="utf-8")
    draft = make_draft("es")
    draft = draft.model_copy(update={"exhibits": [draft.exhibits[0].model_copy(update={"languages": ["es"]}),
                                                  *draft.exhibits[1:]]})
    now = datetime(2026, 1, 2, 3, 0, tzinfo=timezone.utc)
    prov = make_provenance("vawa-0002", "default", "run-1", "p", routing_file=routes, now=now)
    notes = ["05-police.pdf p. 2: unreliable OCR (OCR confidence 44 < 75); not used as evidence, replace the scan"]
    written = write_declaration_version(tmp_path / "out", draft, status="READY", reasons=[], provenance=prov,
                                        now=now, record_notes=notes)
    flag = "Exhibit A: Interview notes (01-notas.pdf, 5 pages) (Spanish: certified translation required)"
    assert f"- {flag}" in written.markdown and RECORD_NOTES_TITLE in written.markdown and notes[0] in written.markdown
    assert "Exhibit B: Marriage certificate (02-marriage.pdf, 2 pages)\n" in written.markdown + "\n"
    texts = [p.text for p in docx.Document(written.files["declaration.docx"]).paragraphs]
    assert flag in texts and notes[0] in texts and RECORD_NOTES_TITLE in texts
