"""What retrieval put in front of the drafter, and how much of what a reference declaration cites that is.

- `evidence_coverage`: per legal element, which documents and pages its passages came from (the draft's metadata).
- `cited_pages` / `reference_pages_by_element`: the pages a declaration cites ("[Ex. B, p. 2]",
  "[Ex. A, p. 4; Ex. E, p. 2]", "[Ex. C, pp. 1-3]"), per section titled by a legal element.
- `page_recall`: the share of the cited pages that retrieval reached (the retrieval benchmark and the fidelity
  benchmark print it).

Pure functions over the chunk index and Markdown text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from ..requirements.models import CaseRequirements
from .models import ChunkIndex

Page = tuple[str, int]  # (exhibit letter, page number)

_BRACKET = re.compile(r"\[([^\[\]]*\bEx\.[^\[\]]*)\]")
_PAGE_REF = re.compile(r"\bEx\.\s*([A-Z]{1,2})\s*,\s*pp?\.\s*(\d+)(?:\s*[-–]\s*(\d+))?")
_SECTION = re.compile(r"^##\s+(.+?)\s*$", re.M)
_CHUNK_ID = re.compile(r"^([A-Z]{1,2})-p(\d+)-\d+$")


class CoveredDocument(BaseModel):
    """One document that reached the drafter for an element: which of its pages, through how many passages."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    exhibit: str
    document: str
    pages: list[int]
    passages: int


def evidence_coverage(
    evidence: Mapping[str, Sequence[str]], index: ChunkIndex
) -> dict[str, list[CoveredDocument]]:
    """Per element id, the documents (in exhibit order) and pages that its passages (chunk ids) came from.

    A chunk id the index does not hold (an index rebuilt since the draft) is still placed by its id
    ('B-p2-0' -> Ex. B, p. 2) under the document name '?'.
    """
    chunks = {c.chunk_id: c for c in index.chunks}
    out: dict[str, list[CoveredDocument]] = {}
    for element_id, chunk_ids in evidence.items():
        by_doc: dict[tuple[str, str], tuple[set[int], int]] = {}
        for cid in chunk_ids:
            chunk = chunks.get(cid)
            if chunk is not None:
                key, page = (chunk.exhibit, chunk.document), chunk.page
            elif m := _CHUNK_ID.match(cid):
                key, page = (m.group(1), "?"), int(m.group(2))
            else:
                continue
            pages, n = by_doc.get(key, (set(), 0))
            by_doc[key] = (pages | {page}, n + 1)
        out[element_id] = [
            CoveredDocument(exhibit=ex, document=doc, pages=sorted(pages), passages=n)
            for (ex, doc), (pages, n) in sorted(by_doc.items(), key=lambda kv: (len(kv[0][0]), kv[0][0]))
        ]
    return out


def coverage_pages(coverage: Sequence[CoveredDocument]) -> set[Page]:
    return {(d.exhibit, p) for d in coverage for p in d.pages}


def coverage_summary(coverage: Mapping[str, Sequence[CoveredDocument]]) -> dict[str, str]:
    """One line per element for a metadata view: 'A pp. 1, 3; C p. 2' (or 'none')."""
    def one(d: CoveredDocument) -> str:
        return f"{d.exhibit} {'p.' if len(d.pages) == 1 else 'pp.'} {', '.join(map(str, d.pages))}"

    return {eid: "; ".join(one(d) for d in docs) or "none" for eid, docs in coverage.items()}


def cited_pages(text: str) -> set[Page]:
    """Every (exhibit, page) a text cites; a page range counts each page."""
    out: set[Page] = set()
    for bracket in _BRACKET.finditer(text):
        for m in _PAGE_REF.finditer(bracket.group(1)):
            first = int(m.group(2))
            last = int(m.group(3)) if m.group(3) else first
            out |= {(m.group(1), p) for p in range(first, max(first, last) + 1)}
    return out


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def markdown_sections(md: str) -> list[tuple[str, str]]:
    """(title, body) of each `## Title` section."""
    parts = _SECTION.split(md)
    return [(title, body) for title, body in zip(parts[1::2], parts[2::2])]


def reference_pages_by_element(md: str, requirements: CaseRequirements) -> dict[str, set[Page]]:
    """Per element id, the pages cited in the reference section titled like the element (case and accents
    ignored); an element with no such section maps to an empty set."""
    by_title = {_fold(e.title): e.id for e in requirements.elements}
    out: dict[str, set[Page]] = {e.id: set() for e in requirements.elements}
    for title, body in markdown_sections(md):
        element_id = by_title.get(_fold(title))
        if element_id is not None:
            out[element_id] |= cited_pages(body)
    return out


def page_recall(reached: Iterable[Page], cited: Iterable[Page]) -> float | None:
    """Share of the `cited` pages among the `reached` ones; None when nothing is cited."""
    cited_set = set(cited)
    if not cited_set:
        return None
    return len(cited_set & set(reached)) / len(cited_set)
