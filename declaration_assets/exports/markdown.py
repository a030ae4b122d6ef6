"""The declaration as Markdown: provenance front matter, status, numbered paragraphs, exhibits, signature block."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..drafting.models import Draft
from .layout import (
    ATTESTATION,
    REVIEW_NOTES_TITLE,
    TRANSLATION_TITLE,
    exhibit_line,
    needs_translation_certificate,
    numbered_sections,
    review_notes as section_review_notes,
    signature_lines,
    translation_certificate,
)
from .provenance import Provenance


def _front_matter(provenance: Provenance, status: str) -> list[str]:
    # JSON scalars are valid YAML: values with colons or quotes stay unambiguous.
    lines = ["---"]
    for key, value in (
        ("title", "Declaration"),
        ("status", status),
        ("case_id", provenance.case_id),
        ("model_config", provenance.model_config_name),
        ("run_id", provenance.run_id),
        ("routing_file", provenance.routing_file),
        ("routing_file_sha256", provenance.routing_file_sha256),
        ("prompt_version", provenance.prompt_version),
        ("date", provenance.created_at),
        ("version", provenance.version or ""),
    ):
        lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    lines.append("---")
    return lines


def render_markdown(
    draft: Draft, *, status: str, reasons: list[str], provenance: Provenance, filing: str | None = None,
    review_notes: Sequence[str] = (),
) -> str:
    lines = _front_matter(provenance, status) + ["", f"# Declaration of {draft.declarant_name}", ""]
    if filing:
        lines += [f"*{filing}*", ""]
    if status != "READY":
        lines += [f"> **Status: {status}.** This draft must not be filed until these are resolved:"]
        lines += [f"> - {r}" for r in reasons] + [""]
    if review_notes:
        lines += [f"> **{REVIEW_NOTES_TITLE}**"] + [f"> - {n}" for n in review_notes] + [""]
    for section in numbered_sections(draft):
        if section.kind != "introduction":
            lines += [f"## {section.title}", ""]
        for n, text in section.paragraphs:
            lines += [f"{n}. {text}", ""]
    lines += [ATTESTATION, ""]
    lines += [line + "  " for line in signature_lines(draft.declarant_name)] + [""]
    if needs_translation_certificate(draft.language):
        text, blanks = translation_certificate(draft)
        lines += [f"## {TRANSLATION_TITLE}", "", text, ""] + [b + "  " for b in blanks] + [""]
    lines += ["## Exhibit List", ""] + [f"- {exhibit_line(e)}" for e in draft.exhibits] + [""]
    notes = section_review_notes(draft)
    if notes:
        lines += ["---", "", f"## {REVIEW_NOTES_TITLE}", ""]
        for title, items in notes:
            lines += [f"**{title}**", ""] + [f"- {n}" for n in items] + [""]
    lines += ["---", "", f"<small>Provenance: {provenance.one_line()}</small>", ""]
    return "\n".join(lines)
