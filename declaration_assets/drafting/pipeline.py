"""Drafting a declaration from retrieved evidence through the `drafter` role (client-agnostic, testable with FakeLLM)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..cases.models import CaseRecord
from ..extraction.models import DocumentInfo
from ..llm.models import EVIDENCE_SLOT, CallContext, Completion, CompletionClient, LLMFailure, PromptSpec
from ..requirements.models import CaseRequirements, Element
from ..retrieval.models import ScoredChunk
from . import prompts
from .compose import (
    batches,
    build_exhibits,
    closing,
    compose_paragraph,
    declarant_name_words,
    third_party_documents,
    evidence_line,
    existing_citations,
    gap_paragraph,
    gather_evidence,
    introduction,
    lettering_problems,
    order_sections,
)
from .models import Citation, Draft, Section

DRAFTER_ROLE = "drafter"


@dataclass(frozen=True)
class DraftSettings:
    evidence_per_element: int = 4  # ranked passages kept per element after the union of its queries
    evidence_per_call: int = 1  # passages per drafter call; each call yields one paragraph (1 suits small models)
    max_tokens: int = 160
    temperature: float = 0.0


@dataclass
class ElementResult:
    section: Section
    completions: list[Completion] = field(default_factory=list)
    failure_records: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    failed_calls: int = 0
    retrieved: int = 0


def drafter_prompt(element: Element, evidence: Sequence[ScoredChunk], settings: DraftSettings) -> PromptSpec:
    """The drafter's prompt for one batch of an element's evidence, best-ranked first (the router drops from the end)."""
    return PromptSpec(
        system=prompts.DRAFTER_SYSTEM,
        user=prompts.DRAFTER_USER.format(element_title=element.title.lower(), evidence=EVIDENCE_SLOT),
        evidence=tuple(evidence_line(sc) for sc in evidence),
        evidence_separator=prompts.EVIDENCE_SEPARATOR,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        prompt_version=prompts.DRAFT_PROMPT_VERSION,
    )


def draft_element(
    element: Element,
    evidence: Sequence[ScoredChunk],
    client: CompletionClient,
    ctx: CallContext,
    valid: set[Citation],
    settings: DraftSettings,
    declarant_names: frozenset[str] = frozenset(),
    third_party_docs: frozenset[str] = frozenset(),
) -> ElementResult:
    """One element's section: a paragraph per batch of evidence, or a gap marker saying why there is none."""
    if not evidence:
        section = Section(
            kind="element", element_id=element.id, title=element.title,
            paragraphs=[gap_paragraph(element, evidence, "no evidence")], gap="no evidence retrieved",
        )
        return ElementResult(section=section)
    result = ElementResult(section=Section(kind="element", element_id=element.id, title=element.title, paragraphs=[]))
    paragraphs: list[str] = []
    used_ids: list[str] = []
    dropped: Counter[str] = Counter()
    removed: list[str] = []
    attributed = 0
    evidence_dropped = 0
    deployment = None
    errors: list[str] = []
    for group in batches(evidence, settings.evidence_per_call):
        result.calls += 1
        try:
            completion = client.complete(DRAFTER_ROLE, drafter_prompt(element, group, settings), ctx)
        except LLMFailure as e:
            result.failed_calls += 1
            result.failure_records.extend(e.records)
            errors.append(f"{type(e).__name__}: {e}")
            continue
        result.completions.append(completion)
        deployment = completion.deployment
        used = group[: completion.evidence_used] if completion.evidence_used else []
        evidence_dropped += completion.evidence_dropped
        used_ids += [sc.chunk.chunk_id for sc in used]
        para = compose_paragraph(completion.text, used, valid, declarant_names=declarant_names,
                                 third_party_docs=third_party_docs)
        dropped.update(para.dropped)
        removed += para.citations_removed
        attributed += para.attributed
        if para.text:
            paragraphs.append(para.text)
    section = result.section
    section.evidence_chunk_ids = used_ids
    section.evidence_dropped = evidence_dropped
    section.deployment = deployment
    section.sentences_dropped = dict(dropped)
    section.citations_removed = removed
    section.citations_attributed = attributed
    if paragraphs:
        section.paragraphs = paragraphs
    else:
        if result.failed_calls == result.calls:
            reason = f"every drafter call failed ({errors[-1]})" if errors else "every drafter call failed"
        elif dropped:
            reason = "all sentences removed: " + ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()))
        else:
            reason = "empty answer"
        section.paragraphs = [gap_paragraph(element, evidence, reason)]
        section.gap = reason
    return result


