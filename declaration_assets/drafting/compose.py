"""A weak model's answer made into cited paragraphs of the declaration, one sentence judged at a time.

The drafting model (SmolLM2-135M by default) is not trusted with structure or citations: it is asked for a few
first-person sentences from ranked evidence, and everything here makes the result hold regardless of what it
answered. Sentences that are chatter, not in the declarant's voice, or carry names or numbers absent from the
evidence are dropped; citations are normalised to `[Ex. B, p. 2]` and kept only when they point at the evidence
sent to the model; a sentence without one gets the citation of the passage it shares the most words with.

Each sentence goes through `judge_sentence`, a fixed order of checks (see `grounding` for the mechanism):
its form and voice (`form_problem`), its names and numbers (`unknown_terms`), repetition, a swapped subject,
its meaning (`meaning_support`), a borrowed third-party "I" (`borrows_voice`), then its citations
(`checked_citations`). The first failed check drops it, with that reason in the review notes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..retrieval.models import ScoredChunk
from ..text import content_words, has_first_person, is_staff_note, split_sentences, strip_citations
from .answers import clean_answer, finish_sentence, is_chatter
from .citations import normalize_citations, parse_citations
from .evidence import best_source
from .grounding import (
    GroundingRecord,
    SupportVerifier,
    lexical_support,
    page_supports,
    swapped_subject,
    third_person_declarant,
    unsupported_terms,
)
from .models import Citation
from .voice import THIRD_PERSON_DECLARANT_RE, borrowed_voice, names_declarant

FOREIGN_FLAG = "passages in another language; support not verified"
PARAPHRASE_FLAG = "a paraphrase of its cited page; support not verified word for word"


def unsupported_tokens(sentence: str, evidence_text: str, record: GroundingRecord | None = None) -> list[str]:
    """Numbers and capitalised names in `sentence` that appear nowhere in the evidence or the record (likely
    invented); see `grounding.unsupported_terms`."""
    return unsupported_terms(sentence, evidence_text, record)


@dataclass
class ComposedParagraph:
    """One model answer after post-processing: its paragraphs, and what was removed or flagged, with reasons."""

    text: str
    sentences: int
    citations: list[Citation]
    citations_removed: list[str] = field(default_factory=list)
    attributed: int = 0  # sentences whose citation was attached from their source passage
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> count
    paragraphs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # review notes for the attorney: drops, flags, removed citations
    unverified: int = 0


def _note(kind: str, reason: str, sentence: str) -> str:
    return f"{kind} ({reason}): {' '.join(sentence.split())[:400]}"


# ---------------------------------------------------------------------------------------------------------------
# What one answer's sentences are judged against


@dataclass(frozen=True)
class AnswerContext:
    """What every sentence of one answer is checked against (built by `answer_context`)."""

    evidence: Sequence[ScoredChunk]  # the passages this answer was written from
    shown: list[ScoredChunk]  # every passage shown for the element
    own_passages: list[str]  # the shown passages not written about the declarant by someone else
    evidence_text: str  # the shown passages, joined
    valid: set[Citation]  # the pages that exist
    allowed: set[Citation]  # the pages of `evidence` that exist
    pages: dict[Citation, str]  # page text by citation: the record's pages, then the shown passages
    declarant_names: frozenset[str] = frozenset()
    third_party_docs: frozenset[str] = frozenset()
    record: GroundingRecord | None = None
    other_subjects: frozenset[str] = frozenset()
    verifier: SupportVerifier | None = None
    min_words: int = 4
    paraphrase_flags: bool = False


def answer_context(
    evidence: Sequence[ScoredChunk],
    valid: set[Citation],
    *,
    element_evidence: Sequence[ScoredChunk] | None,
    record: GroundingRecord | None,
    third_party_docs: frozenset[str],
    declarant_names: frozenset[str],
    verifier: SupportVerifier | None,
    min_words: int,
    paraphrase_flags: bool,
) -> AnswerContext:
    """The context of one answer written from `evidence` (the arguments of `compose_paragraph`)."""
    shown = list(element_evidence) if element_evidence is not None else list(evidence)
    pages = dict(record.page_texts) if record else {}
    for sc in shown:
        pages.setdefault(Citation(exhibit=sc.chunk.exhibit, page=sc.chunk.page), sc.chunk.text)
    return AnswerContext(
        evidence=evidence, shown=shown, valid=valid, pages=pages, record=record, third_party_docs=third_party_docs,
        own_passages=[sc.chunk.text for sc in shown if sc.chunk.document not in third_party_docs],
        evidence_text="\n".join(sc.chunk.text for sc in shown),
        allowed={Citation(exhibit=sc.chunk.exhibit, page=sc.chunk.page) for sc in evidence} & valid,
        other_subjects=record.other_subjects if record else frozenset(), declarant_names=declarant_names,
        verifier=verifier, min_words=min_words, paraphrase_flags=paraphrase_flags,
    )


def answer_paragraphs(answer: str) -> list[list[str]]:
    """The answer's paragraphs, each a list of sentences with canonical citations."""
    raw_paragraphs = [clean_answer(p) for p in re.split(r"\n\s*\n", answer)]
    return [split_sentences(normalize_citations(p)) for p in raw_paragraphs if p]


