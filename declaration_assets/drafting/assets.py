"""`draft`: the declaration, section by legal element, every fact cited to its exhibit and page."""


from collections.abc import Callable, Sequence

import dagster as dg
from pydantic import Field

from ..cases.storage import CaseStorage
from ..extraction.metadata import previews_enabled
from ..extraction.models import ExtractedCase
from ..llm.models import CallContext
from ..llm.resources import LLMRouter, records_summary, records_table
from ..orchestration.policies import LLM_POOL, LLM_RETRY_POLICY, LLMAssetConfig, llm_failure, stop_on_interrupt
from ..orchestration.ui import ui_attributes
from ..partitions import by_case_dimension, case_and_model, case_model_partitions
from ..requirements import load_requirements
from ..retrieval.embeddings import Embedder
from ..retrieval.index import retrieve
from ..retrieval.models import ChunkIndex, ScoredChunk
from . import prompts
from .models import Draft
from .pipeline import DraftOutcome, DraftSettings, build_draft, section_table


class DraftConfig(LLMAssetConfig):
    evidence_per_element: int = Field(default=4, ge=1, le=24, description="ranked passages per legal element")
    evidence_per_call: int = Field(default=1, ge=1, le=12, description="passages per drafter call (one paragraph)")
    k_per_query: int = Field(default=4, ge=1, le=24, description="passages retrieved per query before the union")
    max_tokens: int = Field(default=160, ge=32, le=4096, description="answer budget of each drafter call")


def query_search(
    index: ChunkIndex, embedder: Embedder, queries: Sequence[str], k: int
) -> Callable[[str], list[ScoredChunk]]:
    """Search per query, with every query embedded in one batch up front (one model call instead of one each)."""
    if embedder.model_name != index.model_name:
        return lambda q: retrieve(index, embedder, q, k)  # raises retrieval's model-mismatch error
    unique = list(dict.fromkeys(q for q in queries if q.strip()))
    vectors = embedder.embed(unique) if unique else None
    position = {q: i for i, q in enumerate(unique)}

    def search(query: str) -> list[ScoredChunk]:
        if vectors is not None and query in position:
            return index.search(vectors[position[query]], k)
        return retrieve(index, embedder, query, k)

    return search


def draft_metadata(outcome: DraftOutcome) -> dict[str, dg.MetadataValue]:
    d = outcome.draft
    records = outcome.records
    summary = records_summary(records)
    meta: dict[str, dg.MetadataValue] = {
        "words": dg.MetadataValue.int(d.word_count()),
        "sections": dg.MetadataValue.md(section_table(outcome)),
        "words_by_section": dg.MetadataValue.json({s.element_id or s.kind: s.word_count() for s in d.sections}),
        "citations_by_section": dg.MetadataValue.json({s.element_id or s.kind: len(s.citations()) for s in d.sections}),
        "evidence_used": dg.MetadataValue.int(sum(len(s.evidence_chunk_ids) for s in d.sections)),
        "evidence_dropped": dg.MetadataValue.int(sum(s.evidence_dropped for s in d.sections)),
        "gaps": dg.MetadataValue.json({s.element_id: s.gap for s in d.gaps()}),
        "gap_count": dg.MetadataValue.int(len(d.gaps())),
        "citations_removed": dg.MetadataValue.int(sum(len(s.citations_removed) for s in d.sections)),
        "exhibits": dg.MetadataValue.int(len(d.exhibits)),
        "prompt_version": dg.MetadataValue.text(d.prompt_version),
        "llm_calls": records_table(records),
        "llm_attempts": dg.MetadataValue.int(summary["attempts"]),
        "llm_latency_s": dg.MetadataValue.float(summary["latency_s"]),
        "llm_cost_usd": dg.MetadataValue.float(summary["cost_usd"]),
    }
    if d.warnings:
        meta["warnings"] = dg.MetadataValue.json(d.warnings)
    if previews_enabled():
        meta["preview"] = dg.MetadataValue.md(d.markdown())
    return meta


@dg.asset(
    **ui_attributes("draft"),
    partitions_def=case_model_partitions,
    ins={
        "extracted_text": dg.AssetIn(partition_mapping=by_case_dimension),
        "chunk_index": dg.AssetIn(partition_mapping=by_case_dimension),
    },
    retry_policy=LLM_RETRY_POLICY,
    pool=LLM_POOL,
    code_version=prompts.DRAFT_PROMPT_VERSION,
    description="First-person declaration drafted per legal element from retrieved evidence, every paragraph cited "
    "[Ex. B, p. 2]; deterministic introduction, attestation and exhibit list.",
)
def draft(
    context: dg.AssetExecutionContext,
    config: DraftConfig,
    extracted_text: ExtractedCase,
    chunk_index: ChunkIndex,
    llm: LLMRouter,
    embedder: Embedder,
    case_storage: CaseStorage,
) -> dg.Output[Draft]:
    case_id, model_config = case_and_model(context)
    record = case_storage.read_case_record(case_id)
    requirements = load_requirements(record.case_type)
    ctx = CallContext(case_id=case_id, asset="draft", model_config=model_config, case_record=record,
                      run_id=context.run_id)
    settings = DraftSettings(evidence_per_element=config.evidence_per_element,
                             evidence_per_call=config.evidence_per_call, max_tokens=config.max_tokens)
    with stop_on_interrupt(), llm.budget(config.time_budget_s, f"draft {case_id}/{model_config}"):
        outcome = build_draft(
            record=record,
            requirements=requirements,
            documents=extracted_text.documents,
            search=query_search(chunk_index, embedder, [q for e in requirements.elements for q in e.queries],
                                config.k_per_query),
            client=llm,
            ctx=ctx,
            settings=settings,
            log=context.log.info,
            pages=[(p.document, p.text) for p in extracted_text.pages],
        )
    if outcome.all_calls_failed:
        raise llm_failure(f"every drafter call failed for {case_id} under {model_config!r}; see the call records",
                          outcome.records, {"llm_calls": records_table(outcome.records)})
    return dg.Output(outcome.draft, metadata=draft_metadata(outcome))
