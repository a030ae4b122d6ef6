"""Rewriting what the judges and the guards flagged, through the `guard` role, keeping whichever version is better.

Pure apart from the `CompletionClient` passed in. Only element sections are rewritten: the introduction and the
closing are deterministic templates, and their findings are reported, not re-generated.

A rewrite replaces its section when the whole declaration's guard results get strictly better (fewer serious
findings, then fewer warnings), or stay equal for a section the judges flagged (the guards cannot measure what
the judges asked for, and the rewrite did no measurable harm). Otherwise the previous text is kept.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


from ..drafting.answers import clean_answer, is_chatter
from ..drafting.citations import existing_citations, normalize_citations, parse_citations
from ..drafting.models import Citation
from ..drafting.pipeline import stopped_at_limit
from ..drafting.models import Draft, Section
from ..drafting.voice import THIRD_PERSON_DECLARANT_RE, borrowed_voice, names_declarant, third_party_documents
from ..extraction.models import ExtractedCase
from ..checks.models import GuardReport
from ..checks.rules import find_citations, section_key
from ..judging.models import JudgeScores
from ..llm.records import CallRecord
from ..llm.models import EVIDENCE_SLOT, CallContext, CompletionClient, LLMFailure, PromptSpec
from ..text import THINK_RE, fold, has_first_person, split_sentences, strip_citations
from . import prompts
from .models import SectionRewrite

GUARD_ROLE = "guard"
GLOBAL_RULES_FOR_ALL_SECTIONS = {"too_short"}  # a short declaration is fixed by expanding every element section


@dataclass(frozen=True)
class RewriteSettings:
    judge_threshold: float = 3.0  # an element whose judges' mean is below this is rewritten
    max_rewrites: int = 8
    evidence_pages: int = 4
    page_chars: int = 1200  # about 300 tokens a page: a small model's prompt stays near 2k tokens
    max_tokens: int = 320  # like the drafter: a small model on a busy CPU must finish within its deadline
    temperature: float = 0.0


@dataclass(frozen=True)
class RewriteTarget:
    section_index: int
    section_key: str
    title: str
    reasons: tuple[str, ...]
    judge_flagged: bool


def judge_reasons(scores: JudgeScores | None, threshold: float) -> dict[str, list[str]]:
    """Per element: why the judges want it rewritten (a low mean, or no judge could score it)."""
    if scores is None:
        return {}
    out: dict[str, list[str]] = {}
    for element_id, mean in scores.mean_by_element.items():
        if mean is None:
            out[element_id] = ["the judges could not score this part (no valid rubric answer)"]
        elif mean < threshold:
            lines = [f"the judges' mean score is {mean:.1f} of 5 (needs at least {threshold:.1f})"]
            for s in scores.scores:
                if s.element_id == element_id and s.status == "scored" and s.mean is not None and s.mean < threshold:
                    reason = " ".join(s.reasons.split())[:240]
                    if reason:
                        lines.append(f"a judge said: {reason}")
            out[element_id] = lines[:4]
    return out


def rewrite_targets(
    draft: Draft, report: GuardReport, scores: JudgeScores | None, settings: RewriteSettings
) -> list[RewriteTarget]:
    by_judges = judge_reasons(scores, settings.judge_threshold)
    global_lines = [f.message for f in report.findings if f.rule in GLOBAL_RULES_FOR_ALL_SECTIONS]
    targets = []
    for i, s in enumerate(draft.sections):
        if s.kind != "element" or s.gap is not None:
            # A drafting-gap marker has no text to fix: the attorney must gather facts, a rewrite cannot.
            continue
        key = section_key(s)
        guard_lines = [f.message for f in report.for_section(key)]
        judge_lines = by_judges.get(s.element_id or "", [])
        reasons = guard_lines + judge_lines
        if reasons or global_lines:
            extra = [f"the whole declaration is too short: add more facts from the passages ({m})" for m in global_lines]
            targets.append(RewriteTarget(i, key, s.title, tuple(reasons + extra), bool(judge_lines)))
    # Sections with serious findings first, so a small rewrite budget goes where it matters most.
    serious_keys = {f.section_key for f in report.serious}
    targets.sort(key=lambda t: (t.section_key not in serious_keys, t.section_index))
    return targets[: settings.max_rewrites]


def _overlap(a: set[str], text: str) -> int:
    return len(a & set(re.findall(r"\w{4,}", fold(text))))


def select_evidence(section: Section, extracted: ExtractedCase, must_show: str, settings: RewriteSettings) -> tuple[str, ...]:
    """Labelled page texts, best first: the pages the section already cites, then the pages sharing the most
    words with the section and what it must show."""
    by_exhibit = {d.exhibit: d for d in extracted.documents}
    chosen: list[tuple[str, int]] = []
    for c in find_citations(section.text()):
        if c.exhibit in by_exhibit:
            for p in c.pages:
                if 1 <= p <= by_exhibit[c.exhibit].pages and (c.exhibit, p) not in chosen:
                    chosen.append((c.exhibit, p))
    query = set(re.findall(r"\w{4,}", fold(section.title + " " + section.text() + " " + must_show)))
    ranked = sorted(
        ((d.exhibit, pg.page, _overlap(query, pg.text)) for d in extracted.documents for pg in extracted.pages_of(d.name)),
        key=lambda x: -x[2],
    )
    for ex, page, score in ranked:
        if len(chosen) >= settings.evidence_pages:
            break
        if score > 0 and (ex, page) not in chosen:
            chosen.append((ex, page))
    out = []
    for ex, page in chosen[: settings.evidence_pages]:
        text = " ".join((extracted.page_text(by_exhibit[ex].name, page) or "").split())[: settings.page_chars]
        if text:
            out.append(f"[Ex. {ex}, p. {page}] {text}")
    return tuple(out)


def build_prompt(target: RewriteTarget, section: Section, must_show: str, evidence: tuple[str, ...],
                 settings: RewriteSettings) -> PromptSpec:
    problems = "\n".join(prompts.PROBLEM_LINE.format(text=r) for r in target.reasons)
    return PromptSpec(
        system=prompts.GUARD_SYSTEM,
        user=prompts.GUARD_USER.format(
            title=section.title, must_show=" ".join((must_show or prompts.MUST_SHOW_FALLBACK).split()),
            problems=problems, current=section.text() or "(empty)", evidence=EVIDENCE_SLOT,
        ),
        evidence=evidence,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        prompt_version=prompts.GUARD_PROMPT_VERSION,
    )


_PREAMBLE_RE = re.compile(r"^(here is|here's|sure|certainly|revised|corrected)\b.*:\s*$", re.I)


def parse_rewrite(text: str) -> list[str]:
    """The answer's paragraphs, without reasoning blocks, code fences, headings or a preamble line."""
    text = THINK_RE.sub("", text).replace("```", "")
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    while lines and (not lines[0].strip() or _PREAMBLE_RE.match(lines[0].strip())):
        lines.pop(0)
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", "\n".join(lines))]
    return [p for p in paras if p]


