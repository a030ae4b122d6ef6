"""Chunks that follow a document's structure: a heading starts a chunk, paragraphs are never cut unless one
alone exceeds the size limit (then at sentence ends), and every chunk stays on one page so it can be cited.

Hand-written rather than taken from a text-splitting library: those split flat strings, while a chunk here
must keep its page and exact character span in that page's text (the provenance a citation needs), and must
know the heading it sits under, across page breaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..extraction.models import ExtractedCase, PageText
from .models import Chunk

# all-MiniLM-L6-v2 reads at most 256 word pieces (~1,000 characters of English, fewer for Spanish or
# numbers); 800 characters keeps a chunk, with its heading prepended, inside that window.
DEFAULT_MAX_CHARS = 800
MAX_HEADING_CHARS = 90
MAX_HEADING_WORDS = 12

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”')\]]*\s+(?=[\"“(\[¿¡]?[A-ZÁÉÍÓÚÑ0-9])")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    heading: bool


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each paragraph (separated by blank lines), surrounding whitespace excluded."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = m.start() if m else len(text)
        seg = text[pos:end]
        stripped = seg.strip()
        if stripped:
            lead = len(seg) - len(seg.lstrip())
            spans.append((pos + lead, pos + lead + len(stripped)))
        if m:
            pos = m.end()
    return spans


def is_heading(paragraph: str) -> bool:
    """A short title-like line: starts with a capital letter, few words, no sentence or field punctuation.

    Works on OCR'd pages too, where no font information is left.
    """
    p = paragraph.strip()
    if not p or "\n" in p or len(p) > MAX_HEADING_CHARS or len(p.split()) > MAX_HEADING_WORDS:
        return False
    if not (p[0].isupper() or p[0].isdigit() and re.match(r"^\d+(\.\d+)*\.?\s+[A-ZÁÉÍÓÚÑ]", p)):
        return False
    if p[-1] in ".,;:!?" or ": " in p or " | " in p or p.startswith("- "):
        return False
    if p.count("(") != p.count(")"):  # the tail of a wrapped line (OCR), not a title
        return False
    # A heading has letters; "2019-0619842" is not a heading.
    return sum(ch.isalpha() for ch in p) >= max(3, len(p) // 3)


def split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut text[start:end] into pieces of at most max_chars, at sentence ends where possible, else at spaces."""
    pieces: list[tuple[int, int]] = []
    s = start
    while end - s > max_chars:
        window = text[s : s + max_chars + 1]
        cut = None
        for m in _SENTENCE_END.finditer(window):
            if m.start() > max_chars // 3:
                cut = m.start()
        if cut is None:
            space = window.rfind(" ", max_chars // 3)
            cut = space if space > 0 else max_chars
        piece_end = s + cut
        pieces.append((s, piece_end))
        s = piece_end
        while s < end and text[s].isspace():
            s += 1
    if s < end:
        pieces.append((s, end))
    return pieces


def chunk_page(
    page: PageText, exhibit: str, carried_heading: str | None, max_chars: int = DEFAULT_MAX_CHARS
) -> tuple[list[Chunk], str | None]:
    """Chunks of one page, and the heading in force at its end (carried to the next page of the document)."""
    text = page.text
    spans = [Span(a, b, is_heading(text[a:b])) for a, b in paragraph_spans(text)]
    groups: list[tuple[int, int, str | None]] = []
    heading = carried_heading
    cur_start: int | None = None
    cur_end = 0
    cur_heading = heading
    cur_only_headings = False

    def flush() -> None:
        nonlocal cur_start
        if cur_start is not None:
            groups.append((cur_start, cur_end, cur_heading))
        cur_start = None

    for span in spans:
        if span.heading:
            # Consecutive headings ("POLICE DEPARTMENT" / "INCIDENT REPORT") stay together with what follows.
            if not (cur_start is not None and cur_only_headings and span.end - cur_start <= max_chars):
                flush()
                cur_start, cur_only_headings = span.start, True
            cur_end = span.end
            heading = text[span.start : span.end]
            cur_heading = heading
            continue
        length = span.end - span.start
        if cur_start is not None and span.end - cur_start <= max_chars:
            cur_end = span.end
            cur_only_headings = False
            continue
        if cur_start is not None and cur_only_headings and length > max_chars:
            # Heading(s) + an oversized paragraph: the first piece keeps the heading(s) with it.
            budget = max(max_chars - (span.start - cur_start), max_chars // 3)
            first_end = split_long(text, span.start, span.end, budget)[0][1]
            groups.append((cur_start, first_end, cur_heading))
            cur_start = None
            rest = first_end
            while rest < span.end and text[rest].isspace():
                rest += 1
            if rest < span.end:
                groups.extend((a, b, heading) for a, b in split_long(text, rest, span.end, max_chars))
            continue
        flush()
        if length > max_chars:
            groups.extend((a, b, heading) for a, b in split_long(text, span.start, span.end, max_chars))
        else:
            cur_start, cur_end, cur_heading, cur_only_headings = span.start, span.end, heading, False
    flush()

    chunks = [
        Chunk(
            chunk_id=f"{exhibit}-p{page.page}-{n}",
            document=page.document,
            exhibit=exhibit,
            page=page.page,
            start=a,
            end=b,
            heading=h,
            text=text[a:b],
        )
        for n, (a, b, h) in enumerate(groups)
    ]
    return chunks, heading


def iter_chunks(case: ExtractedCase, max_chars: int = DEFAULT_MAX_CHARS) -> Iterator[Chunk]:
    """Every chunk of the case in document and page order."""
    for doc in case.documents:
        heading: str | None = None
        for page in sorted(case.pages_of(doc.name), key=lambda p: p.page):
            chunks, heading = chunk_page(page, doc.exhibit, heading, max_chars)
            yield from chunks


def chunk_case(case: ExtractedCase, max_chars: int = DEFAULT_MAX_CHARS) -> list[Chunk]:
    if max_chars < 100:
        raise ValueError("max_chars must be at least 100")
    return list(iter_chunks(case, max_chars))
