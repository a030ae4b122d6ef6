"""`draft` and `judge_scores` materialized by Dagster with the router wrapping FakeLLM, a real embedder and index."""

import json

import dagster as dg
import pytest
import yaml

from declaration_assets.cases.assets import case_record
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.drafting.assets import draft
from declaration_assets.drafting.models import Draft
from declaration_assets.judging.assets import judge_scores
from declaration_assets.judging.models import CRITERIA, JudgeScores
from declaration_assets_tests.support.fake_llm import FakeLLM
from declaration_assets.partitions import case_partitions
from declaration_assets.retrieval.embeddings import Embedder
from declaration_assets.retrieval.index import build_chunk_index

from .helpers import extracted, fake_router, record
from .test_pipeline import first_person_from_evidence

CASE = "vawa-0001"


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(cache_dir="")


def fake_model(role, prompt):
    if role == "drafter":
        return first_person_from_evidence(role, prompt)
    if role == "judge_2":
        return "not json at all"
    return json.dumps({**{c: 4 for c in CRITERIA}, "reasons": "cited and first person"})


def test_draft_and_judge_scores_materialize(tmp_path, embedder):
    cases = tmp_path / "cases"
    (cases / CASE).mkdir(parents=True)
    (cases / CASE / "case.yaml").write_text(yaml.safe_dump(record().model_dump(mode="json")), encoding="utf-8")
    case_value = extracted()
    index, _ = build_chunk_index(case_value, embedder)

    @dg.asset(name="extracted_text", partitions_def=case_partitions)
    def extracted_text_stub():
        return case_value

    @dg.asset(name="chunk_index", partitions_def=case_partitions)
    def chunk_index_stub():
        return index

    fake = FakeLLM(default=fake_model)
    resources = {
        "io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path / "io")),
        "llm": fake_router(fake),
        "embedder": embedder,
        "case_storage": LocalCaseStorage(roots=[str(cases)]),
    }
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cases", [CASE])
    assets = [case_record, extracted_text_stub, chunk_index_stub, draft, judge_scores]
    dg.materialize(assets, selection=[case_record, extracted_text_stub, chunk_index_stub], partition_key=CASE,
                   instance=instance, resources=resources)
    key = dg.MultiPartitionKey({"case": CASE, "model": "default"})
    result = dg.materialize(assets, selection=[draft, judge_scores], partition_key=key, instance=instance,
                            resources=resources)
    assert result.success

    d: Draft = result.output_for_node("draft")
    assert d.case_id == CASE and d.model_config_name == "default" and d.declarant_name == "Lucia Montoya"
    assert [s.kind for s in d.sections][0] == "introduction" and d.sections[-1].kind == "closing"
    drafted = [s for s in d.element_sections() if not s.gap]
    assert drafted and all(s.citations() for s in drafted)
    meta = result.asset_materializations_for_node("draft")[0].metadata
    assert meta["words"].value == d.word_count()
    assert meta["gap_count"].value == len(d.gaps())
    assert "| role | deployment |" in meta["llm_calls"].value and "fake" in meta["llm_calls"].value
    assert "# Declaration of Lucia Montoya" in meta["preview"].value
    assert set(meta["citations_by_section"].value) == {s.element_id or s.kind for s in d.sections}
    # Coverage: per element, the documents and pages of the passages the drafter was shown.
    coverage = meta["evidence_coverage"].value
    for sec in d.element_sections():
        shown = {(c.exhibit, c.page) for c in map(index.chunk, sec.evidence_chunk_ids) if c is not None}
        assert {(doc["exhibit"], p) for doc in coverage[sec.element_id] for p in doc["pages"]} == shown
    assert set(meta["evidence_pages"].value) == {sec.element_id for sec in d.element_sections()}

    s: JudgeScores = result.output_for_node("judge_scores")
    assert s.judges == ["judge_1", "judge_2", "judge_3"] and s.shared_model
    j2 = [x for x in s.scores if x.judge_role == "judge_2"]
    assert all(x.status == ("not_judged" if d.section_for(x.element_id).gap else "unscorable") for x in j2)
    for x in s.scores:
        if x.judge_role != "judge_2" and d.section_for(x.element_id).gap is None:
            assert x.status == "scored" and x.scores["consistent"] == 4
    jmeta = result.asset_materializations_for_node("judge_scores")[0].metadata
    # The fixture has four passages, which every element is shown: drafted once, they are dropped as repeats under
    # the other elements (gaps, not judged); judge_2's malformed answers on the drafted ones are unscorable.
    assert jmeta["unscorable"].value == s.unscorable == sum(x.status == "unscorable" for x in j2) >= 1
    assert "| element | judge_1 | judge_2 | judge_3 |" in jmeta["scores"].value
    # Judges were shown the passages the section was drafted from.
    judge_specs = [spec for role, spec, _ in fake.history if role.startswith("judge")]
    assert any(e.startswith("[Ex. ") for spec in judge_specs for e in spec.evidence)
    # The drafter calls carried the case record (redaction on external routes depends on it).
    assert all(ctx.case_record is not None and ctx.asset in ("draft", "judge_scores") for _, _, ctx in fake.history)


def test_batched_query_search_matches_retrieve(embedder):
    from declaration_assets.retrieval.index import query_search
    from declaration_assets.requirements import load_requirements
    from declaration_assets.retrieval.index import retrieve

    index, _ = build_chunk_index(extracted(), embedder)
    queries = list(load_requirements("vawa").element("joint_residence").queries)
    search = query_search(index, embedder, queries, 2)
    for q in queries + ["a query that was not embedded up front"]:
        got, want = search(q), retrieve(index, embedder, q, 2)
        assert [c.chunk.chunk_id for c in got] == [c.chunk.chunk_id for c in want]
        assert [round(c.score, 4) for c in got] == [round(c.score, 4) for c in want]
    assert search(queries[0])[0].chunk.exhibit == "C"  # the lease answers "lease apartment address we lived together"
