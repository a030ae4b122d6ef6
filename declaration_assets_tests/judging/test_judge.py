import json
import threading
import time

import pytest

from declaration_assets.drafting.models import Draft, Section
from declaration_assets.judging.judge import JudgeSettings, judge_prompt, persona_for, run_judges, scores_table
from declaration_assets.judging.models import CRITERIA
from declaration_assets.judging.prompts import PERSONAS
from declaration_assets.llm.models import CallContext, LLMFailure
from declaration_assets_tests.support.fake_llm import FakeLLM
from declaration_assets.requirements import load_requirements
from declaration_assets_tests.support.records import call_record

CTX = CallContext(case_id="vawa-0001", asset="judge_scores", model_config="default")
REQ = load_requirements("vawa")


def make_draft(gap_element: str | None = None) -> Draft:
    sections = [Section(kind="introduction", title="Introduction", paragraphs=["I, Lucia Montoya, declare:"])]
    for e in REQ.elements:
        if e.id == gap_element:
            sections.append(Section(kind="element", element_id=e.id, title=e.title,
                                    paragraphs=["[DRAFTING GAP: ...]"], gap="empty answer"))
        else:
            sections.append(Section(kind="element", element_id=e.id, title=e.title,
                                    paragraphs=[f"I lived it: {e.title} [Ex. A, p. 1]."], evidence_chunk_ids=["A-p1-0"]))
    sections.append(Section(kind="closing", title="Attestation", paragraphs=["I declare under penalty of perjury."]))
    return Draft(case_id="vawa-0001", model_config_name="default", case_type="vawa", declarant_name="Lucia Montoya",
                 language="en", sections=sections, exhibits=[], prompt_version="t")


def answer(score: int, reason: str = "fine") -> str:
    return json.dumps({**{c: score for c in CRITERIA}, "reasons": reason})


def element_of(prompt) -> str:
    return next(e.id for e in REQ.elements if f"Legal element: {e.title} (" in prompt.user)


def run(client, draft=None, settings=JudgeSettings(), logs=None):
    return run_judges(draft=draft or make_draft(), requirements=REQ, evidence_for=lambda s: ["[Ex. A, p. 1] text"],
                      client=client, ctx=CTX, settings=settings,
                      log=logs.append if logs is not None else (lambda m: None))


def test_every_judge_scores_every_element_with_personas_and_progress():
    scores_by_role = {"judge_1": 4, "judge_2": 4, "judge_3": 2}
    fake = FakeLLM(default=lambda role, prompt: answer(scores_by_role[role]))
    logs: list[str] = []
    out = run(fake, logs=logs).scores
    assert len(out.scores) == 15 and all(s.status == "scored" for s in out.scores)
    assert out.mean_by_element["abuse"] == pytest.approx((4 + 4 + 2) / 3, abs=1e-4)
    # pairs: (4,4)=0, (4,2)=0.5, (4,2)=0.5 on all four criteria -> mean 1/3
    assert out.agreement["abuse"] == pytest.approx(1 - 1 / 3, abs=1e-4)
    assert out.shared_model is True and out.judge_models == {r: ["fake"] for r in scores_by_role}
    assert len(set(out.personas.values())) == 3
    systems = {role: {spec.system for r, spec, _ in fake.history if r == role} for role in scores_by_role}
    assert all(len(v) == 1 for v in systems.values()) and len({next(iter(v)) for v in systems.values()}) == 3
    for _, spec, _ in fake.history:
        assert spec.json_mode and spec.evidence == ("[Ex. A, p. 1] text",)
    assert any(m.startswith("judge 3 of 3 (judge_3), element 5 of 5 (good_moral_character)") for m in logs)
    table = scores_table(out)
    assert "| abuse | 4 / 4 / 4 / 4 | 4 / 4 / 4 / 4 | 2 / 2 / 2 / 2 | 3.33 | 0.67 |" in table


