"""`guarded_declaration` with FakeLLM in the guard role, materialized through Dagster with its asset checks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dagster as dg
import docx
import pytest
import yaml

from declaration_assets import settings
from declaration_assets.cases.assets import case_record
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.drafting.models import Draft
from declaration_assets.extraction.models import ExtractedCase
from declaration_assets.guarding.assets import guarded_declaration
from declaration_assets.guarding.models import GuardedDeclaration
from declaration_assets.guarding.rewrite import parse_rewrite
from declaration_assets.checks.checks import draft_guards
from declaration_assets.checks.evaluate import required_elements
from declaration_assets.judging.models import ElementScore, JudgeScores
from declaration_assets.llm.models import LLMFailure
from declaration_assets_tests.support.fake_llm import FakeLLM, router_wrapping
from declaration_assets.llm.resources import LLMRouter
from declaration_assets.partitions import by_case_dimension, case_model_partitions, case_partitions
from declaration_assets.requirements import requirements_dir
from declaration_assets_tests.support.records import call_record

from .fixtures import CASES, REFERENCES, draft_from_markdown, extracted_from_sources

CASE = "vawa-0002"
PK = dg.MultiPartitionKey({"case": CASE, "model": "default"})
INVENTED = "That night John Whitaker drove me to the hospital [Ex. D, p. 1]."
FAILED_CALL = call_record(case_id=CASE, asset="guarded_declaration", role="guard", outcome="deadline_total")


def judge_scores_for(means: dict[str, float | None]) -> JudgeScores:
    scores = []
    for element_id, mean in means.items():
        if mean is None:
            scores.append(ElementScore(judge_role="judge_1", element_id=element_id, status="unscorable", error="bad JSON"))
        else:
            v = int(mean)
            scores.append(ElementScore(judge_role="judge_1", element_id=element_id, status="scored",
                                       scores={"supported_by_evidence": v, "legally_sufficient": v, "consistent": v,
                                               "first_person_voice": v}, reasons="Vague about dates."))
    return JudgeScores(case_id=CASE, model_config_name="default", judges=["judge_1"], shared_model=False,
                       judge_models={"judge_1": ["fake"]}, scores=scores, mean_by_element=means,
                       agreement={k: None for k in means}, overall_agreement=None)


def stand_ins(draft_value: Draft, scores: JudgeScores, extracted: ExtractedCase) -> list:
    """The real `case_record` (read from the sample case folder), then stand-ins for the other upstream assets."""
    @dg.asset(name="extracted_text", partitions_def=case_partitions)
    def extracted_stub() -> ExtractedCase:
        return extracted

    @dg.asset(name="draft", partitions_def=case_model_partitions,
              ins={"extracted_text": dg.AssetIn(partition_mapping=by_case_dimension)})
    def draft_stub(extracted_text: ExtractedCase) -> Draft:
        return draft_value

    @dg.asset(name="judge_scores", partitions_def=case_model_partitions)
    def judges_stub(draft: Draft) -> JudgeScores:
        return scores

    return [case_record, extracted_stub, draft_stub, judges_stub]


@pytest.fixture()
def env(tmp_path, monkeypatch):
    settings.configure(outputs_dir=tmp_path / "outputs")
    settings.configure(ui_previews=True)
    extracted = extracted_from_sources(CASE)
    md = (REFERENCES / f"{CASE}.md").read_text(encoding="utf-8")
    d = draft_from_markdown(md, CASE, "vawa", extracted, dict(required_elements("vawa")), language="es")
    return tmp_path, extracted, d


def short_requirements(tmp_path: Path, monkeypatch) -> None:
    """Requirements whose length bounds the (2,700-word) reference declaration meets."""
    folder = tmp_path / "requirements"
    folder.mkdir()
    for f in requirements_dir().glob("*.yaml"):
        raw = yaml.safe_load(f.read_text(encoding="utf-8"))
        raw["length"] = {"min_words": 1000, "max_words": 6000}
        (folder / f.name).write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    settings.configure(requirements_dir=folder)


def materialize(assets, fake: FakeLLM, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*assets, guarded_declaration, draft_guards],
        selection=["draft", "judge_scores", "guarded_declaration"],
        partition_key=PK,
        instance=instance,
        # hardcoded: Dagster would rebuild a ConfigurableResource from its config and lose the wrapped fake
        resources={"llm": dg.ResourceDefinition.hardcoded_resource(router_wrapping(fake)),
                   "case_storage": LocalCaseStorage(roots=[str(CASES)])},
        raise_on_error=False,
    )


def prepared_instance(assets) -> dg.DagsterInstance:
    """An instance holding the case-level assets (`case_record`, `extracted_text`) of CASE."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cases", [CASE])
    assert dg.materialize(assets[:2], partition_key=CASE, instance=instance,
                          resources={"case_storage": LocalCaseStorage(roots=[str(CASES)])}).success
    return instance


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def test_rewrite_fixes_a_flagged_section_and_keeps_the_original_when_worse(env, monkeypatch):
    tmp_path, extracted, d = env
    short_requirements(tmp_path, monkeypatch)
    abuse_original = list(d.section_for("abuse").paragraphs)
    d.section_for("abuse").paragraphs.append(INVENTED)  # a serious guard finding in "abuse"
    scores = judge_scores_for({"qualifying_relationship": 4.0, "abuse": 4.0, "good_faith_marriage": 4.0,
                               "joint_residence": 4.0, "good_moral_character": None})

    def answer(role: str, prompt) -> str:
        assert role == "guard"
        if "Battery or Extreme Cruelty" in prompt.user:
            assert "John Whitaker" in prompt.user  # the finding is in the prompt
            return "Here is the revised text:\n\n" + "\n\n".join(abuse_original)
        return "I met Peter Parker on May 5, 2099 [Ex. A, p. 1]."  # invented: must not replace the section

    fake = FakeLLM(default=answer)
    assets = stand_ins(d, scores, extracted)
    result = materialize(assets, fake, prepared_instance(assets))
    assert result.success
    value: GuardedDeclaration = result.output_for_node("guarded_declaration")
    assert [h[0] for h in fake.history] == ["guard", "guard"]
    outcomes = {r.section_key: r.outcome for r in value.rewrites}
    assert outcomes == {"abuse": "kept_rewrite", "good_moral_character": "kept_original"}
    assert value.declaration.section_for("abuse").paragraphs == abuse_original
    assert "Peter Parker" not in value.declaration.markdown()
    assert value.draft_report.serious_count > 0 and value.status == "READY" and value.reasons == []

    checks = checks_of(result)
    assert checks["draft:guards"].passed is False
    assert checks["draft:guards"].severity == dg.AssetCheckSeverity.WARN
    assert checks["guarded_declaration:guards"].passed is True

    folder = Path(value.output_dir)
    assert folder.parent == settings.current().outputs_dir / CASE / "default"
    md = (folder / "declaration.md").read_text(encoding="utf-8")
    assert 'status: "READY"' in md and "John Whitaker" not in md
    mat = result.asset_materializations_for_node("guarded_declaration")[0]
    assert mat.metadata["status"].value == "READY"
    assert "Battery or Extreme Cruelty" in mat.metadata["preview"].value


