"""What a filed declaration contains, independent of the file format: numbered paragraphs by section, the
exhibit list, the signature block and, for a declarant whose language is not English, a certificate of translation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..drafting.models import Draft, Exhibit
from ..text import language_name, translation_note


ATTESTATION = (
    "I declare under penalty of perjury under the laws of the United States of America that the foregoing "
    "is true and correct."
)
# The case record's problems the attorney must fix before filing (unreliable scans, unreadable files): shown
# above the declaration, not part of it.
RECORD_NOTES_TITLE = "Review notes on the case record (not part of the declaration):"
BLANK = "_" * 32
SHORT_BLANK = "_" * 16

TRANSLATION_TITLE = "Certificate of Translation"
TRANSLATION_TEXT = (
    "I, {blank}, certify that I am competent to translate from {language} into English, and that the "
    "foregoing declaration of {declarant} is a complete and accurate translation of what the declarant told me "
    "in {language}. I further certify that I read the entire declaration to the declarant in {language}, and "
    "that the declarant stated that the declarant understood it and agreed with its contents before signing it."
)
TRANSLATOR_LINES = (
    "Translator's signature: {blank}",
    "Translator's printed name: {blank}",
    "Address: {blank}",
    "Telephone: {short}",
    "Date: {short}",
)

# Closing paragraphs that the signature block replaces (the attestation and a signature line of the draft).
_SIGNATURE_LIKE = re.compile(r"penalty of perjury|_{4,}|^\W*signed\b|certificate of translation", re.I)


@dataclass(frozen=True)
class NumberedSection:
    title: str
    kind: str
    paragraphs: list[tuple[int, str]]  # (paragraph number, text); numbering runs through the whole declaration


def needs_translation_certificate(language: str) -> bool:
    return language.lower() not in ("en", "eng", "english")


def numbered_sections(draft: Draft) -> list[NumberedSection]:
    out: list[NumberedSection] = []
    n = 0
    for s in draft.sections:
        paras = [p.strip() for p in s.paragraphs if p.strip()]
        if s.kind == "closing":
            paras = [p for p in paras if not _SIGNATURE_LIKE.search(p) and p.strip(" *") != draft.declarant_name]
        numbered = []
        for p in paras:
            n += 1
            numbered.append((n, p))
        if numbered:
            out.append(NumberedSection(title=s.title, kind=s.kind, paragraphs=numbered))
    return out


def exhibit_line(e: Exhibit) -> str:
    pages = f"{e.pages} page" + ("s" if e.pages != 1 else "")
    note = translation_note(list(e.languages))
    return f"Exhibit {e.letter}: {e.title} ({e.document}, {pages})" + (f" ({note})" if note else "")


def signature_lines(declarant: str) -> list[str]:
    return [f"Signature: {BLANK}", f"Printed name: {declarant}", f"Date: {SHORT_BLANK}"]


def translation_certificate(draft: Draft) -> tuple[str, list[str]]:
    lang = language_name(draft.language)
    text = TRANSLATION_TEXT.format(blank=BLANK, language=lang, declarant=draft.declarant_name)
    return text, [line.format(blank=BLANK, short=SHORT_BLANK) for line in TRANSLATOR_LINES]


REVIEW_NOTES_TITLE = "Review Notes (for the attorney; not part of the declaration)"


def review_notes(draft: Draft) -> list[tuple[str, list[str]]]:
    """(section title, notes) for every section with drafting notes: sentences dropped with their reasons, kept
    but unverified, citations removed. Empty when drafting left nothing to review."""
    return [(s.title, list(s.review_notes)) for s in draft.sections if getattr(s, "review_notes", None)]
