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


def test_krippendorff_alpha_is_chance_corrected_and_na_when_undefined():
    from declaration_assets.judging.aggregate import krippendorff_alpha

    # Identical judges over varied scores: perfect, chance-corrected too.
    assert krippendorff_alpha([[1, 3, 5, 2], [1, 3, 5, 2], [1, 3, 5, 2]]) == 1.0
    # Judges that give (nearly) everything a 4: raw agreement is high, alpha says it is no better than chance.
    lazy = [{**s(), **{c: 4 for c in s()}}, {**{c: 4 for c in s()}, "consistent": 5}]
    assert agreement(lazy) > 0.9
    assert krippendorff_alpha([[4, 4, 4, 4], [4, 4, 5, 4]]) <= 0.0
    # Opposite judges: systematic disagreement, below zero.
    assert krippendorff_alpha([[1, 2, 4, 5], [5, 4, 2, 1]]) < 0
    # Undefined: every score equal; fewer than two units scored by two judges; no data.
    assert krippendorff_alpha([[3, 3, 3, 3], [3, 3, 3, 3]]) is None
    assert krippendorff_alpha([[1, None, None], [5, 2, None], [None, None, 4]]) is None
    assert krippendorff_alpha([]) is None
    # Missing values are left out, not counted as disagreement.
    assert krippendorff_alpha([[1, 3, 5, None], [1, 3, 5, 2], [None, 3, 5, 2]]) == 1.0


def test_aggregate_reports_alpha_and_not_judged_apart_from_unscorable():
    scores = [
        es("judge_1", "abuse", s(consistent=1, legally_sufficient=5)),
        es("judge_2", "abuse", s(consistent=1, legally_sufficient=5)),
        es("judge_3", "abuse", s(consistent=2, legally_sufficient=5)),
        es("judge_1", "joint_residence", s()), es("judge_2", "joint_residence", s()),
        es("judge_3", "joint_residence"),
        *[ElementScore(judge_role=j, element_id="good_moral_character", status="not_judged", error="drafting gap",
                       attempts=0) for j in ("judge_1", "judge_2", "judge_3")],
    ]
    out = aggregate(case_id="vawa-0001", model_config_name="default", judges=["judge_1", "judge_2", "judge_3"],
                    judge_models={}, element_ids=["abuse", "joint_residence", "good_moral_character"], scores=scores)
    assert out.unscorable == 1 and out.not_judged == 3
    assert 0.8 < out.alpha["abuse"] < 1.0
    assert out.alpha["joint_residence"] is None  # every score 3: undefined
    assert out.alpha["good_moral_character"] is None and out.agreement["good_moral_character"] is None
    assert out.overall_alpha is not None and out.overall_alpha > 0.8
    assert out.alpha_level == "ordinal"
