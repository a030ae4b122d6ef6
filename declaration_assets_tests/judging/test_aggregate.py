import pytest

from declaration_assets.judging.aggregate import (
    AnswerError,
    aggregate,
    agreement,
    parse_rubric_answer,
    shares_model,
)
from declaration_assets.judging.models import ElementScore

GOOD = '{"supported_by_evidence": 4, "legally_sufficient": 3, "consistent": 5, "first_person_voice": 2, "reasons": "ok"}'


def test_parses_plain_fenced_and_embedded_json():
    assert parse_rubric_answer(GOOD).consistent == 5
    fenced = f"Here is my review:\n```json\n{GOOD}\n```\nThanks"
    assert parse_rubric_answer(fenced).first_person_voice == 2
    prose = f"I think {{not json}} and then {GOOD} done"
    assert parse_rubric_answer(prose).legally_sufficient == 3
    wrapped = '{"scores": {"supported_by_evidence": 1, "legally_sufficient": 1, "consistent": 1, ' \
              '"first_person_voice": 1}, "reasons": "bad"}'
    assert parse_rubric_answer(wrapped).reasons == "bad"
    assert parse_rubric_answer("<think>hmm {</think>" + GOOD).supported_by_evidence == 4


@pytest.mark.parametrize(
    "answer, message",
    [
        ("", "empty"),
        ("I would give it a four.", "no JSON object"),
        ('{"supported_by_evidence": 4}', "legally_sufficient: Field required"),
        (GOOD.replace('"consistent": 5', '"consistent": 9'), "consistent: Input should be less than or equal to 5"),
        (GOOD.replace('"reasons": "ok"', '"reasons": "ok", "extra": 1'), "extra: Extra inputs are not permitted"),
        (GOOD.replace("4", "4.5"), "supported_by_evidence"),
        ("```json\n{broken\n```", "no JSON object"),
    ],
)
def test_garbage_is_refused_with_a_message_for_the_judge(answer, message):
    with pytest.raises(AnswerError, match=message):
        parse_rubric_answer(answer)


def s(**kw):
    return {"supported_by_evidence": 3, "legally_sufficient": 3, "consistent": 3, "first_person_voice": 3, **kw}


def test_agreement_definition():
    assert agreement([s(), s(), s()]) == 1.0
    worst = {k: 1 for k in s()}, {k: 5 for k in s()}
    assert agreement(list(worst)) == 0.0
    # one criterion differs by 2 between one pair out of three pairs: mean diff = 2/4 / (3 pairs * 4 criteria)
    assert agreement([s(), s(), s(consistent=5)]) == pytest.approx(1 - (0.5 + 0.5) / 12, abs=1e-4)
    assert agreement([s()]) is None
    assert agreement([]) is None


def es(role, eid, scores=None):
    if scores is None:
        return ElementScore(judge_role=role, element_id=eid, status="unscorable", error="x")
    return ElementScore(judge_role=role, element_id=eid, status="scored", scores=scores, reasons="r")


def test_aggregate_means_agreement_and_unscorable():
    scores = [
        es("judge_1", "abuse", s()), es("judge_2", "abuse", s(consistent=5)), es("judge_3", "abuse"),
        es("judge_1", "good_moral_character", s()), es("judge_2", "good_moral_character"),
        es("judge_3", "good_moral_character"),
        es("judge_1", "joint_residence"), es("judge_2", "joint_residence"), es("judge_3", "joint_residence"),
    ]
    out = aggregate(case_id="vawa-0001", model_config_name="default", judges=["judge_1", "judge_2", "judge_3"],
                    judge_models={"judge_1": ["m"], "judge_2": ["m"], "judge_3": ["n"]},
                    element_ids=["abuse", "good_moral_character", "joint_residence"], scores=scores)
    assert out.mean_by_element == {"abuse": pytest.approx(3.25), "good_moral_character": 3.0, "joint_residence": None}
    assert out.agreement["abuse"] == pytest.approx(1 - 0.5 / 4)
    assert out.agreement["good_moral_character"] is None and out.agreement["joint_residence"] is None
    assert out.overall_agreement == out.agreement["abuse"]
    assert out.unscorable == 6 and out.shared_model is True
    assert out.mean_by_element_criterion["abuse"]["consistent"] == 4.0


def test_shared_model_detection():
    assert shares_model({"a": ["x", "y"], "b": ["x"], "c": ["z"]})
    assert not shares_model({"a": ["x"], "b": ["y"], "c": ["z"]})


def test_answer_with_raw_newlines_inside_a_string_is_read():
    # What the embedded model produced under a JSON-schema grammar: valid keys, a raw newline inside "reasons".
    text = '{"legally_sufficient": 1, "supported_by_evidence": 2, "consistent": 3, "first_person_voice": 4, "reasons": "}\n```\nThe JSON object is:\n{\n  " } '
    answer = parse_rubric_answer(text)
    assert (answer.legally_sufficient, answer.supported_by_evidence, answer.consistent, answer.first_person_voice) == (1, 2, 3, 4)
    assert answer.reasons.startswith("}")