def paragraph_voiced(sentences: Sequence[str]) -> bool:
    """A paragraph in the first person: some sentence of it says I/me/my and is not chatter."""
    return any(has_first_person(strip_citations(x)) and not is_chatter(strip_citations(x)) for x in sentences)


# ---------------------------------------------------------------------------------------------------------------
# One sentence, judged


@dataclass(frozen=True)
class SentenceVerdict:
    """One sentence judged: dropped for `reason`, or kept as `sentence` citing `citations`."""

    reason: str | None = None
    sentence: str = ""
    citations: tuple[Citation, ...] = ()
    removed: tuple[tuple[Citation, str], ...] = ()  # citations taken out, and why
    attributed: bool = False  # the citation was attached from its source passage
    flag: str | None = None  # kept, but its support is not verified: why
    key: frozenset[str] = frozenset()  # its content words: what a repetition of it shares


def form_problem(body: str, ctx: AnswerContext, voiced: bool) -> str | None:
    """Why the sentence is not a sentence of the declarant's own (too short, chatter, a staff note, not in the
    first person, naming her), or None."""
    if len(body.split()) < ctx.min_words:
        return "too_short"
    if is_chatter(body):
        return "chatter"
    if is_staff_note(body):
        return "staff_note"
    if third_person_declarant(body, THIRD_PERSON_DECLARANT_RE) or not (voiced or has_first_person(body)):
        return "not_first_person"
    if names_declarant(body, ctx.declarant_names):
        return "third_party_voice"
    return None


def unknown_terms(body: str, cites: Sequence[Citation], ctx: AnswerContext) -> str | None:
    """Names and numbers: the record, every passage shown for the element, and the real pages it cites."""
    cited_pages_text = "\n".join(ctx.pages[c] for c in cites if c in ctx.valid and c in ctx.pages)
    if unsupported_terms(body, ctx.evidence_text + "\n" + cited_pages_text, ctx.record):
        return "unsupported_name_or_number"
    return None


def meaning_support(body: str, real: Sequence[Citation], source: ScoredChunk | None,
                    ctx: AnswerContext) -> tuple[bool, str | None]:
    """Meaning: a shown passage, else a cited page of the case, bears the sentence out word for word; else, when
    those passages are in another language (or, with `paraphrase_flags`, its cited page shares some of its words),
    it is kept and flagged unless the verifier says no (see grounding). Returns (kept, flag)."""
    if source is not None or any(lexical_support(body, ctx.pages.get(c, "")) for c in real):
        return True, None
    cited_texts = [ctx.pages[c] for c in real if c in ctx.pages]
    candidates = cited_texts or [sc.chunk.text for sc in ctx.evidence]
    foreign = [t for t in candidates if page_supports(body, t) is None]
    near = [t for t in cited_texts if page_supports(body, t)] if ctx.paraphrase_flags else []
    unsure = foreign or near
    verdict = ctx.verifier.supports(body, unsure) if (ctx.verifier is not None and unsure) else None
    if verdict is False or not unsure or not real:
        return False, None
    if verdict is None:
        return True, FOREIGN_FLAG if foreign else PARAPHRASE_FLAG
    return True, None


def borrows_voice(body: str, real: Sequence[Citation], source: ScoredChunk | None, ctx: AnswerContext) -> bool:
    """The sentence repeats the "I" of its source passage or of a cited passage written by someone else."""
    voice_sources = ([source.chunk] if source is not None else []) + [
        sc.chunk for sc in ctx.shown if Citation(exhibit=sc.chunk.exhibit, page=sc.chunk.page) in real]
    return any(borrowed_voice(body, ch.text, ctx.declarant_names, third_party=ch.document in ctx.third_party_docs)
               for ch in voice_sources)


def checked_citations(body: str, cites: Sequence[Citation],
                      ctx: AnswerContext) -> tuple[list[Citation], tuple[tuple[Citation, str], ...]]:
    """The citations kept (a real page, shown or of the record, that does not contradict the sentence) and those
    taken out, with why."""
    good: list[Citation] = []
    removed: list[tuple[Citation, str]] = []
    for c in cites:
        supported = page_supports(body, ctx.pages[c]) if c in ctx.pages else None
        if c in ctx.valid and (c in ctx.allowed or c in ctx.pages) and supported is not False:
            good.append(c)
        else:
            removed.append((c, "no such page" if c not in ctx.valid else "its page does not bear the sentence out"))
    return good, tuple(removed)


