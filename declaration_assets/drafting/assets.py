"""`draft`: the declaration, section by legal element, every fact cited to its exhibit and page."""



import dagster as dg
from pydantic import Field

from ..cases.models import CaseRecord
from ..extraction.models import ExtractedCase
from ..llm.models import CallContext
from ..llm.records import records_summary, records_table
from ..llm.resources import LLMRouter
from ..llm.routing import RoutingFileError, load_routes
from ..orchestration.policies import (LLM_POOL, LLM_RETRY_POLICY, LLMAssetConfig, llm_failure, permanent_failure,
                                      stop_on_interrupt)
from ..orchestration.ui import ui_attributes
from ..partitions import by_case_dimension, case_and_model, case_model_partitions
from ..privacy.settings import previews_enabled
from ..requirements import load_requirements
from ..retrieval.assets import evidence_coverage_metadata
from ..retrieval.embeddings import Embedder
from ..retrieval.index import query_search  # hybrid (dense + BM25) search
from ..retrieval.models import ChunkIndex
from . import prompts
from .models import Citation, Draft
from .pipeline import DraftOutcome, DraftSettings, build_draft, gap_label, section_table
from .profiles import DEFAULT_PROFILE, get_profile, routing_profile


class DraftConfig(LLMAssetConfig):
    """Unset fields come from the model configuration's drafting profile (routing file, `drafting_profile`)."""

    profile: str | None = Field(default=None, description="drafting profile (small | capable); default: the routing file's")
    evidence_per_element: int | None = Field(default=None, ge=1, le=200, description="ranked passages per legal element")
    evidence_per_call: int | None = Field(default=None, ge=1, le=200, description="passages per drafter call")
    k_per_query: int | None = Field(default=None, ge=1, le=100, description="passages retrieved per query before the union")
    max_tokens: int | None = Field(default=None, ge=32, le=32000, description="answer budget of each drafter call")


def configured_profile(llm: LLMRouter, model_config: str) -> str:
    """The drafting profile the routing file gives `model_config` (the packaged default when it names none); an
    unknown profile name fails the step without retries, naming the file and the key."""
    path = llm.routes_location()
    try:
        routes = load_routes(path)
    except RoutingFileError:
        return DEFAULT_PROFILE
    try:
        return routing_profile(routes, model_config, path)
    except RoutingFileError as e:
        raise permanent_failure(str(e)) from e


def draft_settings(config: DraftConfig, profile_name: str) -> DraftSettings:
    return DraftSettings.from_profile(
        get_profile(config.profile or profile_name), evidence_per_element=config.evidence_per_element,
        evidence_per_call=config.evidence_per_call, k_per_query=config.k_per_query, max_tokens=config.max_tokens)


def page_texts(extracted: ExtractedCase) -> dict[Citation, str]:
    letters = {d.name: d.exhibit for d in extracted.documents}
    return {Citation(exhibit=letters[p.document], page=p.page): p.text for p in extracted.pages if p.document in letters}


def dropped_by_reason(d: Draft) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in d.sections:
        for k, v in s.sentences_dropped.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def draft_metadata(outcome: DraftOutcome) -> dict[str, dg.MetadataValue]:
    d = outcome.draft
    records = outcome.records
    summary = records_summary(records)
    previews = previews_enabled()  # off: no value below carries case text (docs/PRIVACY.md)
    meta: dict[str, dg.MetadataValue] = {
        "words": dg.MetadataValue.int(d.word_count()),
        "sections": dg.MetadataValue.md(section_table(outcome, gap_reasons=previews)),
        "words_by_section": dg.MetadataValue.json({s.element_id or s.kind: s.word_count() for s in d.sections}),
        "citations_by_section": dg.MetadataValue.json({s.element_id or s.kind: len(s.citations()) for s in d.sections}),
        "evidence_used": dg.MetadataValue.int(sum(len(s.evidence_chunk_ids) for s in d.sections)),
        "evidence_dropped": dg.MetadataValue.int(sum(s.evidence_dropped for s in d.sections)),
        "gaps": dg.MetadataValue.json({s.element_id: s.gap if previews else gap_label(s.gap or "") for s in d.gaps()}),
        "gap_count": dg.MetadataValue.int(len(d.gaps())),
        "citations_removed": dg.MetadataValue.int(sum(len(s.citations_removed) for s in d.sections)),
        "exhibits": dg.MetadataValue.int(len(d.exhibits)),
        "prompt_version": dg.MetadataValue.text(d.prompt_version),
        "drafting_profile": dg.MetadataValue.text(outcome.profile),
        "sentences_unverified": dg.MetadataValue.int(sum(
            1 for s in d.sections for n in s.review_notes if n.startswith("unverified"))),
        "sentences_dropped": dg.MetadataValue.json(dropped_by_reason(d)),
        # Which documents and pages reached the drafter, per element (retrieval may report more detail here).
        "coverage": dg.MetadataValue.json({s.element_id: s.coverage for s in d.element_sections()}),
        "llm_calls": records_table(records),
        "llm_attempts": dg.MetadataValue.int(summary["attempts"]),
        "llm_latency_s": dg.MetadataValue.float(summary["latency_s"]),
        "llm_cost_usd": dg.MetadataValue.float(summary["cost_usd"]),
    }
    if d.warnings:
        meta["warnings"] = dg.MetadataValue.json(d.warnings)
    if previews:
        meta["preview"] = dg.MetadataValue.md(d.markdown())
    return meta


@dg.asset(
    **ui_attributes("draft"),
    partitions_def=case_model_partitions,
    ins={
        "case_record": dg.AssetIn(partition_mapping=by_case_dimension),
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
    case_record: CaseRecord,
    extracted_text: ExtractedCase,
    chunk_index: ChunkIndex,
    llm: LLMRouter,
    embedder: Embedder,
) -> dg.Output[Draft]:
    case_id, model_config = case_and_model(context)
    record = case_record
    requirements = load_requirements(record.case_type).for_language(record.language)  # her language's queries too
    ctx = CallContext(case_id=case_id, asset="draft", model_config=model_config, case_record=record,
                      run_id=context.run_id)
    settings = draft_settings(config, configured_profile(llm, model_config))
    context.log.info(f"drafting profile {settings.profile!r}: {settings.evidence_per_element} passages per element, "
                     f"{settings.evidence_per_call} per call, {settings.max_tokens} answer tokens")
    with stop_on_interrupt(), llm.budget(config.time_budget_s, f"draft {case_id}/{model_config}"):
        outcome = build_draft(
            record=record,
            requirements=requirements,
            documents=extracted_text.documents,
            search=query_search(chunk_index, embedder, [q for e in requirements.elements for q in e.queries],
                                settings.k_per_query),
            client=llm,
            ctx=ctx,
            settings=settings,
            log=context.log.info,
            pages=[(p.document, p.text) for p in extracted_text.pages],
            page_texts=page_texts(extracted_text),
        )
    if outcome.all_calls_failed:
        raise llm_failure(f"every drafter call failed for {case_id} under {model_config!r}; see the call records",
                          outcome.records, {"llm_calls": records_table(outcome.records)})
    coverage = evidence_coverage_metadata(outcome.draft.sections, chunk_index)  # documents and pages per element
    return dg.Output(outcome.draft, metadata={**draft_metadata(outcome), **coverage})
