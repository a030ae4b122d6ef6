"""Evidence for the drafter: the passages an element's queries find, ranked and batched, as the model sees them,
and the passage a drafted sentence comes from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from ..retrieval.models import ScoredChunk
from ..text import content_words


def gather_evidence(
    queries: Sequence[str], search: Callable[[str], Sequence[ScoredChunk]], limit: int
) -> list[ScoredChunk]:
    """Union of the chunks found by every query, deduplicated and ranked, re-numbered 1..limit.

    Ranked round-robin: every query's best passage comes before any query's second best, so one document that
    matches many queries (a certificate's boilerplate) cannot crowd out the passage another query was written
    for. Within a round: higher similarity, then found by more queries, then first found.
    """
    best: dict[str, ScoredChunk] = {}
    best_rank: dict[str, int] = {}
    hits: Counter[str] = Counter()
    order: dict[str, int] = {}
    for q in queries:
        for position, sc in enumerate(search(q), start=1):
            cid = sc.chunk.chunk_id
            hits[cid] += 1
            order.setdefault(cid, len(order))
            best_rank[cid] = min(best_rank.get(cid, position), position)
            if cid not in best or sc.score > best[cid].score:
                best[cid] = sc

    def key(sc: ScoredChunk) -> tuple[int, float, int, int]:
        cid = sc.chunk.chunk_id
        return (best_rank[cid], -sc.score, -hits[cid], order[cid])

    ranked = sorted(best.values(), key=key)
    return [ScoredChunk(chunk=sc.chunk, score=sc.score, rank=i) for i, sc in enumerate(ranked[:limit], start=1)]


def evidence_line(sc: ScoredChunk, max_chars: int = 900) -> str:
    """One evidence item as the model sees it: its citation label, then the passage."""
    text = " ".join(sc.chunk.text.split())
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] + " ..."
    return f"{sc.chunk.citation()} {text}"


def batches(items: Sequence[ScoredChunk], size: int) -> list[list[ScoredChunk]]:
    size = max(1, size)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def best_source(
    sentence: str, evidence: Sequence[ScoredChunk], min_overlap: int = 2, min_share: float = 0.4
) -> ScoredChunk | None:
    """The evidence passage sharing the most content words with `sentence` (ties: better rank), or None when no
    passage shares at least `min_overlap` of them (all of them for a shorter sentence) and `min_share` of the
    sentence's content words: the sentence is then not grounded in what the model was shown."""
    words = content_words(sentence)
    if not words:
        return None
    needed = min(min_overlap, len(words))
    best: tuple[int, int] | None = None
    choice = None
    for sc in evidence:
        overlap = len(words & content_words(sc.chunk.text))
        key = (overlap, -sc.rank)
        if overlap >= needed and overlap / len(words) >= min_share and (best is None or key > best):
            best, choice = key, sc
    return choice
