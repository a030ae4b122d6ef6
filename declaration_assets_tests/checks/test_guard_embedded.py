"""The guard rewrite against the real embedded model (SmolLM2-135M): a weak answer is recorded, never a crash,
and the kept version is never worse than the draft."""

from __future__ import annotations

import pytest

from declaration_assets.guarding.rewrite import RewriteSettings, rewrite_flagged
from declaration_assets.checks.evaluate import guard_draft, required_elements
from declaration_assets.llm.models import CallContext
from declaration_assets.llm.records import CallRecord
from declaration_assets.llm.resources import LLMRouter
from declaration_assets.requirements import load_requirements

from .fixtures import REFERENCES, case_record, draft_from_markdown, extracted_from_sources

CASE = "vawa-0002"


@pytest.mark.embedded
def test_guard_rewrite_with_the_embedded_model(embedded_api_base, tmp_path):
    extracted, record = extracted_from_sources(CASE), case_record(CASE)
    md = (REFERENCES / f"{CASE}.md").read_text(encoding="utf-8")
    draft = draft_from_markdown(md, CASE, "vawa", extracted, dict(required_elements("vawa")), language="es")
    draft.section_for("good_moral_character").paragraphs.append("Officer John Whitaker knows me well [Ex. A, p. 1].")

    def guard(d):
        return guard_draft(d, record, extracted)

    report = guard(draft)
    router = LLMRouter(use_cache=False, call_log_path=str(tmp_path / "calls.jsonl"))
    ctx = CallContext(case_id=CASE, asset="guarded_declaration", model_config="default", case_record=record)
    req = load_requirements("vawa")
    result = rewrite_flagged(
        draft, report, None, extracted, client=router, ctx=ctx, guard=guard,
        must_show={e.id: e.must_show for e in req.elements},
        settings=RewriteSettings(max_rewrites=1, max_tokens=160),
    )
    (rw,) = result.rewrites
    assert rw.section_key == "good_moral_character"  # the section with the serious finding goes first
    assert rw.outcome in {"kept_rewrite", "kept_original", "empty", "failed"}
    assert result.report.badness() <= report.badness()
    assert result.records and all(isinstance(r, CallRecord) for r in result.records)
    ok = [r for r in result.records if r.outcome == "ok"]
    if ok:  # on a loaded machine the call may breach its deadline: then it is recorded as failed, not hidden
        assert rw.outcome != "failed" and all(r.completion_tokens for r in ok)
    else:
        assert rw.outcome == "failed" and rw.error
