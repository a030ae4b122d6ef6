"""The evaluation report's judge section: raw agreement next to Krippendorff's alpha, and pairs never judged
shown as "not judged" rather than counted as unscorable answers."""

from __future__ import annotations

from declaration_assets.evaluation.models import EvalReport, GuardSummary
from declaration_assets.evaluation.report import render_report_md, summarize_judges
from declaration_assets.judging.aggregate import aggregate
from declaration_assets.judging.models import CRITERIA, ElementScore

JUDGES = ["judge_1", "judge_2", "judge_3"]


def scored(role: str, eid: str, values: tuple[int, ...]) -> ElementScore:
    return ElementScore(judge_role=role, element_id=eid, status="scored", scores=dict(zip(CRITERIA, values)),
                        reasons="r")


def report_for(scores: list[ElementScore], elements: list[str]) -> tuple[EvalReport, str]:
    js = aggregate(case_id="vawa-0001", model_config_name="default", judges=JUDGES, judge_models={},
                   element_ids=elements, scores=scores)
    guards = GuardSummary(status="NOT READY", reasons=[], serious=0, warnings=0, by_rule={}, draft_serious=0,
                          draft_warnings=0, rewrite_outcomes={})
    report = EvalReport(case_id="vawa-0001", model_config_name="default", run_id="r", created_at="t",
                        reference_path="x", reference_found=False, bertscore=None, judges=summarize_judges(js),
                        guards=guards, usage=[], usage_source={}, totals={"attempts": 0, "failures": 0,
                        "prompt_tokens": 0, "completion_tokens": 0, "latency_s": 0.0, "cost_usd": 0.0},
                        declaration_words=0)
    return report, render_report_md(report, {})


def test_gap_sections_are_not_judged_and_alpha_stands_beside_agreement():
    scores = [
        scored("judge_1", "abuse", (1, 2, 4, 5)), scored("judge_2", "abuse", (1, 2, 4, 5)),
        scored("judge_3", "abuse", (1, 3, 4, 5)),
        scored("judge_1", "joint_residence", (4, 4, 4, 4)),
        ElementScore(judge_role="judge_2", element_id="joint_residence", status="unscorable", error="bad JSON",
                     attempts=2),
        scored("judge_3", "joint_residence", (4, 4, 4, 4)),
        *[ElementScore(judge_role=j, element_id="good_moral_character", status="not_judged",
                       error="drafting gap: no evidence retrieved", attempts=0) for j in JUDGES],
    ]
    report, md = report_for(scores, ["abuse", "joint_residence", "good_moral_character"])
    j = report.judges
    assert j.unscorable == 1 and j.not_judged == 3
    assert "1 unscorable answer(s); 3 not judged" in md
    assert j.overall_alpha is not None and f"Krippendorff's alpha, ordinal: {j.overall_alpha:.2f}" in md
    rows = {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines() if line.startswith("| ")}
    assert rows["good_moral_character"].count("not judged") == 3 and "unscorable" not in rows["good_moral_character"]
    assert rows["joint_residence"].count("unscorable") == 1
    # joint_residence: the two judges that answered agree on a single value, raw 1.00, alpha undefined.
    assert rows["joint_residence"].endswith("| 1.00 | n/a |")
    assert j.alpha["abuse"] is not None and rows["abuse"].endswith(f"| {j.alpha['abuse']:.2f} |")
    assert "| element | mean | judge_1 | judge_2 | judge_3 | agreement | alpha |" in md


def test_report_of_a_judge_never_asked_says_so():
    # judge_3 has no record at all for the element (its calls were never made): "not judged", not a blank mean.
    scores = [scored("judge_1", "abuse", (2, 3, 4, 5)), scored("judge_2", "abuse", (2, 3, 4, 4))]
    _, md = report_for(scores, ["abuse"])
    row = next(line for line in md.splitlines() if line.startswith("| abuse |"))
    assert row.split(" | ")[4] == "not judged"
