"""Chunking follows headings and paragraphs, stays on one page, and keeps exact character spans."""

from __future__ import annotations

import pytest

from declaration_assets.extraction.models import DocumentInfo, ExtractedCase, PageText
from declaration_assets.retrieval.chunking import chunk_case, chunk_page, is_heading, paragraph_spans, split_long


def _page(text: str, page: int = 1, document: str = "doc.pdf") -> PageText:
    return PageText(document=document, page=page, method="text", language="en", text=text)


def _case(*pages: PageText) -> ExtractedCase:
    names = list(dict.fromkeys(p.document for p in pages))
    docs = [
        DocumentInfo(name=n, title=n, pages=sum(p.document == n for p in pages), exhibit=chr(65 + i))
        for i, n in enumerate(names)
    ]
    return ExtractedCase(case_id="vawa-0009", documents=docs, pages=list(pages), failures=[])


def test_paragraph_spans_are_exact() -> None:
    text = "  First para\nline two\n\n\nSecond para  \n \nThird"
    spans = paragraph_spans(text)
    assert [text[a:b] for a, b in spans] == ["First para\nline two", "Second para", "Third"]


@pytest.mark.parametrize(
    ("text", "heading"),
    [
        ("Part 3. The relationship and the marriage", True),
        ("INCIDENT REPORT — FAMILY VIOLENCE", True),
        ("Officer's narrative", True),
        ("Notas de la entrevista", True),
        ("License No.: 2019-0619842 | Volume: 412", False),
        ("We married on September 14, 2019.", False),
        ("- Full name: Ricardo Antonio", False),
        ("2019-0619842", False),
        ("Apartments, Building 14, second floor)", False),
        ("the lower-case start of a wrapped line", False),
    ],
)
def test_is_heading(text: str, heading: bool) -> None:
    assert is_heading(text) is heading


def test_headings_start_chunks_and_spans_match_the_page() -> None:
    text = (
        "Marriage Certificate\n\nJohn and Ana married on June 5, 2018 in Dallas.\n\n"
        "Officiant\n\nJudge Helen Brooks performed the ceremony.\n\nWitnesses were present."
    )
    chunks, last = chunk_page(_page(text), "B", None, max_chars=800)
    assert [c.text for c in chunks] == [
        "Marriage Certificate\n\nJohn and Ana married on June 5, 2018 in Dallas.",
        "Officiant\n\nJudge Helen Brooks performed the ceremony.\n\nWitnesses were present.",
    ]
    assert [c.heading for c in chunks] == ["Marriage Certificate", "Officiant"]
    assert last == "Officiant"
    for c in chunks:
        assert text[c.start : c.end] == c.text
    assert [c.chunk_id for c in chunks] == ["B-p1-0", "B-p1-1"]
    assert chunks[0].citation() == "[Ex. B, p. 1]"


def test_paragraphs_pack_up_to_the_limit_and_long_ones_split_at_sentences() -> None:
    sentence = "She said he took her passport and kept it locked in a drawer. "
    long_para = (sentence * 30).strip()
    text = f"Statement\n\n{long_para}\n\nShort closing line."
    chunks, _ = chunk_page(_page(text), "A", None, max_chars=300)
    assert len(chunks) > 3
    assert all(len(c.text) <= 300 for c in chunks)
    # Pieces of the long paragraph end at sentence ends, and nothing is lost or duplicated.
    assert all(c.text.endswith(".") for c in chunks)
    assert "".join(c.text.replace("\n\n", " ") for c in chunks).count("passport") == 30
    assert chunks[0].text.startswith("Statement\n\n")
    assert {c.heading for c in chunks} == {"Statement"}


def test_split_long_cuts_at_spaces_without_sentence_ends() -> None:
    text = "word " * 100
    pieces = split_long(text, 0, len(text.rstrip()), 120)
    assert all(b - a <= 120 for a, b in pieces)
    assert " ".join(text[a:b].strip() for a, b in pieces).split() == text.split()


def test_heading_carries_over_to_the_next_page_of_the_same_document_only() -> None:
    p1 = _page("Part 4. History of abuse\n\nHe first hit me in 2021.", page=1)
    p2 = _page("He hit me again in 2022 and broke my phone.", page=2)
    other = _page("Nothing of note here on the lease page.", page=1, document="lease.pdf")
    chunks = chunk_case(_case(p1, p2, other))
    by_id = {c.chunk_id: c for c in chunks}
    assert by_id["A-p2-0"].heading == "Part 4. History of abuse"
    assert by_id["A-p2-0"].page == 2
    assert by_id["B-p1-0"].heading is None
    assert by_id["B-p1-0"].document == "lease.pdf"
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_empty_pages_give_no_chunks_and_tiny_limits_are_refused() -> None:
    assert chunk_case(_case(_page(""))) == []
    with pytest.raises(ValueError):
        chunk_case(_case(_page("text")), max_chars=10)
