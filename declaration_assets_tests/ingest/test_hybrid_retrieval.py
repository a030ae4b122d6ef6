"""Hybrid retrieval (dense + BM25, fused by reciprocal rank), element queries in the declarant's language,
coverage of what reached the drafter, and recall of the pages a reference declaration cites."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from declaration_assets import settings
from declaration_assets.drafting.evidence import gather_evidence
from declaration_assets.extraction.models import DocumentInfo, ExtractedCase, PageText
from declaration_assets.requirements import load_requirements
from declaration_assets.retrieval.coverage import (
    cited_pages,
    coverage_pages,
    coverage_summary,
    evidence_coverage,
    page_recall,
    reference_pages_by_element,
)
from declaration_assets.retrieval.embeddings import Embedder
from declaration_assets.retrieval.hybrid import reciprocal_rank_fusion
from declaration_assets.retrieval.index import build_chunk_index, query_search, retrieve, retrieve_many
from declaration_assets.retrieval.lexical import LexicalIndex, fold, tokenize
from declaration_assets.retrieval.models import ChunkIndex

# --- fusion -----------------------------------------------------------------------------------------------------


def test_reciprocal_rank_fusion_order():
    # 1: 1/61 + 1/62; 3: 1/63 + 1/61; 2: 1/62 (k = 60)
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]])
    assert [i for i, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    # An item one ranking misses still enters through the other.
    assert [i for i, _ in reciprocal_rank_fusion([[5, 6], [7]])] == [5, 7, 6]
    # Equal fused scores: the better best rank first, then the lower item (document order).
    assert [i for i, _ in reciprocal_rank_fusion([[4, 9], [9, 4]])] == [4, 9]
    assert [i for i, _ in reciprocal_rank_fusion([[8], [2]])] == [2, 8]
    assert reciprocal_rank_fusion([]) == []
    # A ranking's weight scales its contributions: a light second ranking only settles close calls.
    assert [i for i, _ in reciprocal_rank_fusion([[1, 2], [2]], weights=[1.0, 0.1])] == [2, 1]
    # 0.1 / 61 is worth about seven places near the top: the tenth of one ranking moves up to third.
    assert [i for i, _ in reciprocal_rank_fusion([list(range(1, 11)), [10]], weights=[1.0, 0.1])] == [
        1, 2, 10, 3, 4, 5, 6, 7, 8, 9]


# --- lexical ----------------------------------------------------------------------------------------------------


def test_tokens_are_folded_stemmed_and_stopword_free():
    assert fold("María Policía ÑANDÚ") == "maria policia nandu"
    assert tokenize("La policía llegó y lo arrestaron", "es") == tokenize("POLICIA llego arrestaron", "es")
    assert "la" not in tokenize("la policía", "es") and "the" not in tokenize("the police", "en")
    assert tokenize("golpes", "es") == tokenize("golpe", "es")
    assert tokenize("threatened", "en") == tokenize("threatening", "en")


SPANISH_NOTES = (
    "Noche del 14 de enero: el esposo la arrinconó contra la pared del pasillo y la apretó del cuello con las dos "
    "manos. Ella dice que no podía respirar y que pensó que se iba a morir."
)
ENGLISH_PAGES = [
    ("marriage.pdf", "Marriage Certificate\n\nThis certifies that the parties were joined in marriage on June 18, "
                     "2016 in Harris County, Texas."),
    ("police.pdf", "Incident Report\n\nOfficers responded to a disturbance call. The suspect was arrested for "
                   "assault family violence. The victim had red marks on her neck."),
    ("lease.pdf", "Residential Lease\n\nTenants: both spouses. Apartment 14B, 2210 Red Bluff Rd, Pasadena, TX."),
    ("bank.pdf", "Joint Bank Statement\n\nAccount holders: husband and wife. Deposits and withdrawals for March."),
    ("letters.pdf", "Letter of Support\n\nI have known the family from church for six years; she is honest."),
    ("medical.pdf", "Clinic Record\n\nPatient reports wrist pain after a fall. X-ray ordered. Follow-up in two weeks."),
]


def small_case() -> ExtractedCase:
    docs = [("notas-de-entrevista.pdf", SPANISH_NOTES, "es"), *[(n, t, "en") for n, t in ENGLISH_PAGES]]
    return ExtractedCase(
        case_id="vawa-0099",
        documents=[DocumentInfo(name=n, title=n.rsplit(".", 1)[0], pages=1, exhibit=chr(ord("A") + i))
                   for i, (n, _, _) in enumerate(docs)],
        pages=[PageText(document=n, page=1, method="text", language=lang, text=t) for n, t, lang in docs],
    )


@pytest.fixture(scope="module")
def small_index(embedder: Embedder) -> ChunkIndex:
    return build_chunk_index(small_case(), embedder)[0]


def test_bm25_finds_the_spanish_passage_that_dense_retrieval_misses(small_index, embedder):
    # An English query about her own account: the English-only embedder ranks English pages first.
    query = "he choked me by the neck and I could not breathe"
    dense = retrieve(small_index, embedder, query, k=2, mode="dense")
    assert all(sc.chunk.exhibit != "A" for sc in dense)
    # The same fact asked in her language: BM25 ranks the Spanish notes first, and the fusion keeps them.
    spanish = "me apretó el cuello no podía respirar"
    lexical = retrieve(small_index, embedder, spanish, k=1, mode="lexical")
    assert lexical[0].chunk.exhibit == "A" and lexical[0].lexical_score > 0
    hybrid = retrieve(small_index, embedder, spanish, k=2)
    assert "A" in {sc.chunk.exhibit for sc in hybrid}
    a = next(sc for sc in hybrid if sc.chunk.exhibit == "A")
    assert a.lexical_score is not None and a.dense_score is not None  # both rankings contributed
    # Accents and case do not matter to the lexical side.
    folded = retrieve(small_index, embedder, "APRETO EL CUELLO, NO PODIA RESPIRAR", k=1, mode="lexical")
    assert folded[0].chunk.exhibit == "A"


def test_query_search_batches_and_matches_retrieve(small_index, embedder):
    queries = ["me apretó el cuello", "marriage certificate"]
    search = query_search(small_index, embedder, queries, 3)
    for q in [*queries, "a query that was not embedded up front"]:
        assert [c.chunk.chunk_id for c in search(q)] == [c.chunk.chunk_id for c in retrieve(small_index, embedder, q, 3)]
    with pytest.raises(ValueError, match="empty retrieval query"):
        search("  ")
    with pytest.raises(ValueError, match="unknown search mode"):
        retrieve(small_index, embedder, "x", mode="fuzzy")  # type: ignore[arg-type]
    many = retrieve_many(small_index, embedder, queries, k=2)
    assert {c.chunk.exhibit for c in many} == {"A", "B"}


def test_her_own_account_is_recognised_and_favoured_in_close_calls(small_index, embedder):
    from declaration_assets.retrieval import hybrid
    from declaration_assets.retrieval.lexical import own_account_documents

    assert own_account_documents(small_index.chunks) == {"notas-de-entrevista.pdf"}
    assert small_index.lexical().own_account == frozenset({0})
    query = "neck"  # the police report says "neck"; her notes say "cuello": the report wins on its own
    without = retrieve(small_index, embedder, query, k=len(small_index.chunks))
    ranks = {sc.chunk.exhibit: sc.rank for sc in without}
    assert ranks["C"] == 1
    original = hybrid.OWN_ACCOUNT_WEIGHT
    try:
        hybrid.OWN_ACCOUNT_WEIGHT = 0.0
        plain = {sc.chunk.exhibit: sc.score for sc in retrieve(small_index, embedder, query, k=7)}
    finally:
        hybrid.OWN_ACCOUNT_WEIGHT = original
    boosted = {sc.chunk.exhibit: sc.score for sc in without}
    assert boosted["A"] == pytest.approx(plain["A"] + original / (60 + 1))  # her only passage ranks first among hers
    assert all(boosted[x] == pytest.approx(plain[x]) for x in plain if x != "A")


def test_lexical_index_is_rebuilt_from_persisted_chunks(small_index):
    import pickle

    small_index.lexical()
    restored = pickle.loads(pickle.dumps(small_index))
    assert restored == small_index and restored._lexical is None  # never pickled
    assert restored.lexical().rank("pasaporte cuello", 1)[0][0] == 0
    assert LexicalIndex([]).rank("anything", 3) == []


# --- coverage and recall -------------------------------------------------------------------------------------------


def test_coverage_lists_documents_and_pages_per_element(small_index):
    ids = [c.chunk_id for c in small_index.chunks]
    cov = evidence_coverage({"abuse": [ids[0], ids[2], "Z-p3-0"], "joint_residence": []}, small_index)
    assert [(d.exhibit, d.document, d.pages, d.passages) for d in cov["abuse"]] == [
        ("A", "notas-de-entrevista.pdf", [1], 1), ("C", "police.pdf", [1], 1), ("Z", "?", [3], 1)]
    assert cov["joint_residence"] == []
    assert coverage_pages(cov["abuse"]) == {("A", 1), ("C", 1), ("Z", 3)}
    assert coverage_summary(cov) == {"abuse": "A p. 1; C p. 1; Z p. 3", "joint_residence": "none"}


def test_cited_pages_and_recall():
    text = "He hit me [Ex. A, p. 4; Ex. E, p. 2]. The lease [Ex. G, pp. 1-3] and [Ex. A, p. 4]. Not [Exhibit list]."
    assert cited_pages(text) == {("A", 4), ("E", 2), ("G", 1), ("G", 2), ("G", 3)}
    assert page_recall({("A", 4), ("Q", 1)}, {("A", 4), ("E", 2)}) == 0.5
    assert page_recall({("A", 4)}, set()) is None
    md = ("# Declaration\n\nIntro [Ex. H, p. 1].\n\n## Battery or Extreme Cruelty\n\nHe hit me [Ex. A, p. 2].\n\n"
          "## Residence with the Abuser\n\nWe lived [Ex. G, p. 1].\n\n## Exhibit List\n\n[Ex. B, p. 1]\n")
    pages = reference_pages_by_element(md, load_requirements("vawa"))
    assert pages["abuse"] == {("A", 2)} and pages["joint_residence"] == {("G", 1)}
    assert pages["good_moral_character"] == set()


# --- the sample case ---------------------------------------------------------------------------------------------


def reached_pages(index: ChunkIndex, embedder: Embedder, language: str, mode: str, per_element: int = 4,
                  k: int = 4) -> dict[str, set[tuple[str, int]]]:
    requirements = load_requirements("vawa").for_language(language)
    search = query_search(index, embedder, [q for e in requirements.elements for q in e.queries], k, mode)
    return {e.id: {(sc.chunk.exhibit, sc.chunk.page) for sc in gather_evidence(e.queries, search, per_element)}
            for e in requirements.elements}


def test_vawa_0002_interview_notes_reach_the_elements_that_need_them(
    sample_index: Callable[[str], ChunkIndex], embedder: Embedder
):
    index = sample_index("vawa-0002")
    assert index.chunks[0].document == "01-notas-de-entrevista.pdf"
    reference = (settings.current().references_dir / "vawa-0002.md").read_text(encoding="utf-8")
    cited = reference_pages_by_element(reference, load_requirements("vawa"))
    needs_notes = [eid for eid, pages in cited.items() if any(ex == "A" for ex, _ in pages)]
    assert {"abuse", "good_faith_marriage", "good_moral_character"} <= set(needs_notes)

    # Before: dense retrieval with the English queries never reaches Ex. A at the default settings.
    before = reached_pages(index, embedder, "en", "dense")
    assert not any(ex == "A" for pages in before.values() for ex, _ in pages)
    # Now: hybrid retrieval with her language's queries reaches her own account for every element that cites it.
    after = reached_pages(index, embedder, "es", "hybrid")
    for eid in needs_notes:
        assert any(ex == "A" for ex, _ in after[eid]), (eid, sorted(after[eid]))
    cited_notes = {p for pages in cited.values() for p in pages if p[0] == "A"}
    assert cited_notes and cited_notes <= {p for pages in after.values() for p in pages}  # every cited notes page

    # With more evidence per element (24), the recall of the reference's cited pages rises too.
    def pooled(reached: dict[str, set[tuple[str, int]]]) -> float:
        return sum(len(reached[e] & c) for e, c in cited.items()) / sum(len(c) for c in cited.values())

    assert pooled(reached_pages(index, embedder, "es", "hybrid", 24, 24)) > pooled(
        reached_pages(index, embedder, "en", "dense", 24, 24))
