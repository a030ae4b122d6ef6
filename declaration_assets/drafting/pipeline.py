"""Drafting a declaration from retrieved evidence through the `drafter` role (client-agnostic, testable with FakeLLM)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..cases.models import CaseRecord
from ..extraction.models import DocumentInfo
from ..llm.records import CallRecord
from ..llm.models import EVIDENCE_SLOT, CallContext, Completion, CompletionClient, LLMFailure, PromptSpec
from ..requirements.models import CaseRequirements, Element
from ..retrieval.models import ScoredChunk
from . import prompts
from .citations import build_exhibits, existing_citations, lettering_problems
from .compose import ComposedParagraph, compose_paragraph
from .evidence import batches, evidence_line, gather_evidence
from .grounding import GroundingRecord, SupportVerifier
from .models import Citation, Draft, Section
from .profiles import DraftingProfile
from .sections import closing, gap_paragraph, introduction, order_sections
from .voice import declarant_name_words, third_party_documents

DRAFTER_ROLE = "drafter"
# Words of a declaration outside its element sections (introduction, attestation).
FRAME_WORDS = 250


@dataclass(frozen=True)
class DraftSettings:
    """How one draft is made; `from_profile` gives a drafting profile's settings (drafting/profiles.py)."""

    evidence_per_element: int = 4  # ranked passages kept per element after the union of its queries
    evidence_per_call: int = 1  # passages per drafter call; each call yields one paragraph (1 suits small models)
    max_tokens: int = 160
    temperature: float = 0.0
    prompt: str = "small"  # prompt variant: "small" (a few sentences per passage) or "capable" (one narrative)
    passage_chars: int = 900
    continuations: int = 0  # follow-up calls when an answer stops at its token limit
    case_facts: bool = False
    target_words: int | None = None
    k_per_query: int = 4
    profile: str = "small"

    @classmethod
    def from_profile(cls, profile: DraftingProfile, **overrides: Any) -> "DraftSettings":
        values = {k: getattr(profile, k) for k in ("evidence_per_element", "evidence_per_call", "max_tokens",
                                                   "prompt", "passage_chars", "continuations", "case_facts",
                                                   "target_words", "k_per_query")}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(profile=profile.name, **values)

    @property
    def voice_per_paragraph(self) -> bool:
        # A narrative is judged per paragraph; the small profile's two-sentence answers keep the stricter
        # per-sentence rule, which is what keeps a 135M model's copied third-person notes out.
        return self.prompt == "capable"

    @property
    def paraphrase_flags(self) -> bool:
        # A strong model paraphrases: a weakly supported sentence is kept and flagged (see compose_paragraph).
        return self.prompt == "capable"


@dataclass
class ElementResult:
    section: Section
    completions: list[Completion] = field(default_factory=list)
    failure_records: list[CallRecord] = field(default_factory=list)
    calls: int = 0
    failed_calls: int = 0
    retrieved: int = 0
    continuations: int = 0


def case_facts_text(record: CaseRecord | None) -> str:
    """case.yaml's parties as short lines for the capable drafter (the router redacts them for external routes)."""
    if record is None:
        return "(none)"
    lines = []
    for p in record.parties:
        bits = [f"{p.role}: {p.name}"]
        if p.aliases:
            bits.append("also called " + ", ".join(p.aliases))
        if p.date_of_birth:
            bits.append(f"born {p.date_of_birth.strftime('%B %d, %Y').replace(' 0', ' ')}")
        if p.citizenship:
            bits.append(f"citizenship {p.citizenship}")
        if p.a_number:
            bits.append(f"A-number {p.a_number}")
        if getattr(p, "relationship", None):
            bits.append(f"relationship: {p.relationship}")
        lines.append("- " + "; ".join(bits))
    lines.append(f"- the declarant's language: {record.language}")
    return "\n".join(lines)