def test_serious_failure_marks_not_ready_but_the_run_succeeds(env):
    tmp_path, extracted, d = env
    d.section_for("abuse").paragraphs.append("We lived with [NAME] at that time [Ex. A, p. 1].")
    scores = judge_scores_for({e: 4.0 for e, _ in required_elements("vawa")})
    # The model fails on every call: the pipeline keeps the draft and says why it is not ready.
    fake = FakeLLM(default=lambda role, prompt: (_ for _ in ()).throw(LLMFailure("all deployments failed",
                                                                                   (FAILED_CALL,))))
    assets = stand_ins(d, scores, extracted)
    result = materialize(assets, fake, prepared_instance(assets))
    assert result.success
    value: GuardedDeclaration = result.output_for_node("guarded_declaration")
    assert value.status == "NOT READY"
    assert any(r.startswith("placeholder") for r in value.reasons)
    # Length outside the band is a warning, not a reason for NOT READY.
    assert not any(r.startswith("too_short") for r in value.reasons)
    assert any(f.rule == "too_short" and f.severity == "warning" for f in value.report.findings)
    assert {r.outcome for r in value.rewrites} == {"failed"}
    assert FAILED_CALL in value.records
    check = checks_of(result)["guarded_declaration:guards"]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.ERROR
    md = Path(value.files["declaration.md"]).read_text(encoding="utf-8")
    assert "**Status: NOT READY.**" in md and "placeholder" in md
    document = docx.Document(value.files["declaration.docx"])
    assert document.core_properties.content_status == "NOT READY"
    assert any("Status: NOT READY" in p.text for p in document.paragraphs)


