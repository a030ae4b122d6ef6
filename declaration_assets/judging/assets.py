"""`judge_scores`: three or more judges score every legal element of the draft on the rubric, with reasons."""

import dagster as dg
from pydantic import Field

from ..cases.models import CaseRecord
from ..drafting.models import Draft, Section
from ..llm.models import CallContext
from ..llm.records import records_summary, records_table
from ..llm.resources import LLMRouter
from ..orchestration.policies import LLM_POOL, LLM_RETRY_POLICY, LLMAssetConfig, stop_on_interrupt
from ..orchestration.ui import ui_attributes
from ..partitions import by_case_dimension, case_and_model, case_model_partitions
from ..requirements import load_requirements
from ..retrieval.models import ChunkIndex
from . import prompts
from .judge import JudgeSettings, JudgingOutcome, run_judges, scores_table
from .models import JudgeScores


class JudgeConfig(LLMAssetConfig):
    concurrent: bool = Field(default=True, description="run the judges in parallel threads")
    max_tokens: int = Field(default=256, ge=32, le=2048, description="answer budget of each judge call")


def section_evidence(index: ChunkIndex, section: Section) -> list[str]:
    """The passages a section was drafted from, each with its citation label, in the section's order."""
    out = []
    for cid in section.evidence_chunk_ids:
        chunk = index.chunk(cid)
        if chunk is not None:
            out.append(f"{chunk.citation()} {' '.join(chunk.text.split())}")
    return out


def judge_metadata(outcome: JudgingOutcome) -> dict[str, dg.MetadataValue]:
    s = outcome.scores
    summary = records_summary(outcome.records)
    return {
        "scores": dg.MetadataValue.md(scores_table(s)),
        "mean_by_element": dg.MetadataValue.json(s.mean_by_element),
        "agreement_by_element": dg.MetadataValue.json(s.agreement),
        "overall_agreement": dg.MetadataValue.float(s.overall_agreement) if s.overall_agreement is not None
        else dg.MetadataValue.text("n/a (fewer than two judges scored any element)"),
        "krippendorff_alpha": dg.MetadataValue.float(s.overall_alpha) if s.overall_alpha is not None
        else dg.MetadataValue.text("n/a (undefined: too few units scored by two judges, or every score equal)"),
        "alpha_by_element": dg.MetadataValue.json({e: "n/a" if a is None else a for e, a in s.alpha.items()}),
        "unscorable": dg.MetadataValue.int(s.unscorable),
        "not_judged": dg.MetadataValue.int(s.not_judged),
        "judges": dg.MetadataValue.json({r: {"persona": s.personas.get(r), "models": s.judge_models.get(r)}
                                         for r in s.judges}),
        "shared_model": dg.MetadataValue.bool(s.shared_model),
        "judging_wall_s": dg.MetadataValue.float(round(outcome.wall_s, 3)),
        "llm_calls": records_table(outcome.records),
        "llm_attempts": dg.MetadataValue.int(summary["attempts"]),
        "llm_latency_s": dg.MetadataValue.float(summary["latency_s"]),
        "llm_cost_usd": dg.MetadataValue.float(summary["cost_usd"]),
        "prompt_version": dg.MetadataValue.text(prompts.JUDGE_PROMPT_VERSION),
    }


@dg.asset(
    **ui_attributes("judge_scores"),
    partitions_def=case_model_partitions,
    ins={
        "case_record": dg.AssetIn(partition_mapping=by_case_dimension),
        "chunk_index": dg.AssetIn(partition_mapping=by_case_dimension),
    },
    retry_policy=LLM_RETRY_POLICY,
    pool=LLM_POOL,
    code_version=prompts.JUDGE_PROMPT_VERSION,
    description="Rubric scores (supported by evidence, legally sufficient, consistent, first-person voice; 1-5) "
    "with reasons, per judge and legal element; means, agreement between judges and Krippendorff's alpha.",
)
def judge_scores(
    context: dg.AssetExecutionContext,
    config: JudgeConfig,
    case_record: CaseRecord,
    draft: Draft,
    chunk_index: ChunkIndex,
    llm: LLMRouter,
) -> dg.Output[JudgeScores]:
    case_id, model_config = case_and_model(context)
    # The case record travels with every call: it drives redaction when a judge runs on an external route.
    ctx = CallContext(case_id=case_id, asset="judge_scores", model_config=model_config,
                      case_record=case_record, run_id=context.run_id)
    with stop_on_interrupt(), llm.budget(config.time_budget_s, f"judge_scores {case_id}/{model_config}"):
        outcome = run_judges(
            draft=draft,
            requirements=load_requirements(draft.case_type),
            evidence_for=lambda section: section_evidence(chunk_index, section),
            client=llm,
            ctx=ctx,
            settings=JudgeSettings(max_tokens=config.max_tokens, concurrent=config.concurrent),
            log=context.log.info,
        )
    if outcome.scores.shared_model:
        context.log.info("several judges share one model; they differ by persona and rubric order")
    return dg.Output(outcome.scores, metadata=judge_metadata(outcome))
