"""Running the judges: every judge role scores every element section; judges run concurrently."""

from __future__ import annotations

import contextvars
import json
import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


from ..drafting.models import Draft, Section
from ..llm.records import CallRecord
from ..llm.models import EVIDENCE_SLOT, CallContext, CompletionClient, LLMFailure, PromptSpec
from ..requirements.models import CaseRequirements, Element
from . import prompts
from .aggregate import AnswerError, aggregate, complete_rubric, parse_rubric_answer, partial_rubric
from .models import CRITERIA, ElementScore, JudgeScores


@dataclass(frozen=True)
class JudgeSettings:
    max_tokens: int = 256
    max_section_chars: int = 6000  # a section longer than this is cut (and the cut said in the prompt)
    concurrent: bool = True


def persona_for(index: int) -> prompts.Persona:
    return prompts.PERSONAS[index % len(prompts.PERSONAS)]


def judge_prompt(
    persona: prompts.Persona,
    element: Element,
    section: Section,
    evidence: Sequence[str],
    settings: JudgeSettings = JudgeSettings(),
    retry_error: str | None = None,
    given: dict[str, object] | None = None,
) -> PromptSpec:
    """The rubric prompt; on retry it carries the validation error and, when part of the first answer was valid,
    asks only for the missing keys."""
    text = section.text()
    if len(text) > settings.max_section_chars:
        text = text[: settings.max_section_chars] + " [... section cut for length]"
    schema = prompts.schema_example(persona)
    user = prompts.JUDGE_USER.format(
        element_title=element.title,
        sources="; ".join(element.sources[:2]),
        must_show=" ".join(element.must_show.split()),
        section=text,
        evidence=EVIDENCE_SLOT,
        rubric=prompts.rubric_lines(persona),
        schema=schema,
    )
    json_schema = prompts.answer_schema(persona)
    if retry_error is not None and given:
        missing = {*CRITERIA, "reasons"} - set(given)
        json_schema = prompts.answer_schema(persona, only=missing)
        user += prompts.JUDGE_RETRY_MISSING.format(
            error=retry_error, given=json.dumps(given), schema=prompts.schema_example(persona, only=missing)
        )
    elif retry_error is not None:
        user += prompts.JUDGE_RETRY.format(error=retry_error, schema=schema)
    return PromptSpec(
        system=persona.system,
        user=user,
        evidence=tuple(evidence) or ("(no evidence cited)",),
        max_tokens=settings.max_tokens,
        temperature=0.0,
        json_mode=True,
        json_schema=json_schema,
        prompt_version=prompts.JUDGE_PROMPT_VERSION,
    )


@dataclass
class JudgeCall:
    score: ElementScore
    records: list[CallRecord] = field(default_factory=list)


def judge_element(
    client: CompletionClient,
    role: str,
    persona: prompts.Persona,
    element: Element,
    section: Section | None,
    evidence: Sequence[str],
    ctx: CallContext,
    settings: JudgeSettings = JudgeSettings(),
) -> JudgeCall:
    """One judge on one element: ask, validate, retry once with the validation error, else unscorable.
    Nothing is asked about a missing section or a gap marker: that pair is `not_judged`."""
    if section is None or section.gap is not None:
        why = "the draft has no section for this element" if section is None else f"drafting gap: {section.gap}"
        return JudgeCall(ElementScore(judge_role=role, element_id=element.id, status="not_judged", error=why,
                                      attempts=0))
    records: list[CallRecord] = []
    errors: list[str] = []
    deployment = None
    retry_error: str | None = None
    given: dict[str, object] = {}
    for attempt in (1, 2):
        spec = judge_prompt(persona, element, section, evidence, settings, retry_error, given)
        try:
            completion = client.complete(role, spec, ctx)
        except LLMFailure as e:
            records.extend(e.records)
            errors.append(f"attempt {attempt}: call failed: {e}")
            break  # the router already retried and fell back; asking again would only repeat that
        records.extend(completion.records)
        deployment = completion.deployment
        try:
            answer = parse_rubric_answer(completion.text) if attempt == 1 else complete_rubric(given, completion.text)
        except AnswerError as e:
            errors.append(f"attempt {attempt}: {e}")
            retry_error = str(e)
            given = partial_rubric(completion.text)
            continue
        return JudgeCall(
            ElementScore(judge_role=role, element_id=element.id, status="scored",
                         scores={c: getattr(answer, c) for c in CRITERIA}, reasons=answer.reasons,
                         attempts=attempt, deployment=deployment),
            records,
        )
    return JudgeCall(
        ElementScore(judge_role=role, element_id=element.id, status="unscorable", error=" | ".join(errors),
                     attempts=len(errors), deployment=deployment),
        records,
    )