def element_words(requirements: CaseRequirements | None, settings: DraftSettings) -> int:
    """The element's share of the target length (the middle of the requirements band unless the profile says)."""
    if requirements is None or not requirements.elements:
        return 400
    band = requirements.length
    target = settings.target_words or (band.min_words + band.max_words) // 2
    return max(150, (target - FRAME_WORDS) // len(requirements.elements))


def drafter_prompt(element: Element, evidence: Sequence[ScoredChunk], settings: DraftSettings, *,
                   facts: str = "", words: int = 400, so_far: str = "") -> PromptSpec:
    """The drafter's prompt for one batch of an element's evidence, best-ranked first (the router drops from the
    end). `so_far`: the answer a continuation request repeats."""
    lines = tuple(evidence_line(sc, settings.passage_chars) for sc in evidence)
    if settings.prompt == "capable":
        user = prompts.DRAFTER_CAPABLE_USER.format(
            element_title=element.title, must_show=" ".join(element.must_show.split()), case_facts=facts or "(none)",
            words=words, paragraphs=max(1, round(words / 160)), evidence=EVIDENCE_SLOT)
        system, separator = prompts.DRAFTER_CAPABLE_SYSTEM, prompts.DRAFTER_CAPABLE_SEPARATOR
    else:
        user = prompts.DRAFTER_USER.format(element_title=element.title.lower(), evidence=EVIDENCE_SLOT)
        system, separator = prompts.DRAFTER_SYSTEM, prompts.EVIDENCE_SEPARATOR
    if so_far:
        user += prompts.CONTINUE_USER.format(so_far=so_far)
    return PromptSpec(
        system=system,
        user=user,
        evidence=lines,
        evidence_separator=separator,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        prompt_version=prompts.DRAFT_PROMPT_VERSION,
    )


def stopped_at_limit(completion: Completion, max_tokens: int) -> bool:
    """The answer stopped at its token limit: the server said so, or (a server or cache that does not say) it
    used the whole budget."""
    if completion.finish_reason is not None:
        return completion.finish_reason in ("length", "max_tokens")
    return bool(completion.completion_tokens) and completion.completion_tokens >= max_tokens


@dataclass
class DraftContext:
    """What every element's drafting shares: the record as grounding sees it, and what other elements kept."""

    grounding: GroundingRecord = field(default_factory=GroundingRecord)
    facts: str = ""
    words: int = 400
    kept: set[frozenset[str]] = field(default_factory=set)
    verifier: SupportVerifier | None = None


def ask_drafter(element: Element, group: Sequence[ScoredChunk], client: CompletionClient, ctx: CallContext,
                settings: DraftSettings, shared: DraftContext, result: ElementResult) -> tuple[Completion, str, bool]:
    """One batch's answer: its last completion, the whole text, and whether it still stopped at its token limit.
    An answer cut at the limit is continued while the element's budget lasts (`settings.continuations` per call
    made so far); each completion but the last is kept in `result`. Raises LLMFailure."""
    completion = client.complete(DRAFTER_ROLE, drafter_prompt(
        element, group, settings, facts=shared.facts, words=shared.words), ctx)
    text = completion.text
    cut = stopped_at_limit(completion, settings.max_tokens)
    while cut and result.continuations < settings.continuations * result.calls:
        result.completions.append(completion)
        result.continuations += 1
        completion = client.complete(DRAFTER_ROLE, drafter_prompt(
            element, group, settings, facts=shared.facts, words=shared.words, so_far=text), ctx)
        text += completion.text
        cut = stopped_at_limit(completion, settings.max_tokens)
    return completion, text, cut


@dataclass
class SectionParts:
    """What an element's answers add up to, in call order, and the errors of the calls that failed."""

    paragraphs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    used_ids: list[str] = field(default_factory=list)
    shown: list[ScoredChunk] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    removed: list[str] = field(default_factory=list)
    attributed: int = 0
    evidence_dropped: int = 0
    deployment: str | None = None
    errors: list[str] = field(default_factory=list)

    def add(self, completion: Completion, used: Sequence[ScoredChunk], para: ComposedParagraph) -> None:
        self.deployment = completion.deployment
        self.evidence_dropped += completion.evidence_dropped
        self.used_ids += [sc.chunk.chunk_id for sc in used]
        self.shown += used
        self.dropped.update(para.dropped)
        self.removed += para.citations_removed
        self.attributed += para.attributed
        self.notes += para.notes
        self.paragraphs += para.paragraphs

    def fill(self, section: Section) -> None:
        """The section's evidence and post-processing diagnostics, and its paragraphs when there are any."""
        section.evidence_chunk_ids = self.used_ids
        section.evidence_dropped = self.evidence_dropped
        section.deployment = self.deployment
        section.sentences_dropped = dict(self.dropped)
        section.citations_removed = self.removed
        section.citations_attributed = self.attributed
        section.review_notes = self.notes
        section.coverage = evidence_coverage(self.shown)
        if self.paragraphs:
            section.paragraphs = self.paragraphs

    def gap_reason(self, calls: int, failed_calls: int) -> str:
        """Why no paragraph came of the element's `calls`."""
        if failed_calls == calls:
            return f"every drafter call failed ({self.errors[-1]})" if self.errors else "every drafter call failed"
        if self.dropped:
            return "all sentences removed: " + ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items()))
        return "empty answer"


