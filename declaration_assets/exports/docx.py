"""The declaration as a Word document an attorney can edit (python-docx).

Paragraphs use Word's own "List Number" numbering, so inserting or deleting a paragraph renumbers the rest.
Provenance is in the core properties and in a closing paragraph.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

import docx
from docx.enum.text import WD_BREAK
from docx.shared import Pt, RGBColor

from ..drafting.models import Draft
from .layout import (
    REVIEW_NOTES_TITLE,
    review_notes as section_review_notes,
    ATTESTATION,
    TRANSLATION_TITLE,
    REVIEW_NOTES_TITLE,
    exhibit_line,
    needs_translation_certificate,
    numbered_sections,
    signature_lines,
    translation_certificate,
)
from .provenance import Provenance

NUMBERED_STYLE = "List Number"
PROVENANCE_PREFIX = "Provenance: "


def _created(provenance: Provenance) -> datetime | None:
    try:
        return datetime.fromisoformat(provenance.created_at.replace("Z", "+00:00"))
    except ValueError:
        return None


def render_docx(
    draft: Draft, *, status: str, reasons: list[str], provenance: Provenance, filing: str | None = None,
    review_notes: Sequence[str] = (),
) -> bytes:
    doc = docx.Document()
    props = doc.core_properties
    props.title = f"Declaration of {draft.declarant_name}"[:255]
    props.subject = (filing or draft.case_type)[:255]
    props.author = "declaration_assets"
    props.identifier = provenance.run_id[:255]
    props.content_status = status
    props.category = provenance.model_config_name[:255]
    props.version = provenance.prompt_version[:255]
    # Core properties hold at most 255 characters each; the full provenance is also the last paragraph.
    props.keywords = f"{provenance.case_id}; {provenance.model_config_name}; {provenance.prompt_version}"[:255]
    props.comments = (
        f"run {provenance.run_id}; model configuration {provenance.model_config_name}; routing file sha256 "
        f"{provenance.routing_file_sha256}; prompt {provenance.prompt_version}; {provenance.created_at}"
    )[:255]
    props.language = "en"
    if (created := _created(provenance)) is not None:
        props.created = created

    doc.add_heading(f"Declaration of {draft.declarant_name}", level=0)
    if filing:
        doc.add_paragraph().add_run(filing).italic = True
    if status != "READY":
        p = doc.add_paragraph()
        run = p.add_run(f"Status: {status}. This draft must not be filed until these are resolved:")
        run.bold = True
        run.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)
        for r in reasons:
            doc.add_paragraph(r, style="List Bullet")
    if review_notes:
        doc.add_paragraph().add_run(REVIEW_NOTES_TITLE).bold = True
        for note in review_notes:
            doc.add_paragraph(note, style="List Bullet")

    for section in numbered_sections(draft):
        if section.kind != "introduction":
            doc.add_heading(section.title, level=2)
        for _, text in section.paragraphs:
            doc.add_paragraph(text, style=NUMBERED_STYLE)

    doc.add_paragraph(ATTESTATION)
    for line in signature_lines(draft.declarant_name):
        doc.add_paragraph(line)

    if needs_translation_certificate(draft.language):
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        doc.add_heading(TRANSLATION_TITLE, level=2)
        text, blanks = translation_certificate(draft)
        doc.add_paragraph(text)
        for line in blanks:
            doc.add_paragraph(line)

    doc.add_heading("Exhibit List", level=2)
    for e in draft.exhibits:
        doc.add_paragraph(exhibit_line(e), style="List Bullet")
    notes = section_review_notes(draft)
    if notes:
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        doc.add_heading(REVIEW_NOTES_TITLE, level=2)
        for title, items in notes:
            doc.add_paragraph().add_run(title).bold = True
            for n in items:
                doc.add_paragraph(n, style="List Bullet")

    p = doc.add_paragraph()
    run = p.add_run(PROVENANCE_PREFIX + provenance.one_line())
    run.font.size = Pt(8)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
