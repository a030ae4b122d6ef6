"""Building the evaluation of one declaration and the comparison across model configurations (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import mean
from typing import Any

from ..guarding.models import GuardedDeclaration
from ..guarding.rewrite import outcome_counts
from ..judging.models import JudgeScores
from .bertscore import BertScoreResult
from .models import ComparisonRow, EvalReport, GuardSummary, JudgeSummary
from .usage import RoleUsage


def _fmt(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def summarize_judges(scores: JudgeScores) -> JudgeSummary:
    by_judge: dict[str, dict[str, float | None]] = {}
    status: dict[str, dict[str, str]] = {}
    for s in scores.scores:
        by_judge.setdefault(s.judge_role, {})[s.element_id] = s.mean
        status.setdefault(s.judge_role, {})[s.element_id] = s.status
    means = [m for m in scores.mean_by_element.values() if m is not None]
    return JudgeSummary(
        judges=list(scores.judges), shared_model=scores.shared_model, mean_by_element=dict(scores.mean_by_element),
        by_judge=by_judge, overall_mean=mean(means) if means else None, agreement=dict(scores.agreement),
        overall_agreement=scores.overall_agreement,
        unscorable=sum(1 for s in scores.scores if s.status == "unscorable"),
        not_judged=sum(1 for s in scores.scores if s.status == "not_judged"),
        status=status, alpha=dict(scores.alpha), overall_alpha=scores.overall_alpha, alpha_level=scores.alpha_level,
    )


def judge_cell(j: JudgeSummary, judge: str, element: str) -> str:
    """A judge's mean on an element, or why there is none: 'unscorable' (asked, no valid answer) or 'not judged'
    (never asked: no section or a gap marker)."""
    status = j.status.get(judge, {}).get(element)
    if status == "not_judged" or (status is None and j.status):
        return "not judged"
    if status == "unscorable":
        return "unscorable"
    return _fmt(j.by_judge.get(judge, {}).get(element), 2)


def summarize_guards(guarded: GuardedDeclaration) -> GuardSummary:
    return GuardSummary(
        status=guarded.status, reasons=list(guarded.reasons), serious=guarded.report.serious_count,
        warnings=guarded.report.warning_count, by_rule=guarded.report.counts_by_rule(),
        draft_serious=guarded.draft_report.serious_count, draft_warnings=guarded.draft_report.warning_count,
        rewrite_outcomes=outcome_counts(guarded.rewrites),
    )


def totals(usage: Sequence[RoleUsage]) -> dict[str, float]:
    return {
        "attempts": float(sum(u.attempts for u in usage)),
        "failures": float(sum(u.failures for u in usage)),
        "prompt_tokens": float(sum(u.prompt_tokens for u in usage)),
        "completion_tokens": float(sum(u.completion_tokens for u in usage)),
        "latency_s": round(sum(u.latency_s for u in usage), 3),
        "cost_usd": round(sum(u.cost_usd for u in usage), 6),
    }


def build_eval_report(
    *,
    guarded: GuardedDeclaration,
    scores: JudgeScores,
    bertscore: BertScoreResult | None,
    reference_path: str,
    reference_found: bool,
    usage: Sequence[RoleUsage],
    usage_source: Mapping[str, str],
    run_id: str,
    created_at: str,
    eval_version: str = "",
) -> EvalReport:
    notes = []
    if not reference_found:
        notes.append(f"No reference declaration at {reference_path}: BERTScore was not computed.")
    for asset, src in usage_source.items():
        if src == "none":
            notes.append(f"No call records found for {asset} (neither in its value nor in the call log).")
    return EvalReport(
        case_id=guarded.case_id, model_config_name=guarded.model_config_name, run_id=run_id, created_at=created_at,
        reference_path=reference_path, reference_found=reference_found, bertscore=bertscore,
        judges=summarize_judges(scores), guards=summarize_guards(guarded), usage=list(usage),
        usage_source=dict(usage_source), totals=totals(usage), declaration_words=guarded.declaration.word_count(),
        declaration_provenance=guarded.provenance, eval_version=eval_version, notes=notes,
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return out


def render_report_md(report: EvalReport, images: Mapping[str, str]) -> str:
    """The report as Markdown; `images` maps a chart title to its link (a file name, or a data URI for the UI)."""
    r = report
    lines = [f"# Evaluation: {r.case_id} / {r.model_config_name}", "",
             f"Run `{r.run_id}`, {r.created_at}. Declaration: **{r.guards.status}**, {r.declaration_words} words.", ""]
    for n in r.notes:
        lines += [f"> {n}", ""]
    lines += ["## BERTScore against the reference declaration", ""]
    if r.bertscore is None:
        lines += ["Not computed: no reference declaration for this case.", ""]
    else:
        b = r.bertscore
        lines += [f"Model {b.model}; windows of about {b.window_words} words; {b.pairs_scored} window pairs scored.", "",
                  f"**Overall: precision {_fmt(b.precision)}, recall {_fmt(b.recall)}, F1 {_fmt(b.f1)}**", ""]
        lines += _table(["section", "status", "P", "R", "F1", "words (decl/ref)", "windows (decl/ref)"], [
            (s.title, s.status, _fmt(s.precision), _fmt(s.recall), _fmt(s.f1), f"{s.candidate_words}/{s.reference_words}",
             f"{s.candidate_windows}/{s.reference_windows}") for s in b.sections])
        lines.append("")
    j = r.judges
    lines += ["## Judge scores", "",
              f"Judges: {', '.join(j.judges)}" + (" (sharing one model: their agreement is not independent)" if j.shared_model else "")
              + f". Overall mean {_fmt(j.overall_mean, 2)}; agreement {_fmt(j.overall_agreement, 2)} "
              f"(Krippendorff's alpha, {j.alpha_level}: {_fmt(j.overall_alpha, 2)}); "
              f"{j.unscorable} unscorable answer(s); {j.not_judged} not judged (no section or a gap marker).", ""]
    lines += _table(["element", "mean", *j.judges, "agreement", "alpha"], [
        (e, _fmt(m, 2), *[judge_cell(j, jr, e) for jr in j.judges], _fmt(j.agreement.get(e), 2),
         _fmt(j.alpha.get(e), 2))
        for e, m in j.mean_by_element.items()])
    g = r.guards
    lines += ["", "## Guards", "",
              f"Draft: {g.draft_serious} serious, {g.draft_warnings} warnings. Final: {g.serious} serious, "
              f"{g.warnings} warnings. Rewrites: " + (", ".join(f"{k} {v}" for k, v in g.rewrite_outcomes.items()) or "none"),
              ""]
    if g.by_rule:
        lines += _table(["rule", "serious", "warnings"], [(k, v["serious"], v["warning"]) for k, v in g.by_rule.items()])
        lines.append("")
    if g.reasons:
        lines += ["NOT READY because:", ""] + [f"- {x}" for x in g.reasons] + [""]
    lines += ["## Calls, tokens, latency and cost", ""]
    lines += _table(["asset", "role", "attempts", "ok", "failed", "tokens in", "tokens out", "latency s", "cost $"], [
        (u.asset, u.role, u.attempts, u.ok, u.failures, u.prompt_tokens, u.completion_tokens, f"{u.latency_s:.2f}",
         f"{u.cost_usd:.4f}") for u in r.usage])
    t = r.totals
    lines += ["", f"Total: {int(t['attempts'])} attempts, {int(t['failures'])} failed, "
                  f"{int(t['prompt_tokens'])} + {int(t['completion_tokens'])} tokens, {t['latency_s']:.1f} s, "
                  f"${t['cost_usd']:.4f}. Records from: "
                  + ", ".join(f"{a}: {s}" for a, s in r.usage_source.items()), ""]
    if images:
        lines += ["## Charts", ""] + [f"![{title}]({link})\n" for title, link in images.items()]
    lines += ["## Provenance", "", f"- evaluation: run {r.run_id}, {r.created_at}, {r.eval_version or 'n/a'}"]
    if r.declaration_provenance is not None:
        lines += [f"- declaration: {r.declaration_provenance.one_line()}"]
    lines.append("")
    return "\n".join(lines)


# --- across model configurations -------------------------------------------------------------------------------


def compare_models(reports: Mapping[str, EvalReport]) -> list[ComparisonRow]:
    by_model: dict[str, list[EvalReport]] = {}
    for rep in reports.values():
        by_model.setdefault(rep.model_config_name, []).append(rep)
    rows = []
    for model, reps in sorted(by_model.items()):
        f1s = [x.bertscore.f1 for x in reps if x.bertscore is not None and x.bertscore.f1 is not None]
        judges = [x.judges.overall_mean for x in reps if x.judges.overall_mean is not None]
        serious = sum(x.guards.serious for x in reps)
        latency = sum(x.totals.get("latency_s", 0.0) for x in reps)
        rows.append(ComparisonRow(
            model_config_name=model, cases=len(reps), cases_with_reference=len(f1s),
            ready=sum(1 for x in reps if x.guards.status == "READY"),
            mean_f1=mean(f1s) if f1s else None, mean_judge=mean(judges) if judges else None,
            guard_serious=serious, mean_guard_serious=serious / len(reps), latency_s=round(latency, 3),
            mean_latency_s=round(latency / len(reps), 3), cost_usd=round(sum(x.totals.get("cost_usd", 0.0) for x in reps), 6),
            tokens=int(sum(x.totals.get("prompt_tokens", 0) + x.totals.get("completion_tokens", 0) for x in reps)),
        ))
    return rows


def render_comparison_md(rows: Sequence[ComparisonRow], partitions: Sequence[str], images: Mapping[str, str],
                         run_id: str = "", created_at: str = "") -> str:
    lines = ["# Model comparison", "", f"Over {len(partitions)} evaluated partition(s): {', '.join(sorted(partitions))}.",
             f"Run `{run_id}`, {created_at}.", ""]
    lines += _table(["model configuration", "cases", "READY", "mean F1 (cases)", "mean judge", "guard serious",
                     "latency s (mean/case)", "cost $", "tokens"], [
        (r.model_config_name, r.cases, r.ready, f"{_fmt(r.mean_f1)} ({r.cases_with_reference})", _fmt(r.mean_judge, 2),
         r.guard_serious, f"{r.latency_s:.1f} ({r.mean_latency_s:.1f})", f"{r.cost_usd:.4f}", r.tokens) for r in rows])
    lines.append("")
    if images:
        lines += [f"![{title}]({link})\n" for title, link in images.items()]
    return "\n".join(lines)