def judge_models(client: CompletionClient, model_config: str, roles: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for role in roles:
        desc = client.role_description(model_config, role) or {}
        models = desc.get("models") or desc.get("deployments") or []
        out[role] = [str(m) for m in models]
    return out


@dataclass
class JudgingOutcome:
    scores: JudgeScores
    records: list[CallRecord]
    wall_s: float


def run_judges(
    *,
    draft: Draft,
    requirements: CaseRequirements,
    evidence_for: Callable[[Section], list[str]],
    client: CompletionClient,
    ctx: CallContext,
    settings: JudgeSettings = JudgeSettings(),
    log: Callable[[str], None] = lambda _msg: None,
) -> JudgingOutcome:
    """Every judge scores every element; one thread per judge (the router bounds per-server concurrency).

    Progress is reported through `log` from the calling thread only.
    """
    roles = client.judge_roles(ctx.model_config)
    if len(roles) < 3:
        raise ValueError(f"model configuration {ctx.model_config!r} has {len(roles)} judges; three or more are required")
    models = judge_models(client, ctx.model_config, roles)
    personas = {role: persona_for(i) for i, role in enumerate(roles)}
    elements = list(requirements.elements)
    sections = {e.id: draft.section_for(e.id) for e in elements}
    evidence = {e.id: evidence_for(s) if s is not None else [] for e, s in ((e, sections[e.id]) for e in elements)}
    progress: queue.Queue[str] = queue.Queue()
    m, n = len(roles), len(elements)

    def one_judge(j: int, role: str) -> list[JudgeCall]:
        calls = []
        for i, element in enumerate(elements, start=1):
            progress.put(f"judge {j} of {m} ({role}), element {i} of {n} ({element.id})")
            calls.append(judge_element(client, role, personas[role], element, sections[element.id],
                                       evidence[element.id], ctx, settings))
        return calls

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=m if settings.concurrent else 1, thread_name_prefix="judge") as pool:
        # Each thread runs in a copy of the caller's context, so the router's time budget (a ContextVar) holds there too.
        futures = [pool.submit(contextvars.copy_context().run, one_judge, j, role)
                   for j, role in enumerate(roles, start=1)]
        while not all(f.done() for f in futures) or not progress.empty():
            try:
                log(f"{progress.get(timeout=0.2)}, {time.monotonic() - start:.1f}s elapsed")
            except queue.Empty:
                pass
        results = [f.result() for f in futures]
    wall = time.monotonic() - start
    calls = [c for per_judge in results for c in per_judge]
    scores = aggregate(
        case_id=draft.case_id,
        model_config_name=ctx.model_config,
        judges=roles,
        judge_models=models,
        element_ids=[e.id for e in elements],
        scores=[c.score for c in calls],
    )
    scores.personas = {role: p.name for role, p in personas.items()}
    scores.prompt_version = prompts.JUDGE_PROMPT_VERSION
    return JudgingOutcome(scores=scores, records=[r for c in calls for r in c.records], wall_s=wall)


def score_cell(score: ElementScore | None) -> str:
    """A judge's scores on an element for a table: '4 / 3 / 5 / 2', 'unscorable' or 'not judged'."""
    if score is None or score.status == "not_judged":
        return "not judged"
    if score.status != "scored":
        return "unscorable"
    return " / ".join(str(score.scores[c]) for c in CRITERIA)


def scores_table(scores: JudgeScores) -> str:
    """Markdown: element x judge (the judge's four scores, 'unscorable' or 'not judged'), element mean, agreement
    and Krippendorff's alpha ('n/a' where undefined)."""
    head = "| element | " + " | ".join(scores.judges) + " | mean | agreement | alpha |"
    sep = "| --- " * (len(scores.judges) + 4) + "|"
    rows = [head, sep]
    for eid, mean in scores.mean_by_element.items():
        cells = [score_cell(next((x for x in scores.scores if x.element_id == eid and x.judge_role == role), None))
                 for role in scores.judges]
        agree = scores.agreement.get(eid)
        alpha = scores.alpha.get(eid)
        rows.append(f"| {eid} | " + " | ".join(cells) +
                    f" | {'' if mean is None else f'{mean:.2f}'} | {'n/a' if agree is None else f'{agree:.2f}'}"
                    f" | {'n/a' if alpha is None else f'{alpha:.2f}'} |")
    rows.append("")
    rows.append("Scores per judge: " + " / ".join(CRITERIA) + f". Alpha: Krippendorff's, {scores.alpha_level}.")
    return "\n".join(rows)