def judge_sentence(raw: str, ctx: AnswerContext, *, voiced: bool, seen: set[frozenset[str]],
                   elsewhere: set[frozenset[str]]) -> SentenceVerdict:
    """One sentence through the checks, in order; the first that fails drops it. A sentence kept before (`seen`:
    in this answer's element, `elsewhere`: under another element) is not repeated."""
    cites = parse_citations(raw)
    body = strip_citations(raw)
    reason = form_problem(body, ctx, voiced) or unknown_terms(body, cites, ctx)
    if reason:
        return SentenceVerdict(reason=reason)
    key = frozenset(content_words(body))
    if key in seen:
        return SentenceVerdict(reason="duplicate")
    if key in elsewhere:
        return SentenceVerdict(reason="repeated_in_other_element")
    real = [c for c in cites if c in ctx.valid]
    if swapped_subject(body, ctx.own_passages, ctx.other_subjects):
        return SentenceVerdict(reason="swapped_subject")
    source = best_source(body, ctx.evidence)
    kept, flag = meaning_support(body, real, source, ctx)
    if not kept:
        return SentenceVerdict(reason="unsupported")
    if borrows_voice(body, real, source, ctx):
        return SentenceVerdict(reason="third_party_voice")
    good, removed = checked_citations(body, cites, ctx)
    if good:
        return SentenceVerdict(sentence=finish_sentence(body, good), citations=tuple(good), removed=removed,
                               flag=flag, key=key)
    if source is None:
        return SentenceVerdict(reason="unsupported", removed=removed)
    anchor = Citation(exhibit=source.chunk.exhibit, page=source.chunk.page)
    return SentenceVerdict(sentence=finish_sentence(body, [anchor]), citations=(anchor,), removed=removed,
                           attributed=True, flag=flag, key=key)


def _record_verdict(result: ComposedParagraph, raw: str, verdict: SentenceVerdict) -> None:
    """The verdict's counts and review notes, in the order the checks made them."""
    for c, why in verdict.removed:
        result.citations_removed.append(c.label())
        result.notes.append(_note("citation removed", f"{c.label()}: {why}", raw))
    if verdict.reason is not None:
        result.dropped[verdict.reason] += 1
        result.notes.append(_note("dropped", verdict.reason, raw))
        return
    result.attributed += verdict.attributed
    if verdict.flag:
        result.unverified += 1
        result.notes.append(_note("unverified", verdict.flag, verdict.sentence))
    result.citations += [c for c in verdict.citations if c not in result.citations]


# ---------------------------------------------------------------------------------------------------------------
# One answer


def compose_paragraph(
    answer: str,
    evidence: Sequence[ScoredChunk],
    valid: set[Citation],
    *,
    min_words: int = 4,
    declarant_names: frozenset[str] = frozenset(),
    third_party_docs: frozenset[str] = frozenset(),
    record: GroundingRecord | None = None,
    element_evidence: Sequence[ScoredChunk] | None = None,
    kept_elsewhere: set[frozenset[str]] | None = None,
    truncated: bool = False,
    verifier: SupportVerifier | None = None,
    voice_per_paragraph: bool = True,
    paraphrase_flags: bool = False,
) -> ComposedParagraph:
    """Make paragraphs out of a model answer written from `evidence` (see `grounding` for the mechanism).

    Voice is judged per paragraph (a first-person narrative has sentences without "I"), and a third party's voice
    is refused: a sentence that speaks of the declarant in the third person, names her, repeats the "I" of a
    passage written about her by someone else, turns another person's act into hers ("he was kind" -> "I was
    kind"), or is a staff or attorney note. Names and numbers must be in the record (`record`: case.yaml, plus
    every passage of `element_evidence`, default `evidence`). A kept sentence cites pages that exist and bear it
    out; when the passages it relies on are in another language, it is kept with an `unverified` note. A sentence
    kept before (here, or under another element: `kept_elsewhere`) is not repeated. With `truncated` (the answer
    stopped at its token limit), the last sentence is dropped: a cut-off sentence never ships.
    `voice_per_paragraph=False` demands I/me/my in every sentence (the `small` profile's stricter rule).
    `paraphrase_flags`: a sentence citing a real page in its own language that shares some of its words, but not
    enough to count as support, is kept with an `unverified` note instead of dropped (the `capable` profile:
    a strong model paraphrases; a small one invents, so its unsupported sentences go).
    """
    ctx = answer_context(evidence, valid, element_evidence=element_evidence, record=record,
                         third_party_docs=third_party_docs, declarant_names=declarant_names, verifier=verifier,
                         min_words=min_words, paraphrase_flags=paraphrase_flags)
    seen: set[frozenset[str]] = set()
    elsewhere = kept_elsewhere if kept_elsewhere is not None else set()
    result = ComposedParagraph(text="", sentences=0, citations=[])
    split = answer_paragraphs(answer)
    if truncated and split and split[-1]:
        _record_verdict(result, split[-1][-1], SentenceVerdict(reason="truncated"))
        split[-1].pop()
    for sentences in split:
        voiced = voice_per_paragraph and paragraph_voiced(sentences)
        kept: list[str] = []
        for raw in sentences:
            verdict = judge_sentence(raw, ctx, voiced=voiced, seen=seen, elsewhere=elsewhere)
            _record_verdict(result, raw, verdict)
            if verdict.reason is None:
                seen.add(verdict.key)
                elsewhere.add(verdict.key)
                kept.append(verdict.sentence)
        if kept:
            result.paragraphs.append(" ".join(kept))
    result.text = " ".join(result.paragraphs)
    result.sentences = sum(len(split_sentences(p)) for p in result.paragraphs)
    return result
