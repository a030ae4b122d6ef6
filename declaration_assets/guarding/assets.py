"""`guarded_declaration`: the draft with what the judges and guards flagged rewritten, checked, and exported."""

# No `from __future__ import annotations` here: Dagster reads the context and config annotations at decoration.
from typing import Any

import dagster as dg
from pydantic import Field

from .. import settings
from ..cases.models import CaseRecord
from ..drafting.models import Draft
from ..drafting.voice import declarant_name_words
from ..exports.provenance import make_provenance
from ..exports.write import write_declaration_version
from ..extraction.models import ExtractedCase
from ..checks.checks import GUARDED_CHECK_SPECS, guard_check_result, guard_metadata
from ..checks.evaluate import case_facts, guard_draft
from ..judging.models import JudgeScores
from ..llm.models import CallContext
from ..llm.records import records_summary, records_table
from ..llm.resources import LLMRouter
from ..orchestration.policies import LLM_POOL, LLM_RETRY_POLICY, LLMAssetConfig, stop_on_interrupt
from ..orchestration.ui import ui_attributes
from ..partitions import by_case_dimension, case_and_model, case_model_partitions
from ..privacy.settings import case_text, previews_enabled, reason_label
from ..requirements import load_requirements
from . import prompts
from .models import GuardedDeclaration
from .rewrite import RewriteSettings, outcome_counts, rewrite_flagged


class GuardConfig(LLMAssetConfig):
    judge_threshold: float = Field(default=3.0, ge=1, le=5, description="rewrite elements whose judges' mean is below")
    max_rewrites: int = Field(default=8, ge=0, le=32, description="at most this many section rewrites")
    max_tokens: int = Field(default=320, ge=32, le=4096, description="answer budget of each guard call")


def rewrite_table(value: GuardedDeclaration) -> str:
    if not value.rewrites:
        return "Nothing was flagged for a rewrite."
    rows = ["| section | outcome | serious/warnings/length gap before | after | reasons |",
            "| --- | --- | --- | --- | --- |"]
    for r in value.rewrites:
        after = "/".join(map(str, r.after)) if r.after else ""
        # The reasons quote guard findings and judges: with previews off, their number only.
        reasons = case_text("; ".join(r.reasons)[:300], f"{len(r.reasons)} reason(s)").replace("|", "\\|")
        rows.append(f"| {r.title} | {r.outcome} | {'/'.join(map(str, r.before))} | {after} | {reasons} |")
    return "\n".join(rows)


def guarded_metadata(value: GuardedDeclaration, markdown: str) -> dict[str, Any]:
    summary = records_summary(value.records)
    meta: dict[str, Any] = {
        "status": value.status,
        "reasons": dg.MetadataValue.md("\n".join(f"- {reason_label(r)}" for r in value.reasons) or "none"),
        **guard_metadata(value.report),
        "draft_serious": value.draft_report.serious_count,
        "draft_warnings": value.draft_report.warning_count,
        "rewrites": dg.MetadataValue.md(rewrite_table(value)),
        "rewrite_outcomes": dg.MetadataValue.json(outcome_counts(value.rewrites)),
        "llm_calls": records_table(value.records),
        "llm_attempts": summary["attempts"],
        "llm_latency_s": float(summary["latency_s"]),
        "llm_cost_usd": float(summary["cost_usd"]),
        "output_dir": dg.MetadataValue.path(value.output_dir or ""),
        "declaration_md": dg.MetadataValue.path(value.files.get("declaration.md", "")),
        "declaration_docx": dg.MetadataValue.path(value.files.get("declaration.docx", "")),
        "version": value.provenance.version or "",
        "routing_file_sha256": value.provenance.routing_file_sha256,
        "prompt_version": value.provenance.prompt_version,
    }
    if previews_enabled():
        meta["preview"] = dg.MetadataValue.md(markdown)
    return meta


@dg.asset(
    **ui_attributes("guarded_declaration"),
    partitions_def=case_model_partitions,
    ins={
        "case_record": dg.AssetIn(partition_mapping=by_case_dimension),
        "extracted_text": dg.AssetIn(partition_mapping=by_case_dimension),
    },
    check_specs=GUARDED_CHECK_SPECS,
    retry_policy=LLM_RETRY_POLICY,
    pool=LLM_POOL,
    code_version=prompts.GUARD_PROMPT_VERSION,
    description="The draft with the sections flagged by judges or guards rewritten (the better version kept), "
    "re-checked; READY or NOT READY; exported as Markdown and DOCX in a new versioned folder.",
)
def guarded_declaration(
    context: dg.AssetExecutionContext,
    config: GuardConfig,
    case_record: CaseRecord,
    draft: Draft,
    judge_scores: JudgeScores,
    extracted_text: ExtractedCase,
    llm: LLMRouter,
):  # yields the Output, then the guards check result
    case_id, model_config = case_and_model(context)
    record = case_record
    requirements = load_requirements(draft.case_type)
    facts = case_facts(draft, record, extracted_text)

    def guard(d: Draft):
        return guard_draft(d, record, extracted_text, facts)

    draft_report = guard(draft)
    ctx = CallContext(case_id=case_id, asset="guarded_declaration", model_config=model_config, case_record=record,
                      run_id=context.run_id)
    rw = RewriteSettings(judge_threshold=config.judge_threshold, max_rewrites=config.max_rewrites,
                         max_tokens=config.max_tokens)
    with stop_on_interrupt(), llm.budget(config.time_budget_s, f"guarded_declaration {case_id}/{model_config}"):
        result = rewrite_flagged(
            draft, draft_report, judge_scores, extracted_text, client=llm, ctx=ctx, guard=guard,
            must_show={e.id: e.must_show for e in requirements.elements}, settings=rw,
            declarant_names=declarant_name_words(record),
        )
    status = "READY" if result.report.ready else "NOT READY"
    reasons = result.report.reasons()
    provenance = make_provenance(
        case_id, model_config, context.run_id, f"{draft.prompt_version}+{prompts.GUARD_PROMPT_VERSION}",
        routing_file=llm.routes_location(),
    )
    written = write_declaration_version(
        settings.current().outputs_dir, result.declaration, status=status, reasons=reasons, provenance=provenance,
        filing=f"In support of Form {requirements.form}, {requirements.title}",
        record_notes=extracted_text.review_notes,
    )
    value = GuardedDeclaration(
        case_id=case_id, model_config_name=model_config, status=status, reasons=reasons,
        declaration=result.declaration, draft_report=draft_report, report=result.report, rewrites=result.rewrites,
        records=result.records, provenance=written.provenance, output_dir=str(written.folder), files=written.files,
    )
    context.log.info(f"{case_id}/{model_config}: {status}; declaration written to {written.folder}")
    yield dg.Output(value, metadata=guarded_metadata(value, written.markdown))
    yield guard_check_result(result.report, asset_key="guarded_declaration", severity=dg.AssetCheckSeverity.ERROR)