def test_malformed_answer_is_retried_once_with_the_error_then_unscorable():
    lock = threading.Lock()
    calls: dict[tuple[str, str], int] = {}

    def judge(role, prompt):
        key = (role, element_of(prompt))
        with lock:
            calls[key] = calls.get(key, 0) + 1
            n = calls[key]
        if role == "judge_2":
            return '{"supported_by_evidence": 9, "reasons": "great"}'
        if role == "judge_3" and n == 1:
            return "I'd say four out of five."
        return answer(3)

    fake = FakeLLM(default=judge)
    out = run(fake).scores
    j2 = [s for s in out.scores if s.judge_role == "judge_2"]
    assert all(s.status == "unscorable" and s.attempts == 2 and not s.scores for s in j2)
    assert "attempt 1: invalid rubric answer" in j2[0].error and "attempt 2:" in j2[0].error
    assert "less than or equal to 5" in j2[0].error
    retry_prompts = [spec for r, spec, _ in fake.history if r == "judge_2" and "could not be used" in spec.user]
    assert len(retry_prompts) == 5 and "supported_by_evidence: Input should be less than or equal to 5" in retry_prompts[0].user
    assert all(n == 2 for (role, _), n in calls.items() if role in ("judge_2", "judge_3"))
    j3 = [s for s in out.scores if s.judge_role == "judge_3"]
    assert all(s.status == "scored" and s.attempts == 2 for s in j3)
    assert out.unscorable == 5
    assert out.agreement["abuse"] == 1.0  # judges 1 and 3 agree; judge 2 is not counted


def test_call_failures_are_unscorable_and_gaps_not_judged_never_a_crash():
    def judge(role, prompt):
        if role == "judge_1":
            raise LLMFailure("all deployments failed", records=(call_record(asset="judge_scores", role=role, outcome="deadline_total"),))
        return answer(5)

    fake = FakeLLM(default=judge)
    outcome = run(fake, draft=make_draft(gap_element="abuse"))
    out = outcome.scores
    abuse = [s for s in out.scores if s.element_id == "abuse"]
    assert all(s.status == "not_judged" and "drafting gap" in s.error and s.attempts == 0 for s in abuse)
    assert not any(element_of(spec) == "abuse" for _, spec, _ in fake.history)
    j1 = [s for s in out.scores if s.judge_role == "judge_1" and s.element_id != "abuse"]
    assert all(s.status == "unscorable" and "call failed" in s.error and s.attempts == 1 for s in j1)
    assert out.mean_by_element["abuse"] is None and out.agreement["abuse"] is None
    assert out.mean_by_element["good_moral_character"] == 5.0
    assert sum(1 for r in outcome.records if r.outcome == "deadline_total") == 4
    # A call never made is not an unscorable answer: 3 gap pairs not judged, 4 failed calls unscorable.
    assert out.not_judged == 3 and out.unscorable == 4
    table = scores_table(out)
    abuse_row = next(line for line in table.splitlines() if line.startswith("| abuse |"))
    assert abuse_row.count("not judged") == 3 and "unscorable" not in abuse_row
    moral_row = next(line for line in table.splitlines() if line.startswith("| good_moral_character |"))
    assert moral_row.count("unscorable") == 1 and "5 / 5 / 5 / 5" in moral_row
    # judges 2 and 3 agree perfectly, but on a single value: alpha is undefined, shown as n/a.
    assert out.agreement["good_moral_character"] == 1.0 and out.alpha["good_moral_character"] is None
    assert moral_row.endswith("| 1.00 | n/a |")


def test_judges_run_concurrently():
    """Judges' calls are in flight together (counted, not timed: the speed-up is measured by bench_judges.py)."""
    lock = threading.Lock()
    state = {"active": 0, "peak": 0}

    def slow(role, prompt):
        with lock:
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
        time.sleep(0.08)
        with lock:
            state["active"] -= 1
        return answer(4)

    draft = make_draft()
    run(FakeLLM(default=slow), draft=draft, settings=JudgeSettings(concurrent=False))
    assert state["peak"] == 1
    state["peak"] = 0
    outcome = run(FakeLLM(default=slow), draft=draft, settings=JudgeSettings(concurrent=True))
    assert state["peak"] >= 2 and outcome.wall_s > 0


