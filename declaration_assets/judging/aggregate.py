"""Parsing judge answers and aggregating scores: means per element and agreement between judges.

Agreement of an element = 1 - (mean over judge pairs and criteria of |score_a - score_b|) / 4, over the judges
that scored it: 1.0 when all scored judges gave identical scores, 0.0 when every pair is 1 vs 5 on every
criterion. None when fewer than two judges scored. Overall agreement pools the pairwise differences of every
element (so elements with more scored judges weigh more) and is None when no element has two scored judges.

That figure is raw: judges that give everything a 4 "agree" without reading. Next to it, Krippendorff's alpha
(the `krippendorff` package, ordinal level: rubric scores are ordered categories) corrects for the agreement
expected by chance: 1 is perfect, 0 is chance, below 0 is systematic disagreement. Units are the criteria of an
element (per element) or every (element, criterion) pair (overall); coders are the judges; an unscored judge is
a missing value. Alpha is None ("n/a") when it is undefined: fewer than MIN_ALPHA_UNITS units scored by two or
more judges, or a single value among them (no variation, so no expected disagreement to correct by).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from itertools import combinations
from statistics import fmean

import numpy as np
from pydantic import ValidationError

from ..text import THINK_RE
from .models import CRITERIA, ElementScore, JudgeScores, RubricAnswer

MAX_DIFF = 4  # scores run 1..5
SCORE_DOMAIN = (1, 2, 3, 4, 5)
ALPHA_LEVEL = "ordinal"
MIN_ALPHA_UNITS = 2  # units with two or more judges' scores


class AnswerError(ValueError):
    """A judge's answer is not a valid rubric answer; the message is fed back to the judge on retry."""


_FENCE_RE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def _json_objects(text: str) -> list[object]:
    """Every JSON object that can be decoded starting at a '{' in `text`, in order."""
    # strict=False: small models (and some grammars) put raw newlines inside JSON strings; the values are intact.
    decoder = json.JSONDecoder(strict=False)
    out: list[object] = []
    i = text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            out.append(obj)
        i = text.find("{", end)
    return out


def validation_message(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(x) for x in err['loc']) or 'answer'}: {err['msg']}" for err in e.errors())


def parse_rubric_answer(text: str) -> RubricAnswer:
    """The rubric answer in a judge's reply: plain JSON, fenced JSON, or JSON inside prose.

    A `{"scores": {...}, "reasons": ...}` wrapper is accepted (the judge's own numbers, one level down);
    nothing else is guessed. Raises AnswerError with a message fit to show the judge.
    """
    text = THINK_RE.sub("", text or "").strip()
    if not text:
        raise AnswerError("the answer was empty")
    candidates = [m.group(1) for m in _FENCE_RE.finditer(text)] + [text]
    objects: list[object] = []
    for c in candidates:
        objects += _json_objects(c)
    if not objects:
        raise AnswerError("no JSON object found in the answer")
    last_error: str | None = None
    for obj in objects:
        assert isinstance(obj, dict)
        if isinstance(obj.get("scores"), dict):
            obj = {**obj.pop("scores"), **obj}
        try:
            return RubricAnswer.model_validate(obj)
        except ValidationError as e:
            last_error = validation_message(e)
    raise AnswerError(f"invalid rubric answer: {last_error}")


def partial_rubric(text: str) -> dict[str, object]:
    """The keys of a judge's (invalid) answer that are individually valid: criteria with an integer 1-5 and a
    non-empty `reasons`. Used to ask the judge only for what is missing; never to fill anything in."""
    objects = _json_objects(THINK_RE.sub("", text or ""))
    out: dict[str, object] = {}
    for obj in objects:
        assert isinstance(obj, dict)
        if isinstance(obj.get("scores"), dict):
            obj = {**obj["scores"], **{k: v for k, v in obj.items() if k != "scores"}}
        for c in CRITERIA:
            v = obj.get(c)
            if c not in out and isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5:
                out[c] = v
        r = obj.get("reasons")
        if "reasons" not in out and isinstance(r, str) and r.strip():
            out["reasons"] = r.strip()
    return out


def complete_rubric(partial: dict[str, object], text: str) -> RubricAnswer:
    """A full answer from a retry: the retry's own answer when valid, else the first answer's valid keys with
    the retry's valid keys (every value still given by the judge). Raises AnswerError when keys are missing."""
    try:
        return parse_rubric_answer(text)
    except AnswerError as first_error:
        merged = {**partial, **partial_rubric(text)}
        if not partial:
            raise
        try:
            return RubricAnswer.model_validate(merged)
        except ValidationError as e:
            raise AnswerError(f"invalid rubric answer: {validation_message(e)}") from first_error


