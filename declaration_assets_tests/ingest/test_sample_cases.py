"""The shipped sample cases: OCR of the scanned pages, the Spanish interview notes, element-style retrieval."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import yaml

from declaration_assets import settings
from declaration_assets.extraction.models import ExtractedCase
from declaration_assets.retrieval.embeddings import Embedder
from declaration_assets.retrieval.index import retrieve
from declaration_assets.retrieval.models import ChunkIndex

SOURCES = settings.current().data_dir / "case_sources"
# Facts a declaration cites from a scan: phone numbers, dates, case numbers, amounts, other numbers.
FACT = re.compile(r"\(\d{3}\) \d{3}-\d{4}|\b\d{1,2}/\d{1,2}/\d{4}\b|\b\d{2}-\d{6}\b|\$[\d,]+|\b\d{3,}\b")


def scanned_source_pages(case_id: str) -> list[tuple[str, int, str]]:
    """(pdf name, page, source text) of every page the renderer turned into an image."""
    out = []
    for md in sorted((SOURCES / case_id).glob("*.md")):
        raw = md.read_text(encoding="utf-8")
        m = re.match(r"^---\n(.*?)\n---\n", raw, re.S)
        meta = yaml.safe_load(m.group(1)) if m else {}
        if not meta or not meta.get("scanned"):
            continue
        body = raw[m.end() :] if m else raw
        pages = [p for p in re.split(r"^<!-- page -->\s*$", body, flags=re.M) if p.strip()]
        wanted = set(meta.get("scanned_pages") or range(1, len(pages) + 1))
        out += [(f"{md.stem}.pdf", i, text) for i, text in enumerate(pages, start=1) if i in wanted]
    return out


@pytest.mark.parametrize("case_id", ["vawa-0001", "vawa-0002", "tvisa-0001"])
def test_scanned_pages_are_ocrd_with_their_facts(case_id: str, sample_case: Callable[[str], ExtractedCase]) -> None:
    scans = scanned_source_pages(case_id)
    if not scans:
        pytest.skip(f"{case_id} has no scanned page")
    case = sample_case(case_id)
    ocr_pages = {(p.document, p.page) for p in case.ocr_pages}
    assert ocr_pages == {(doc, page) for doc, page, _ in scans}
    for doc, page, source in scans:
        text = case.page_text(doc, page)
        assert text is not None
        flat = " ".join(text.split())
        facts = set(FACT.findall(source))
        found = {f for f in facts if f in flat}
        assert len(found) >= 0.9 * len(facts), f"{doc} p.{page}: OCR missed {sorted(facts - found)}"
        words = re.findall(r"\w+", re.sub(r"[*#]", " ", source).lower())
        ocr_words = set(re.findall(r"\w+", text.lower()))
        recall = sum(w in ocr_words for w in words) / len(words)
        assert recall >= 0.97, f"{doc} p.{page}: only {recall:.1%} of the words were recognised"


def test_text_layer_pages_are_not_ocrd(sample_case: Callable[[str], ExtractedCase]) -> None:
    case = sample_case("vawa-0001")
    scanned = {(d, p) for d, p, _ in scanned_source_pages("vawa-0001")}
    assert all(p.method == "text" for p in case.pages if (p.document, p.page) not in scanned)
    assert case.failures == []
    assert [d.exhibit for d in case.documents] == [chr(65 + i) for i in range(len(case.documents))]


def test_spanish_interview_notes_are_detected(sample_case: Callable[[str], ExtractedCase]) -> None:
    case = sample_case("vawa-0002")
    notes = [p for p in case.pages if p.document.startswith("01-notas")]
    assert notes and all(p.language == "es" for p in notes)
    assert "esposo" in " ".join(p.text for p in notes).lower()
    others = [p for p in case.pages if not p.document.startswith("01-notas") and p.text.strip()]
    assert sum(p.language == "en" for p in others) >= 0.9 * len(others)


# (query, document expected among the top `n` chunks)
RETRIEVAL = {
    "vawa-0001": [
        ("date of marriage", "02-marriage-certificate", 3),
        # Her intake answer about his naturalization may rank first (her own account is favoured); the certificate next.
        ("abuser is a U.S. citizen naturalization", "03-naturalization-certificate", 2),
        ("police report of the assault", "06-police-incident-report", 1),
        ("lived together at the same address lease", "04-residential-lease", 1),
        ("joint bank account", "05-joint-bank-statements", 1),
        ("protective order", "07-protective-order", 1),
    ],
    "vawa-0002": [
        ("date of marriage", "02-marriage-certificate", 1),
        ("abuser's lawful permanent resident status", "03-lpr-status-and-i130-notices", 1),
        ("police report of the assault", "05-police-report", 1),
        ("medical treatment of injuries", "04-medical-record", 1),
        ("protective order", "06-protective-order", 1),
        ("violencia y maltrato del esposo", "01-notas-de-entrevista", 1),
    ],
    "tvisa-0001": [
        ("recruitment fee and debt owed to the recruiter", "02-recruitment-contract", 1),
        ("law enforcement certification Supplement B cooperation with HSI", "05-hsi-supplement-b", 1),
        ("arrival in the United States on an H-2B visa I-94", "03-i94-and-visa-record", 1),
        ("wage deductions and debt ledger", "04-pay-stubs-and-debt-ledger", 1),
        ("psychological harm if returned to the Philippines", "07-psychological-evaluation", 1),
        ("shelter and services after escape", "06-ngo-shelter-letter", 1),
    ],
}


@pytest.mark.parametrize(
    ("case_id", "query", "document", "top_n"),
    [(case_id, *row) for case_id, rows in RETRIEVAL.items() for row in rows],
)
def test_retrieval_finds_the_evidence(
    case_id: str,
    query: str,
    document: str,
    top_n: int,
    sample_case: Callable[[str], ExtractedCase],
    sample_index: Callable[[str], ChunkIndex],
    embedder: Embedder,
) -> None:
    case = sample_case(case_id)
    hits = retrieve(sample_index(case_id), embedder, query, k=6)
    assert len(hits) == 6
    top_docs = [h.chunk.document for h in hits[:top_n]]
    assert f"{document}.pdf" in top_docs, f"{query!r}: top {top_n} were {top_docs}"
    for h in hits:  # provenance: the span is the chunk's exact place on its page; the exhibit is the document's
        assert case.page_text(h.chunk.document, h.chunk.page)[h.chunk.start : h.chunk.end] == h.chunk.text
        assert case.exhibit_of(h.chunk.document) == h.chunk.exhibit