def test_fewer_than_three_judges_is_refused():
    with pytest.raises(ValueError, match="three or more"):
        run(FakeLLM(judges=2, default=answer(3)))


def test_personas_permute_the_rubric_and_the_prompt_says_so():
    orders = {p.criteria_order for p in PERSONAS}
    assert len(orders) == len(PERSONAS)
    element = REQ.element("abuse")
    section = make_draft().section_for("abuse")
    spec = judge_prompt(persona_for(1), element, section, ["[Ex. A, p. 1] x"])
    rubric = spec.user[spec.user.index("Score each criterion"):]
    positions = [rubric.index(f"- {c}:") for c in persona_for(1).criteria_order]
    assert positions == sorted(positions)
    assert "Battery or Extreme Cruelty" in spec.user and "I lived it" in spec.user
    retry = judge_prompt(persona_for(1), element, section, [], retry_error="consistent: Field required")
    assert "consistent: Field required" in retry.user and retry.evidence == ("(no evidence cited)",)


def test_a_partial_answer_is_completed_by_the_retry_with_the_judges_own_values():
    lock = threading.Lock()
    seen: set[tuple[str, str]] = set()

    def judge(role, prompt):
        key = (role, element_of(prompt))
        with lock:
            first = key not in seen
            seen.add(key)
        if first:
            return '{"legally_sufficient": 2, "supported_by_evidence": 3, "consistent": 4}'
        if role == "judge_3":
            return '{"first_person_voice": 7}'  # still invalid: unscorable, nothing filled in
        return '{"first_person_voice": 5, "reasons": "told in her own words"}'

    fake = FakeLLM(default=judge)
    out = run(fake).scores
    for s in out.scores:
        if s.judge_role == "judge_3":
            assert s.status == "unscorable" and s.attempts == 2 and not s.scores
            assert "first_person_voice" in s.error
        else:
            assert s.status == "scored" and s.attempts == 2 and s.reasons == "told in her own words"
            assert s.scores == {"supported_by_evidence": 3, "legally_sufficient": 2, "consistent": 4,
                                "first_person_voice": 5}
    retry = next(spec for r, spec, _ in fake.history if r == "judge_1" and "You already gave" in spec.user)
    tail = retry.user.split("You already gave:", 1)[1]
    assert '"legally_sufficient": 2' in tail and '"first_person_voice": <1-5>' in tail
    assert '"consistent": <1-5>' not in tail and '"reasons": "<one or two sentences>"' in tail


def test_partial_and_complete_rubric():
    from declaration_assets.judging.aggregate import AnswerError, complete_rubric, partial_rubric

    assert partial_rubric('{"consistent": 4, "legally_sufficient": 9, "first_person_voice": true, "reasons": " "}') \
        == {"consistent": 4}
    assert partial_rubric("no json") == {}
    given = {"consistent": 4, "legally_sufficient": 2, "supported_by_evidence": 1}
    done = complete_rubric(given, '{"first_person_voice": 3, "reasons": "ok"}')
    assert (done.consistent, done.first_person_voice, done.reasons) == (4, 3, "ok")
    with pytest.raises(AnswerError, match="reasons: Field required"):
        complete_rubric(given, '{"first_person_voice": 3}')
    with pytest.raises(AnswerError):
        complete_rubric({}, '{"first_person_voice": 3}')


def test_judge_prompt_constrains_the_answer_to_the_rubric_schema():
    from declaration_assets.judging import prompts
    from declaration_assets.judging.judge import persona_for

    for i in range(3):
        persona = persona_for(i)
        schema = prompts.answer_schema(persona)
        assert list(schema["properties"]) == [*persona.criteria_order, "reasons"]
        assert schema["required"] == list(schema["properties"]) and schema["additionalProperties"] is False
        only = prompts.answer_schema(persona, only={"consistent", "reasons"})
        assert list(only["properties"]) == ["consistent", "reasons"]