def test_parse_rewrite_strips_reasoning_headings_and_preamble():
    text = "<think>hmm</think>\nSure, here is the corrected part:\n## Abuse\n\nI was hit [Ex. A, p. 1].\n\n\nHe left."
    assert parse_rewrite(text) == ["I was hit [Ex. A, p. 1].", "He left."]
    assert parse_rewrite("<think>never closed") == []


def test_a_rewrite_that_shortens_a_too_short_declaration_is_not_kept(env):
    from declaration_assets.cases.models import load_case_record
    from declaration_assets.guarding.rewrite import RewriteSettings, rewrite_flagged
    from declaration_assets.checks.evaluate import guard_draft
    from declaration_assets.llm.models import CallContext

    _, extracted, d = env
    record = load_case_record(CASES / CASE / "case.yaml")
    report = guard_draft(d, record, extracted)
    assert report.serious == [] and [f.rule for f in report.warnings] == ["too_short"]
    # Judges flag "abuse"; the rewrite is clean but much shorter: equal counts, a larger length gap.
    scores = judge_scores_for({"abuse": 2.0})
    fake = FakeLLM(default="He hit me hard [Ex. E, p. 1].")  # four words: a citation is no word
    result = rewrite_flagged(
        d, report, scores, extracted, client=fake, guard=lambda x: guard_draft(x, record, extracted),
        ctx=CallContext(case_id=CASE, asset="guarded_declaration", model_config="default"),
        must_show={}, settings=RewriteSettings(max_rewrites=8),
    )
    # "too_short" asks every element section to grow; none of these shorter rewrites is kept.
    assert len(result.rewrites) == 5 and {r.outcome for r in result.rewrites} == {"kept_original"}
    rw = next(r for r in result.rewrites if r.section_key == "abuse")
    assert rw.after[:2] == rw.before[:2] and rw.after[2] > rw.before[2]
    assert result.declaration.section_for("abuse").paragraphs == d.section_for("abuse").paragraphs


def test_a_gap_marker_is_not_sent_for_a_rewrite(env):
    from declaration_assets.cases.models import load_case_record
    from declaration_assets.drafting import prompts as drafting_prompts
    from declaration_assets.guarding.rewrite import RewriteSettings, rewrite_flagged
    from declaration_assets.checks.evaluate import guard_draft
    from declaration_assets.llm.models import CallContext

    _, extracted, d = env
    record = load_case_record(CASES / CASE / "case.yaml")
    gap = d.section_for("abuse")
    gap.paragraphs = [drafting_prompts.GAP_NO_EVIDENCE.format(element_title=gap.title)]
    gap.gap = "no evidence retrieved"
    report = guard_draft(d, record, extracted)
    assert any(f.rule == "drafting_gap" and f.section_key == "abuse" for f in report.serious)
    fake = FakeLLM(default="I was hit [Ex. A, p. 1].")
    result = rewrite_flagged(
        d, report, judge_scores_for({"abuse": 1.0}), extracted, client=fake,
        guard=lambda x: guard_draft(x, record, extracted),
        ctx=CallContext(case_id=CASE, asset="guarded_declaration", model_config="default"),
        must_show={}, settings=RewriteSettings(max_rewrites=8),
    )
    # The marker stays for the attorney; no call is spent on it.
    assert "abuse" not in {r.section_key for r in result.rewrites}
    assert not any(gap.title in prompt.user for _, prompt, _ in fake.history)
    assert result.declaration.section_for("abuse").paragraphs == gap.paragraphs


