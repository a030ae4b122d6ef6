"""`eval_report` (per case x model configuration) and `model_comparison` (across all evaluated partitions)."""

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from .. import settings
from ..drafting.models import Draft
from ..exports.versioning import create_version_dir, free_name, output_base, point_latest, write_new
from ..guarding.models import GuardedDeclaration
from ..judging.models import JudgeScores
from ..orchestration.ui import ui_attributes
from ..partitions import case_and_model, case_model_partitions
from ..privacy.settings import previews_enabled, reason_label
from ..requirements import load_requirements
from . import charts
from .bertscore import WINDOW_WORDS, BertScoreResult, BertScoreScorer, Scorer, align_sections, default_model, parse_reference, score_sections
from .models import EvalReport, ModelComparison
from .report import build_eval_report, compare_models, render_comparison_md, render_report_md
from .usage import collect_records, usage_by_role

EVAL_VERSION = "eval-v1"
COMPARISON_DIR = "model_comparison"


class EvalConfig(dg.Config):
    bertscore_model: str | None = Field(
        default=None, description="path of a local BERTScore model (e.g. roberta-large); default: "
        "DECLARATION_BERTSCORE_MODEL or the packaged all-MiniLM-L6-v2")
    bertscore_layers: int | None = Field(default=None, ge=1, le=48, description="layer whose embeddings are compared")
    window_words: int = Field(default=WINDOW_WORDS, ge=50, le=380, description="words per scored window (< 512 tokens)")


def make_scorer(model_path: str | None, layers: int | None) -> Scorer:
    default_path, default_layers = default_model()
    return BertScoreScorer(model_path or default_path, layers or default_layers)


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _write_outputs(folder: Path, tag: str, md_name: str, pngs: dict[str, tuple[str, bytes]],
                   render, render_inline=None) -> tuple[dict[str, str], str, str]:
    """Write charts and the Markdown report (never overwriting); return files, file markdown, inline markdown
    (`render_inline`, when given, renders the inline copy for the UI)."""
    files: dict[str, str] = {}
    links: dict[str, str] = {}
    inline: dict[str, str] = {}
    for title, (name, png) in pngs.items():
        path = write_new(free_name(folder, name, tag), png)
        files[path.name] = str(path)
        links[title] = path.name
        inline[title] = charts.data_uri(png)
    md = render(links)
    md_path = write_new(free_name(folder, md_name, tag), md)
    files[md_path.name] = str(md_path)
    return files, md, (render_inline or render)(inline)


def evaluation_charts(bert: BertScoreResult | None, report: EvalReport) -> dict[str, tuple[str, bytes]]:
    out: dict[str, tuple[str, bytes]] = {}
    if bert is not None:
        out["BERTScore per section"] = ("bertscore_sections.png", charts.bertscore_chart(bert))
    if report.judges.mean_by_element:
        out["Judge scores per element"] = ("judge_scores.png", charts.judges_chart(report.judges))
    if report.usage:
        out["LLM time and tokens per role"] = ("llm_usage.png", charts.usage_chart(report.usage))
    return out


@dg.asset(
    **ui_attributes("eval_report"),
    partitions_def=case_model_partitions,
    code_version=EVAL_VERSION,
    description="BERTScore against the reference declaration (per aligned section, in windows), judge scores, guard "
    "results, calls, tokens, latency and cost; Markdown report and PNG charts beside the declaration.",
)
def eval_report(
    context: dg.AssetExecutionContext,
    config: EvalConfig,
    guarded_declaration: GuardedDeclaration,
    judge_scores: JudgeScores,
    draft: Draft,
) -> dg.Output[EvalReport]:
    case_id, model_config = case_and_model(context)
    ref_path = settings.current().references_dir / f"{case_id}.md"
    bert = None
    if ref_path.is_file():
        titles = {e.id: e.title for e in load_requirements(draft.case_type).elements}
        aligned = align_sections(guarded_declaration.declaration, parse_reference(ref_path.read_text(encoding="utf-8")), titles)
        bert = score_sections(aligned, make_scorer(config.bertscore_model, config.bertscore_layers), config.window_words)
    else:
        context.log.warning(f"no reference declaration at {ref_path}; BERTScore skipped")
    records, sources = collect_records(
        {"draft": draft, "judge_scores": judge_scores, "guarded_declaration": guarded_declaration},
        settings.current().call_log, case_id, model_config,
    )
    report = build_eval_report(
        guarded=guarded_declaration, scores=judge_scores, bertscore=bert, reference_path=str(ref_path),
        reference_found=bert is not None, usage=usage_by_role(records), usage_source=sources,
        run_id=context.run_id, created_at=_now(), eval_version=EVAL_VERSION,
    )
    folder = Path(guarded_declaration.output_dir) if guarded_declaration.output_dir else None
    if folder is None or not folder.is_dir():  # the declaration's folder is gone: a version of its own
        base = output_base(settings.current().outputs_dir, case_id, model_config)
        folder = create_version_dir(base, context.run_id)
        point_latest(base, folder)
    files, _, inline_md = _write_outputs(
        folder, context.run_id[:8], "eval_report.md", evaluation_charts(bert, report),
        lambda links: render_report_md(report, links),
        lambda links: render_report_md(report if previews_enabled() else without_case_text(report), links),
    )
    report = report.model_copy(update={"output_dir": str(folder), "files": files})
    meta: dict[str, Any] = {
        "report": dg.MetadataValue.md(inline_md),
        "status": report.guards.status,
        "reference_found": report.reference_found,
        "bertscore_f1": dg.MetadataValue.float(bert.f1) if bert and bert.f1 is not None else dg.MetadataValue.null(),
        "bertscore_precision": dg.MetadataValue.float(bert.precision) if bert and bert.precision is not None else dg.MetadataValue.null(),
        "bertscore_recall": dg.MetadataValue.float(bert.recall) if bert and bert.recall is not None else dg.MetadataValue.null(),
        "judge_mean": dg.MetadataValue.float(report.judges.overall_mean) if report.judges.overall_mean is not None else dg.MetadataValue.null(),
        "judge_agreement": dg.MetadataValue.float(report.judges.overall_agreement) if report.judges.overall_agreement is not None else dg.MetadataValue.text("n/a"),
        "judge_alpha": dg.MetadataValue.float(report.judges.overall_alpha) if report.judges.overall_alpha is not None else dg.MetadataValue.text("n/a"),
        "judge_not_judged": report.judges.not_judged,
        "guard_serious": report.guards.serious,
        "guard_warnings": report.guards.warnings,
        "llm_latency_s": float(report.totals["latency_s"]),
        "llm_cost_usd": float(report.totals["cost_usd"]),
        "llm_tokens": int(report.totals["prompt_tokens"] + report.totals["completion_tokens"]),
        "output_dir": dg.MetadataValue.path(str(folder)),
    }
    for name, path in files.items():
        if name.endswith(".png"):
            meta[f"chart_{Path(name).stem}"] = dg.MetadataValue.path(path)
    return dg.Output(report, metadata=meta)


