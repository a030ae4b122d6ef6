"""The whole graph for one sample case against the real embedded model (SmolLM2-135M via llama.cpp + LiteLLM).

The model is weak on purpose: this test checks that the pipeline stays correct and honest with it: structure,
citations, guard results and the report come from the pipeline, every call leaves a record, nothing crashes.
"""

from __future__ import annotations

import json

import dagster as dg
import pytest
from docx import Document

from declaration_assets import settings
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.definitions import defs
from declaration_assets.llm.resources import LLMRouter
from declaration_assets.orchestration.jobs import declaration_partition_key, register_case
from declaration_assets.retrieval.embeddings import Embedder

CASE = "tvisa-0001"
ELEMENTS = ["trafficking", "physical_presence", "law_enforcement", "extreme_hardship"]


@pytest.mark.embedded
@pytest.mark.timeout(2400)  # about 3 minutes on an idle 2-core machine; generous for a loaded one
def test_whole_graph_for_one_case_with_the_embedded_model(embedded_api_base, tmp_path, monkeypatch):
    settings.configure(outputs_dir=tmp_path / "outputs")
    settings.configure(cache_dir=tmp_path / "cache")
    call_log = tmp_path / "calls.jsonl"
    settings.configure(call_log=call_log)
    resources = {
        "case_storage": LocalCaseStorage(roots=[str(settings.current().cases_dir)]),
        "embedder": Embedder(cache_dir=str(tmp_path / "cache" / "embeddings")),
        "llm": LLMRouter(use_cache=False, call_log_path=str(call_log)),
    }
    assets = list(defs.assets)
    checks = list(defs.asset_checks)
    with dg.instance_for_test() as instance:
        register_case(instance, CASE)
        ingest = dg.materialize(
            [*assets, *checks], selection=["case_record", "extracted_text", "chunk_index"], partition_key=CASE,
            instance=instance, resources=resources,
        )
        assert ingest.success
        key = declaration_partition_key(CASE, "default")
        result = dg.materialize(
            [*assets, *checks], selection=["draft", "judge_scores", "guarded_declaration", "eval_report"],
            partition_key=key, instance=instance, resources=resources, raise_on_error=False,
        )
        assert result.success, [e.message for e in result.all_events if e.is_failure]

        draft = result.output_for_node("draft")
        assert [s.element_id for s in draft.element_sections()] == ELEMENTS
        for section in draft.element_sections():
            assert "[Ex. " in section.text(), f"section {section.element_id} has no citation"
        letters = {e.letter for e in draft.exhibits}
        assert letters == set("ABCDEFG")

        scores = result.output_for_node("judge_scores")
        assert len(scores.judges) >= 3 and scores.shared_model
        assert {(s.judge_role, s.element_id) for s in scores.scores} == {
            (j, e) for j in scores.judges for e in ELEMENTS
        }
        for s in scores.scores:  # a score is valid, honestly unscorable, or not judged (a gap), never made up
            gap = draft.section_for(s.element_id).gap is not None
            assert (s.status == "scored" and len(s.scores) == 4 and all(1 <= v <= 5 for v in s.scores.values())) or (
                s.status == ("not_judged" if gap else "unscorable") and not s.scores and s.error
            )

        guarded = result.output_for_node("guarded_declaration")
        assert guarded.status in ("READY", "NOT READY")
        assert (guarded.status == "NOT READY") == bool(guarded.reasons)
        docx = Document(guarded.files["declaration.docx"])
        text = "\n".join(p.text for p in docx.paragraphs)
        assert "penalty of perjury" in text and guarded.declaration.declarant_name in text
        md = open(guarded.files["declaration.md"], encoding="utf-8").read()
        assert guarded.status in md and "routing file" in md.lower()

        report = result.output_for_node("eval_report")
        assert report.reference_found and report.bertscore is not None
        assert 0.0 < report.bertscore.f1 <= 1.0
        assert report.bertscore.pairs_scored >= len(ELEMENTS)

        checks_run = [e for e in result.get_asset_check_evaluations()]
        assert {c.asset_key.to_user_string() for c in checks_run} >= {"draft", "guarded_declaration"}

    records = [json.loads(line) for line in call_log.read_text().splitlines()]
    roles = {r["role"] for r in records}
    assert "drafter" in roles and sum(r.startswith("judge_") for r in roles) >= 3
    assert all(r["case_id"] == CASE and r["outcome"] for r in records)
    # No prompt or answer text in the call log by default.
    assert not any(k in r for r in records for k in ("prompt", "messages", "answer", "text", "content"))
