"""The drafting and judging pipelines against the real embedded model (SmolLM2-135M): whatever it answers, the
structure, citations and records hold, and a poor answer is recorded as poor."""

import re

import pytest

from declaration_assets.drafting import prompts
from declaration_assets.drafting.citations import build_exhibits, existing_citations
from declaration_assets.drafting.pipeline import DraftSettings, build_draft
from declaration_assets.judging.judge import JudgeSettings, run_judges
from declaration_assets.llm.models import CallContext
from declaration_assets.requirements import load_requirements

from .helpers import DOCS, chunks, keyword_search, record

pytestmark = pytest.mark.embedded


def one_element(element_id: str):
    req = load_requirements("vawa")
    return req.model_copy(update={"elements": (req.element(element_id),)})


def test_draft_and_judge_one_element_with_the_embedded_model(embedded_api_base, tmp_path):
    from declaration_assets.llm.resources import LLMRouter

    router = LLMRouter(use_cache=False, call_log_path=str(tmp_path / "calls.jsonl"))
    req = one_element("joint_residence")
    outcome = build_draft(
        record=record(), requirements=req, documents=DOCS, search=keyword_search(k=1), client=router,
        ctx=CallContext(case_id="vawa-0001", asset="draft", model_config="default", case_record=record()),
        settings=DraftSettings(evidence_per_element=1, evidence_per_call=1, max_tokens=96),
    )
    section = outcome.draft.section_for("joint_residence")
    assert outcome.records and all(r.deployment == "embedded" for r in outcome.records)
    assert any(r.outcome == "ok" for r in outcome.records)
    if section.gap:
        assert section.paragraphs[0].startswith(prompts.GAP_MARKER)
    else:
        sent = {c.citation() for c in chunks() if c.chunk_id in section.evidence_chunk_ids}
        valid = {c.label() for c in existing_citations(build_exhibits(DOCS))}
        for sentence in re.split(r"(?<=\]\.) ", section.text()):
            cites = set(re.findall(r"\[Ex\. [A-Z]+, p\. \d+\]", sentence))
            assert cites and cites <= sent <= valid, sentence

    judged = run_judges(
        draft=outcome.draft, requirements=req, evidence_for=lambda s: [c.citation() + " " + c.text for c in chunks()[-1:]],
        client=router, ctx=CallContext(case_id="vawa-0001", asset="judge_scores", model_config="default",
                                       case_record=record()),
        settings=JudgeSettings(max_tokens=128),
    )
    scores = judged.scores
    assert len(scores.scores) == len(scores.judges) >= 3
    for s in scores.scores:
        if s.status == "scored":
            assert set(s.scores) == {"supported_by_evidence", "legally_sufficient", "consistent",
                                     "first_person_voice"} and all(1 <= v <= 5 for v in s.scores.values())
        else:
            assert s.error and (s.attempts in (0, 1, 2))
    if section.gap:
        assert all(s.status == "unscorable" and s.attempts == 0 for s in scores.scores)
    else:
        assert judged.records
