"""Exhibits and citations: the exhibit list from the extracted documents, and citation labels in a model's answer
made canonical (`[Ex. B, p. 2]`) and checked against the pages that exist."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..extraction.models import DocumentInfo
from ..text import CITATION_RE
from .models import Citation, Exhibit

# ---------------------------------------------------------------------------------------------------------------
# Exhibits




def _letter_key(letter: str) -> tuple[int, str]:
    return (len(letter), letter)


def build_exhibits(documents: Sequence[DocumentInfo]) -> list[Exhibit]:
    """The exhibit list, in exhibit order, from the extracted documents (which carry their letters)."""
    ordered = sorted(documents, key=lambda d: _letter_key(d.exhibit))
    return [Exhibit(letter=d.exhibit, document=d.name, title=d.title, pages=d.pages, languages=d.languages)
            for d in ordered]


def lettering_problems(documents: Sequence[DocumentInfo]) -> list[str]:
    """Where two documents share a letter or a letter is malformed (empty when consistent).

    Letters come from the case's exhibit ledger (`extraction/letters.py`): assigned once, so a fixed or added
    document keeps or gets its own letter and file order no longer decides them.
    """
    problems = []
    holders: dict[str, list[str]] = {}
    for d in sorted(documents, key=lambda d: d.name):
        if not re.fullmatch(r"[A-Z]{1,3}", d.exhibit or ""):
            problems.append(f"{d.name}: exhibit letter {d.exhibit!r} is not a letter")
        holders.setdefault(d.exhibit, []).append(d.name)
    problems += [f"exhibit {letter} is held by {', '.join(names)}" for letter, names in holders.items() if len(names) > 1]
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Citations

# Lenient on input (the model writes "(Exhibit B, page 2)", "[Ex B p.2]", "Ex. B, pp. 2-3"), canonical on output.
_CITATION_RE = re.compile(
    r"[\[(]?\s*\b(?:Ex(?:h(?:ibit)?)?|Exh)\.?\s*([A-Z]{1,2})\b\s*[,;:]?\s*"
    r"(?:p(?:p|g|age|ages)?\.?)\s*(\d{1,4})(?:\s*[-\u2013]\s*(\d{1,4}))?\s*[\])]?"
)
_CANONICAL_RE = CITATION_RE
MAX_RANGE_PAGES = 5


def normalize_citations(text: str) -> str:
    """Rewrite every citation variant as `[Ex. B, p. 2]`; a page range becomes one citation per page."""

    def repl(m: re.Match[str]) -> str:
        letter, first = m.group(1), int(m.group(2))
        last = int(m.group(3)) if m.group(3) else first
        if last < first or last - first >= MAX_RANGE_PAGES:
            last = first
        return " " + " ".join(Citation(exhibit=letter, page=p).label() for p in range(first, last + 1)) + " "

    out = _CITATION_RE.sub(repl, text)
    # A grouped label "[Ex. A, p. 2; Ex. F, p. 1]" leaves "; " between the canonical labels it becomes.
    out = re.sub(r"(\[Ex\. [A-Z]{1,2}, p\. \d{1,4}\])\s*;\s*(?=\[Ex\. )", r"\1 ", out)
    out = re.sub(r"[ \t]+([.,;:!?])", r"\1", out)
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def parse_citations(text: str) -> list[Citation]:
    """Canonical citations in `text`, in order of appearance (call `normalize_citations` first)."""
    return [Citation(exhibit=m.group(1), page=int(m.group(2))) for m in _CANONICAL_RE.finditer(text)]


def existing_citations(exhibits: Iterable[Exhibit]) -> set[Citation]:
    return {Citation(exhibit=e.letter, page=p) for e in exhibits for p in range(1, e.pages + 1)}