def voice_checked(paragraph: str, valid: set[Citation], dropped: Counter[str], min_words: int = 4,
                  declarant_names: frozenset[str] = frozenset(), others_pages: Sequence[str] = ()) -> str:
    """The paragraph if it is the declarant speaking and cites an existing exhibit page, else "" (reason counted
    in `dropped`). Citations to pages that do not exist are removed. Checked per paragraph, not per sentence: a
    declaration's sentences need not each say "I" ("He never filed it again."), its paragraphs do."""
    text = " ".join(clean_answer(paragraph).split())
    body = strip_citations(normalize_citations(text))
    cites = parse_citations(normalize_citations(text))
    good = [c for c in cites if c in valid]
    if len(body.split()) < min_words:
        reason = "too_short"
    elif is_chatter(body.split(".")[0]):
        reason = "chatter"
    elif THIRD_PERSON_DECLARANT_RE.search(body) or not has_first_person(body):
        reason = "not_first_person"
    elif names_declarant(body, declarant_names) or any(
            borrowed_voice(sentence, page, declarant_names, third_party=True)
            for sentence in split_sentences(body) for page in others_pages):
        reason = "third_party_voice"  # she is "I" in her declaration, never named; a letter's "I" is its author's
    elif not good:
        reason = "no_valid_citation"
    else:
        if len(good) == len(cites):
            return text
        text = normalize_citations(text)
        for c in cites:
            if c not in valid:
                text = text.replace(c.label(), "")
        return " ".join(text.replace(" .", ".").split())
    dropped[reason] += 1
    return ""