def pairwise_differences(score_sets: Sequence[dict[str, int]]) -> list[float]:
    """Normalised |a - b| / 4 for every pair of judges and every criterion both scored."""
    diffs: list[float] = []
    for a, b in combinations(score_sets, 2):
        diffs += [abs(a[c] - b[c]) / MAX_DIFF for c in CRITERIA if c in a and c in b]
    return diffs


def agreement(score_sets: Sequence[dict[str, int]]) -> float | None:
    diffs = pairwise_differences([s for s in score_sets if s])
    return round(1.0 - fmean(diffs), 4) if diffs else None


def krippendorff_alpha(matrix: Sequence[Sequence[int | None]], level: str = ALPHA_LEVEL) -> float | None:
    """Krippendorff's alpha of a coders x units matrix of scores (None = missing), or None where undefined."""
    import krippendorff

    if not matrix or not matrix[0]:
        return None
    data = np.array([[np.nan if v is None else float(v) for v in row] for row in matrix], dtype=float)
    pairable = np.sum(~np.isnan(data), axis=0) >= 2
    if int(pairable.sum()) < MIN_ALPHA_UNITS:
        return None
    values = data[:, pairable]
    if len(np.unique(values[~np.isnan(values)])) < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        a = krippendorff.alpha(reliability_data=data[:, pairable], level_of_measurement=level,
                               value_domain=list(SCORE_DOMAIN))
    return round(float(a), 4) if np.isfinite(a) else None


def alpha_matrix(
    scores: Sequence[ElementScore], judges: Sequence[str], element_ids: Sequence[str]
) -> list[list[int | None]]:
    """Judges x (element, criterion) units; a judge that did not score an element leaves its units missing."""
    scored = {(s.judge_role, s.element_id): s.scores for s in scores if s.status == "scored"}
    return [[scored.get((j, e), {}).get(c) for e in element_ids for c in CRITERIA] for j in judges]


def mean_score(scores: Sequence[ElementScore]) -> float | None:
    values = [v for s in scores if s.status == "scored" for v in s.scores.values()]
    return round(fmean(values), 4) if values else None


def mean_by_criterion(scores: Sequence[ElementScore]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for c in CRITERIA:
        values = [s.scores[c] for s in scores if s.status == "scored" and c in s.scores]
        out[c] = round(fmean(values), 4) if values else None
    return out


def aggregate(
    *,
    case_id: str,
    model_config_name: str,
    judges: Sequence[str],
    judge_models: dict[str, list[str]],
    element_ids: Sequence[str],
    scores: Sequence[ElementScore],
) -> JudgeScores:
    by_element = {eid: [s for s in scores if s.element_id == eid] for eid in element_ids}
    # Judges in the order given, then any role that appears only in the scores.
    roles = list(dict.fromkeys([*judges, *(s.judge_role for s in scores)]))
    agreements = {eid: agreement([s.scores for s in ss if s.status == "scored"]) for eid, ss in by_element.items()}
    pooled = [
        d for ss in by_element.values() for d in pairwise_differences([s.scores for s in ss if s.status == "scored"])
    ]
    return JudgeScores(
        case_id=case_id,
        model_config_name=model_config_name,
        judges=list(judges),
        shared_model=shares_model(judge_models),
        judge_models=judge_models,
        scores=list(scores),
        mean_by_element={eid: mean_score(ss) for eid, ss in by_element.items()},
        agreement=agreements,
        overall_agreement=round(1.0 - fmean(pooled), 4) if pooled else None,
        mean_by_element_criterion={eid: mean_by_criterion(ss) for eid, ss in by_element.items()},
        unscorable=sum(1 for s in scores if s.status == "unscorable"),
        not_judged=sum(1 for s in scores if s.status == "not_judged"),
        alpha={eid: krippendorff_alpha(alpha_matrix(ss, roles, [eid])) for eid, ss in by_element.items()},
        overall_alpha=krippendorff_alpha(alpha_matrix(scores, roles, list(element_ids))),
        alpha_level=ALPHA_LEVEL,
    )


def shares_model(judge_models: dict[str, list[str]]) -> bool:
    """True when two judges' chains start with the same model (their primary answers come from one model)."""
    primaries = [models[0] for models in judge_models.values() if models]
    return len(primaries) != len(set(primaries))
