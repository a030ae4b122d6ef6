"""`eval_report` and `model_comparison` materialized with stand-in upstream values and a word-overlap scorer."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.drafting.models import Draft
from declaration_assets.evaluation import assets as eval_assets
from declaration_assets.evaluation.assets import eval_report, model_comparison
from declaration_assets.evaluation.models import EvalReport, ModelComparison
from declaration_assets.evaluation.report import compare_models
from declaration_assets.exports.provenance import make_provenance
from declaration_assets.exports.write import write_declaration_version
from declaration_assets.guarding.models import GuardedDeclaration
from declaration_assets.checks.evaluate import guard_draft, required_elements
from declaration_assets.judging.models import JudgeScores
from declaration_assets.partitions import case_model_partitions
from declaration_assets_tests.checks.fixtures import REFERENCES, case_record, draft_from_markdown, extracted_from_sources
from declaration_assets_tests.checks.test_guarded_declaration import judge_scores_for
from declaration_assets_tests.support.records import call_record

from .test_bertscore import OverlapScorer

WITH_REF, WITHOUT_REF = "vawa-0002", "vawa-0009"


def pk(case: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"case": case, "model": "default"})


def make_guarded(case: str, outputs: Path, run_id: str) -> tuple[Draft, GuardedDeclaration]:
    extracted = extracted_from_sources(WITH_REF)
    md = (REFERENCES / f"{WITH_REF}.md").read_text(encoding="utf-8")
    d = draft_from_markdown(md, WITH_REF, "vawa", extracted, dict(required_elements("vawa")), language="es")
    d = d.model_copy(update={"case_id": case})
    d.section_for("abuse").paragraphs = d.section_for("abuse").paragraphs[:2]  # a shorter abuse section
    report = guard_draft(d, case_record(WITH_REF), extracted)
    prov = make_provenance(case, "default", run_id, "t")
    written = write_declaration_version(outputs, d, status="NOT READY", reasons=report.reasons(), provenance=prov)
    g = GuardedDeclaration(case_id=case, model_config_name="default", status="NOT READY", reasons=report.reasons(),
                           declaration=d, draft_report=report, report=report, rewrites=[],
                           records=[call_record(case_id=case, asset="guarded_declaration", role="guard",
                                                prompt_tokens=900, completion_tokens=100, latency_s=4.0)],
                           provenance=written.provenance, output_dir=str(written.folder), files=written.files)
    return d, g


@pytest.fixture()
def env(tmp_path, monkeypatch):
    settings.configure(outputs_dir=tmp_path / "outputs")
    settings.configure(references_dir=tmp_path / "references")
    settings.configure(call_log=tmp_path / "calls.jsonl")
    (tmp_path / "references").mkdir()
    shutil.copy(REFERENCES / f"{WITH_REF}.md", tmp_path / "references" / f"{WITH_REF}.md")
    scorer = OverlapScorer()
    monkeypatch.setattr(eval_assets, "make_scorer", lambda model, layers: scorer)
    # The call log holds the drafter's and judges' records (their values carry none); an older run is ignored.
    lines = []
    for case in (WITH_REF, WITHOUT_REF):
        lines.append(call_record(run_id="old", case_id=case, asset="draft", role="drafter", model_config="default",
                                 prompt_tokens=1, completion_tokens=1, latency_s=99.0))
        lines.append(call_record(run_id="new", case_id=case, asset="draft", role="drafter", model_config="default",
                                 prompt_tokens=500, completion_tokens=200, latency_s=10.0))
        lines.append(call_record(run_id="new", case_id=case, asset="judge_scores", role="judge_1",
                                 model_config="default", outcome="deadline_total", latency_s=30.0))
    # A torn line and a line of an unknown shape are skipped; the rest still count.
    text = "\n".join(r.model_dump_json(exclude_none=True, by_alias=True) for r in lines)
    (tmp_path / "calls.jsonl").write_text(text + '\nnot json\n{"outcome": "ok"}\n', encoding="utf-8")
    return tmp_path, scorer


def stand_ins(values: dict[str, tuple[Draft, GuardedDeclaration, JudgeScores]]) -> list:
    def key(context) -> str:
        return context.partition_key.keys_by_dimension["case"]

    @dg.asset(name="draft", partitions_def=case_model_partitions)
    def draft_stub(context) -> Draft:
        return values[key(context)][0]

    @dg.asset(name="judge_scores", partitions_def=case_model_partitions)
    def judges_stub(context) -> JudgeScores:
        return values[key(context)][2]

    @dg.asset(name="guarded_declaration", partitions_def=case_model_partitions)
    def guarded_stub(context) -> GuardedDeclaration:
        return values[key(context)][1]

    return [draft_stub, judges_stub, guarded_stub]


def test_eval_report_and_model_comparison(env):
    tmp_path, scorer = env
    outputs = settings.current().outputs_dir
    scores = judge_scores_for({"qualifying_relationship": 4.0, "abuse": 2.0, "good_faith_marriage": 4.0,
                               "joint_residence": 4.0, "good_moral_character": None})
    values = {}
    for case in (WITH_REF, WITHOUT_REF):
        d, g = make_guarded(case, outputs, f"run-{case}")
        values[case] = (d, g, scores.model_copy(update={"case_id": case}))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cases", [WITH_REF, WITHOUT_REF])
    assets = [*stand_ins(values), eval_report, model_comparison]
    for case in (WITH_REF, WITHOUT_REF):
        result = dg.materialize(assets, selection=["draft", "judge_scores", "guarded_declaration", "eval_report"],
                                partition_key=pk(case), instance=instance)
        assert result.success

    with_ref = dg.materialize(assets, selection=["eval_report"], partition_key=pk(WITH_REF), instance=instance)
    report: EvalReport = with_ref.output_for_node("eval_report")
    # BERTScore: the shortened abuse section lowers recall; the other sections match the reference.
    b = report.bertscore
    assert report.reference_found and b is not None and scorer.calls
    abuse = next(s for s in b.sections if s.key == "abuse")
    assert abuse.recall < 0.6 and abuse.precision == pytest.approx(1.0)
    assert next(s for s in b.sections if s.key == "qualifying_relationship").f1 == pytest.approx(1.0)
    # Usage: guard records from the value, drafter and judge records from the latest run in the call log.
    usage = {(u.asset, u.role): u for u in report.usage}
    assert usage[("draft", "drafter")].prompt_tokens == 500 and usage[("draft", "drafter")].latency_s == 10.0
    assert usage[("judge_scores", "judge_1")].failures == 1
    assert usage[("guarded_declaration", "guard")].completion_tokens == 100
    assert report.usage_source == {"draft": "call log", "judge_scores": "call log", "guarded_declaration": "value"}
    assert report.judges.unscorable == 1 and report.judges.mean_by_element["abuse"] == 2.0
    # Written beside the declaration; this second evaluation of the same version did not overwrite the first.
    folder = Path(report.output_dir)
    assert folder == Path(values[WITH_REF][1].output_dir)
    assert (folder / "eval_report.md").is_file() and (folder / f"eval_report-{with_ref.run_id[:8]}.md").is_file()
    assert (folder / "declaration.md").is_file() and (folder / "bertscore_sections.png").read_bytes()[:4] == b"\x89PNG"
    report_md = (folder / f"eval_report-{with_ref.run_id[:8]}.md").read_text(encoding="utf-8")
    assert f"evaluation: run {with_ref.run_id}" in report_md
    assert values[WITH_REF][1].provenance.routing_file_sha256 in report_md  # the declaration's provenance
    meta = with_ref.asset_materializations_for_node("eval_report")[0].metadata
    assert "data:image/png;base64," in meta["report"].value and meta["bertscore_f1"].value == pytest.approx(b.f1)

    # A case without a reference: said so, no crash.
    no_ref = dg.materialize(assets, selection=["eval_report"], partition_key=pk(WITHOUT_REF), instance=instance)
    r2 = no_ref.output_for_node("eval_report")
    assert not r2.reference_found and r2.bertscore is None
    assert any("No reference declaration" in n for n in r2.notes)
    (md_file,) = [p for name, p in r2.files.items() if name.endswith(".md")]
    assert "Not computed: no reference declaration" in Path(md_file).read_text(encoding="utf-8")

    # Across partitions.
    cmp_result = dg.materialize(assets, selection=["model_comparison"], instance=instance)
    value: ModelComparison = cmp_result.output_for_node("model_comparison")
    assert value.partitions == sorted(f"{c}|default" for c in (WITH_REF, WITHOUT_REF))
    (row,) = value.rows
    assert row.cases == 2 and row.cases_with_reference == 1 and row.mean_f1 == pytest.approx(b.f1)
    assert Path(value.output_dir).parent == outputs / "model_comparison"
    assert (Path(value.output_dir) / "model_comparison.png").is_file()


def test_compare_models_groups_by_model_configuration(env):
    tmp_path, _ = env
    scores = judge_scores_for({"abuse": 3.0})
    reports = {}
    for model, f1, latency in (("default", 0.5, 10.0), ("bigger", 0.7, 30.0), ("bigger", 0.9, 50.0)):
        _, g = make_guarded(WITH_REF, tmp_path / "o", "r")
        from declaration_assets.evaluation.bertscore import BertScoreResult
        from declaration_assets.evaluation.report import build_eval_report

        rep = build_eval_report(guarded=g, scores=scores, bertscore=BertScoreResult(
            model="m", window_words=300, sections=[], precision=f1, recall=f1, f1=f1, pairs_scored=1),
            reference_path="x", reference_found=True, usage=[], usage_source={}, run_id="r", created_at="now")
        rep = rep.model_copy(update={"model_config_name": model, "totals": {**rep.totals, "latency_s": latency}})
        reports[f"{WITH_REF}|{model}|{len(reports)}"] = rep
    rows = {r.model_config_name: r for r in compare_models(reports)}
    assert rows["bigger"].mean_f1 == pytest.approx(0.8) and rows["bigger"].mean_latency_s == pytest.approx(40.0)
    assert rows["default"].cases == 1 and rows["bigger"].cases == 2


def test_loaded_reports_accepts_one_value_a_dict_or_nothing(env):
    from declaration_assets.evaluation.assets import loaded_reports

    tmp_path, _ = env
    _, g = make_guarded(WITH_REF, tmp_path / "o", "r")
    from declaration_assets.evaluation.report import build_eval_report

    rep = build_eval_report(guarded=g, scores=judge_scores_for({"abuse": 3.0}), bertscore=None, reference_path="x",
                            reference_found=False, usage=[], usage_source={}, run_id="r", created_at="now")
    assert loaded_reports(rep) == {f"{WITH_REF}|default": rep}
    assert loaded_reports({"a|b": rep, "c|d": "not a report"}) == {f"{WITH_REF}|default": rep}
    assert loaded_reports(None) == {}