def without_case_text(report: EvalReport) -> EvalReport:
    """The report as the UI shows it with previews off: NOT READY reasons by rule name (their messages quote the
    declaration); the file beside the declaration keeps them."""
    guards = report.guards.model_copy(update={"reasons": [reason_label(r) for r in report.guards.reasons]})
    return report.model_copy(update={"guards": guards})


def loaded_reports(loaded: Any) -> dict[str, EvalReport]:
    """The IO manager gives a dict partition key -> value for several partitions, the bare value for exactly one,
    and None for none: always a dict keyed `case|model`."""
    values = loaded.values() if isinstance(loaded, dict) else ([] if loaded is None else [loaded])
    return {f"{v.case_id}|{v.model_config_name}": v for v in values if isinstance(v, EvalReport)}


@dg.asset(
    **ui_attributes("model_comparison"),
    ins={"eval_report": dg.AssetIn(partition_mapping=dg.AllPartitionMapping(),
                                   metadata={"allow_missing_partitions": True})},
    code_version=EVAL_VERSION,
    description="Model configurations compared over every materialized eval_report partition: mean BERTScore F1, "
    "mean judge score, guard serious findings, latency and cost.",
)
def model_comparison(context: dg.AssetExecutionContext, eval_report: Any) -> dg.Output[ModelComparison]:
    reports = loaded_reports(eval_report)
    rows = compare_models(reports)
    created = _now()
    base = settings.current().outputs_dir / COMPARISON_DIR
    folder = create_version_dir(base, context.run_id)
    pngs = {"Model comparison": ("model_comparison.png", charts.comparison_chart(rows))} if rows else {}
    files, _, inline_md = _write_outputs(
        folder, context.run_id[:8], "model_comparison.md", pngs,
        lambda links: render_comparison_md(rows, list(reports), links, context.run_id, created),
    )
    point_latest(base, folder)
    value = ModelComparison(run_id=context.run_id, created_at=created, rows=rows, partitions=sorted(reports), output_dir=str(folder), files=files)
    table = dg.TableRecord
    meta: dict[str, Any] = {
        "report": dg.MetadataValue.md(inline_md),
        "partitions": len(reports),
        "output_dir": dg.MetadataValue.path(str(folder)),
        "table": dg.MetadataValue.table(
            records=[table({"model_config": r.model_config_name, "cases": r.cases, "ready": r.ready,
                            "mean_f1": r.mean_f1 if r.mean_f1 is not None else -1.0,
                            "mean_judge": r.mean_judge if r.mean_judge is not None else -1.0,
                            "guard_serious": r.guard_serious, "latency_s": r.latency_s, "cost_usd": r.cost_usd})
                     for r in rows],
            schema=dg.TableSchema(columns=[
                dg.TableColumn("model_config", "string"), dg.TableColumn("cases", "int"), dg.TableColumn("ready", "int"),
                dg.TableColumn("mean_f1", "float", description="-1 when no case has a reference"),
                dg.TableColumn("mean_judge", "float", description="-1 when nothing was scorable"),
                dg.TableColumn("guard_serious", "int"), dg.TableColumn("latency_s", "float"),
                dg.TableColumn("cost_usd", "float")]),
        ),
    }
    return dg.Output(value, metadata=meta)