@dataclass
class DraftOutcome:
    draft: Draft
    elements: dict[str, ElementResult]

    @property
    def records(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for r in self.elements.values():
            for c in r.completions:
                out.extend(c.records)
            out.extend(r.failure_records)
        return out

    @property
    def all_calls_failed(self) -> bool:
        calls = sum(r.calls for r in self.elements.values())
        return calls > 0 and calls == sum(r.failed_calls for r in self.elements.values())


def build_draft(
    *,
    record: CaseRecord,
    requirements: CaseRequirements,
    documents: Sequence[DocumentInfo],
    search: Callable[[str], Sequence[ScoredChunk]],
    client: CompletionClient,
    ctx: CallContext,
    settings: DraftSettings = DraftSettings(),
    log: Callable[[str], None] = lambda _msg: None,
    pages: Sequence[tuple[str, str]] = (),
) -> DraftOutcome:
    """The whole declaration: deterministic introduction, one drafted section per element (file order), closing."""
    exhibits = build_exhibits(documents)
    valid = existing_citations(exhibits)
    names = declarant_name_words(record)
    third_party_docs = third_party_documents(pages, names)  # (document, page text) pairs of the case
    if third_party_docs:
        log(f"written about the declarant by others (their 'I' is not hers): {', '.join(sorted(third_party_docs))}")
    start = time.monotonic()
    n = len(requirements.elements)
    sections = [introduction(record, requirements)]
    results: dict[str, ElementResult] = {}
    for i, element in enumerate(requirements.elements, start=1):
        log(f"section {i} of {n} ({element.id}): retrieving, {time.monotonic() - start:.1f}s elapsed")
        evidence = gather_evidence(element.queries, search, settings.evidence_per_element)
        res = draft_element(element, evidence, client, ctx, valid, settings, names, third_party_docs)
        res.retrieved = len(evidence)
        results[element.id] = res
        sections.append(res.section)
        state = f"gap ({res.section.gap})" if res.section.gap else f"{res.section.word_count()} words"
        log(f"section {i} of {n} ({element.id}) drafted: {state}, {time.monotonic() - start:.1f}s elapsed")
    sections.append(closing(record.declarant.name))
    draft = Draft(
        case_id=record.case_id,
        model_config_name=ctx.model_config,
        case_type=requirements.case_type,
        declarant_name=record.declarant.name,
        language=record.language,
        sections=order_sections(sections, requirements),
        exhibits=exhibits,
        prompt_version=prompts.DRAFT_PROMPT_VERSION,
        warnings=lettering_problems(documents),
    )
    return DraftOutcome(draft=draft, elements=results)


def section_table(outcome: DraftOutcome) -> str:
    """Markdown table: per section words, citations, evidence used / dropped, post-processing removals."""
    rows = ["| section | words | citations | evidence retrieved | used | dropped by router | sentences removed "
            "| citations removed | gap |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in outcome.draft.sections:
        res = outcome.elements.get(s.element_id or "")
        removed = ", ".join(f"{k} {v}" for k, v in sorted(s.sentences_dropped.items()))
        rows.append(
            f"| {s.title} | {s.word_count()} | {len(s.citations())} | {res.retrieved if res else ''} "
            f"| {len(s.evidence_chunk_ids)} | {s.evidence_dropped} | {removed} | {len(s.citations_removed)} "
            f"| {s.gap or ''} |"
        )
    return "\n".join(rows)