@dataclass
class RewriteResult:
    declaration: Draft
    report: GuardReport
    rewrites: list[SectionRewrite] = field(default_factory=list)
    records: list[CallRecord] = field(default_factory=list)


def rewrite_flagged(
    draft: Draft,
    report: GuardReport,
    scores: JudgeScores | None,
    extracted: ExtractedCase,
    *,
    client: CompletionClient,
    ctx: CallContext,
    guard: Callable[[Draft], GuardReport],
    must_show: dict[str, str],
    settings: RewriteSettings = RewriteSettings(),
    declarant_names: frozenset[str] = frozenset(),
) -> RewriteResult:
    """Rewrite each flagged section once, re-check the whole declaration, keep the better version."""
    current, current_report = copy.deepcopy(draft), report
    result = RewriteResult(declaration=current, report=current_report)
    others = third_party_documents([(p.document, p.text) for p in extracted.pages], declarant_names)
    others_pages = [p.text for p in extracted.pages if p.document in others]
    for t in rewrite_targets(draft, report, scores, settings):
        section = current.sections[t.section_index]
        ms = must_show.get(section.element_id or "", "")
        prompt = build_prompt(t, section, ms, select_evidence(section, extracted, ms, settings), settings)
        before = current_report.badness()
        try:
            completion = client.complete(GUARD_ROLE, prompt, ctx)
        except LLMFailure as e:
            result.records.extend(e.records)
            result.rewrites.append(SectionRewrite(section_key=t.section_key, title=t.title, reasons=list(t.reasons),
                                                  outcome="failed", before=before, error=str(e)[:500]))
            continue
        result.records.extend(completion.records)
        if stopped_at_limit(completion, settings.max_tokens):
            # A rewrite cut off at its token limit would replace a whole section with part of one.
            result.rewrites.append(SectionRewrite(section_key=t.section_key, title=t.title, reasons=list(t.reasons),
                                                  outcome="empty", before=before, deployment=completion.deployment,
                                                  error="the rewrite stopped at its token limit; the section is kept"))
            continue
        # The drafting stage's voice checks apply to rewrites too: a rewrite is no back door for copied evidence,
        # third-person notes, chatter or uncited text. Names, dates and numbers are then checked by the guards.
        valid = existing_citations(current.exhibits)
        dropped: Counter[str] = Counter()
        paras = [p for p in (voice_checked(p, valid, dropped, declarant_names=declarant_names, others_pages=others_pages) for p in parse_rewrite(completion.text)) if p]
        if not paras:
            why = ", ".join(f"{k} {v}" for k, v in sorted(dropped.items())) or "no text"
            result.rewrites.append(SectionRewrite(section_key=t.section_key, title=t.title, reasons=list(t.reasons),
                                                  outcome="empty", before=before, deployment=completion.deployment,
                                                  error=f"no usable sentence ({why})"))
            continue
        candidate = copy.deepcopy(current)
        candidate.sections[t.section_index].paragraphs = paras
        candidate.sections[t.section_index].deployment = completion.deployment
        candidate.sections[t.section_index].gap = None  # the drafting-gap marker, if any, is gone with its text
        cand_report = guard(candidate)
        after = cand_report.badness()
        better = after < before or (after == before and t.judge_flagged)
        if better:
            current, current_report = candidate, cand_report
        result.rewrites.append(SectionRewrite(section_key=t.section_key, title=t.title, reasons=list(t.reasons),
                                              outcome="kept_rewrite" if better else "kept_original", before=before,
                                              after=after, deployment=completion.deployment))
    result.declaration, result.report = current, current_report
    return result


def outcome_counts(rewrites: Sequence[SectionRewrite]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rewrites:
        out[r.outcome] = out.get(r.outcome, 0) + 1
    return out