def draft_element(
    element: Element,
    evidence: Sequence[ScoredChunk],
    client: CompletionClient,
    ctx: CallContext,
    valid: set[Citation],
    settings: DraftSettings,
    declarant_names: frozenset[str] = frozenset(),
    third_party_docs: frozenset[str] = frozenset(),
    shared: DraftContext | None = None,
) -> ElementResult:
    """One element's section: paragraphs from its evidence, or a gap marker saying why there is none."""
    shared = shared or DraftContext()
    if not evidence:
        section = Section(
            kind="element", element_id=element.id, title=element.title,
            paragraphs=[gap_paragraph(element, evidence, "no evidence")], gap="no evidence retrieved",
        )
        return ElementResult(section=section)
    result = ElementResult(section=Section(kind="element", element_id=element.id, title=element.title, paragraphs=[]))
    parts = SectionParts()
    for group in batches(evidence, settings.evidence_per_call):
        result.calls += 1
        try:
            completion, text, cut = ask_drafter(element, group, client, ctx, settings, shared, result)
        except LLMFailure as e:
            result.failed_calls += 1
            result.failure_records.extend(e.records)
            parts.errors.append(f"{type(e).__name__}: {e}")
            continue
        result.completions.append(completion)
        used = group[: completion.evidence_used] if completion.evidence_used else []
        para = compose_paragraph(text, used, valid, declarant_names=declarant_names,
                                 third_party_docs=third_party_docs, record=shared.grounding,
                                 element_evidence=evidence,
                                 kept_elsewhere=shared.kept, truncated=cut, verifier=shared.verifier,
                                 voice_per_paragraph=settings.voice_per_paragraph,
                                 paraphrase_flags=settings.paraphrase_flags)
        parts.add(completion, used, para)
    parts.fill(result.section)
    if not parts.paragraphs:
        reason = parts.gap_reason(result.calls, result.failed_calls)
        result.section.paragraphs = [gap_paragraph(element, evidence, reason)]
        result.section.gap = reason
    return result


def evidence_coverage(shown: Sequence[ScoredChunk]) -> dict[str, list[int]]:
    """Which documents and pages reached the drafter (a retrieval report may replace this with its own)."""
    out: dict[str, set[int]] = {}
    for sc in shown:
        out.setdefault(sc.chunk.document, set()).add(sc.chunk.page)
    return {d: sorted(p) for d, p in sorted(out.items())}


@dataclass
class DraftOutcome:
    draft: Draft
    elements: dict[str, ElementResult]
    profile: str = "small"

    @property
    def records(self) -> list[CallRecord]:
        out: list[CallRecord] = []
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
    page_texts: dict[Citation, str] | None = None,
    verifier: SupportVerifier | None = None,
) -> DraftOutcome:
    """The whole declaration: deterministic introduction, one drafted section per element (file order), closing.

    `pages`: (document, page text) pairs of the case; `page_texts`: the same by citation, so that a sentence
    citing a real page that was not shown can be checked against it."""
    exhibits = build_exhibits(documents)
    valid = existing_citations(exhibits)
    names = declarant_name_words(record)
    third_party_docs = third_party_documents(pages, names)  # (document, page text) pairs of the case
    shared = DraftContext(grounding=GroundingRecord.from_case(record, page_texts),
                          facts=case_facts_text(record) if settings.case_facts else "",
                          words=element_words(requirements, settings), verifier=verifier)
    if third_party_docs:
        log(f"written about the declarant by others (their 'I' is not hers): {', '.join(sorted(third_party_docs))}")
    start = time.monotonic()
    n = len(requirements.elements)
    sections = [introduction(record, requirements)]
    results: dict[str, ElementResult] = {}
    for i, element in enumerate(requirements.elements, start=1):
        log(f"section {i} of {n} ({element.id}): retrieving, {time.monotonic() - start:.1f}s elapsed")
        evidence = gather_evidence(element.queries, search, settings.evidence_per_element)
        res = draft_element(element, evidence, client, ctx, valid, settings, names, third_party_docs, shared)
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
    return DraftOutcome(draft=draft, elements=results, profile=settings.profile)


def gap_label(reason: str) -> str:
    """A drafting-gap reason without its free text: a failed call's error message sits in parentheses."""
    return reason.split(" (", 1)[0]


def section_table(outcome: DraftOutcome, *, gap_reasons: bool = True) -> str:
    """Markdown table: per section words, citations, evidence used / dropped, post-processing removals.
    `gap_reasons` False shows each gap's label without its free text (previews off)."""
    rows = ["| section | words | citations | evidence retrieved | used | dropped by router | sentences removed "
            "| citations removed | gap |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in outcome.draft.sections:
        res = outcome.elements.get(s.element_id or "")
        removed = ", ".join(f"{k} {v}" for k, v in sorted(s.sentences_dropped.items()))
        rows.append(
            f"| {s.title} | {s.word_count()} | {len(s.citations())} | {res.retrieved if res else ''} "
            f"| {len(s.evidence_chunk_ids)} | {s.evidence_dropped} | {removed} | {len(s.citations_removed)} "
            f"| {(s.gap if gap_reasons else gap_label(s.gap)) if s.gap else ''} |"
        )
    return "\n".join(rows)