def test_a_rewrite_is_held_to_the_drafting_voice_checks():
    from collections import Counter

    from declaration_assets.drafting.models import Citation
    from declaration_assets.guarding.rewrite import voice_checked

    valid = {Citation(exhibit="A", page=1), Citation(exhibit="B", page=2)}
    dropped: Counter[str] = Counter()
    copied = "[Ex. A, p. 1] Part 8. Screening notes (interviewer): Client never arrested. No false documents."
    assert voice_checked(copied, valid, dropped) == ""
    assert voice_checked("The applicant was recruited in Manila [Ex. A, p. 1].", valid, dropped) == ""
    assert voice_checked("Here is the revised section: I was hurt.", valid, dropped) == ""
    assert voice_checked("I signed it. He kept my passport.", valid, dropped) == ""  # no citation
    ok = "I signed the contract in March 2022 [Ex. B, p. 2]. He kept my passport [Ex. B, p. 9]."
    assert voice_checked(ok, valid, dropped) == "I signed the contract in March 2022 [Ex. B, p. 2]. He kept my passport."
    assert dropped == Counter({"not_first_person": 2, "chatter": 1, "no_valid_citation": 1})
    # A paragraph naming the declarant is someone else speaking about her (she is "I" in her declaration).
    counselor = "I met Maricel at the shelter [Ex. A, p. 1]. I saw that she was afraid."
    assert voice_checked(counselor, valid, dropped) == counselor
    assert voice_checked(counselor, valid, dropped, declarant_names=frozenset({"maricel"})) == ""
    assert dropped["third_party_voice"] == 1
    # A clause copied from a letter written about her is the letter writer's voice, named or not.
    letter = "Accompaniment to law enforcement. I was present at her first interview with HSI on June 1, 2023."
    copied = "I was present at her first interview with HSI on June 1, 2023 [Ex. A, p. 1]."
    assert voice_checked(copied, valid, dropped) == copied
    assert voice_checked(copied, valid, dropped, others_pages=[letter]) == ""
    assert dropped["third_party_voice"] == 2


def test_a_rewrite_cut_off_at_its_token_limit_never_replaces_a_section(env):
    from declaration_assets.cases.models import load_case_record
    from declaration_assets.guarding.rewrite import RewriteSettings, rewrite_flagged
    from declaration_assets.checks.evaluate import guard_draft
    from declaration_assets.llm.models import CallContext, Completion

    _, extracted, d = env
    record = load_case_record(CASES / CASE / "case.yaml")
    report = guard_draft(d, record, extracted)

    class Cut:
        def complete(self, role, prompt, ctx):
            return Completion(text="I was hit by him at home [Ex. A, p. 1].", role=role, model_config="default",
                              deployment="fake", evidence_used=len(prompt.evidence), evidence_dropped=0,
                              finish_reason="length")

    result = rewrite_flagged(
        d, report, judge_scores_for({"abuse": 1.0}), extracted, client=Cut(),
        guard=lambda x: guard_draft(x, record, extracted),
        ctx=CallContext(case_id=CASE, asset="guarded_declaration", model_config="default"),
        must_show={}, settings=RewriteSettings(max_rewrites=1),
    )
    [rw] = result.rewrites
    assert rw.outcome == "empty" and "token limit" in rw.error
    assert result.declaration.section_for("abuse").paragraphs == d.section_for("abuse").paragraphs
