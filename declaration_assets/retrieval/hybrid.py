"""Hybrid retrieval: the dense (FAISS) ranking and the lexical (BM25) ranking of a query, fused by reciprocal rank.

Reciprocal rank fusion (Cormack, Clarke and Buettcher, 2009): a chunk's fused score is the sum over the rankings
that contain it of 1 / (RRF_K + rank). It needs no calibration between a cosine and a BM25 score, and a passage
one ranking misses entirely (a Spanish page for the English-only embedder) still enters through the other.
The declarant's own account (intake or interview notes) enters once more, lightly weighted (OWN_ACCOUNT_WEIGHT).
A dozen lines, written here rather than taken from a library: the libraries that offer it come with a vector
store or a search service this project does not use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, get_args

import numpy as np

from .models import ChunkIndex, ScoredChunk

SearchMode = Literal["hybrid", "dense", "lexical"]
SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)
DEFAULT_MODE: SearchMode = "hybrid"
RRF_K = 60  # the constant of the original paper; larger flattens the difference between ranks
MIN_POOL = 50  # each ranking contributes at least this many candidates to the fusion
# Passages of the declarant's own account (intake or interview notes, see `lexical.own_account_documents`) enter
# the fusion once more, as their own ranking, at this weight: a light prior (0.1 / 61 is worth about seven places
# near the top of a ranking) that lets her account win close calls without crowding out the documents that
# corroborate it. Measured over the sample cases (scripts/bench_retrieval.py):
# 0.1 puts her notes in the evidence of every element of every case and raises the recall of cited pages at 24
# passages per element; 0.25 and above lower it (her notes push out certificates and reports).
OWN_ACCOUNT_WEIGHT = 0.1


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], rrf_k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """(item, fused score) best first, from rankings of items (each best first; an item at most once per ranking).
    A ranking's `weights` entry scales its contributions (default 1 each).

    Ties are broken by the best rank the item reached in any ranking, then by the item itself (document order
    for chunk positions), so the result is deterministic.
    """
    fused: dict[int, float] = {}
    best_rank: dict[int, int] = {}
    for n, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[n]
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (rrf_k + rank)
            best_rank[item] = min(best_rank.get(item, rank), rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], best_rank[kv[0]], kv[0]))


def pool_size(index: ChunkIndex, k: int) -> int:
    return min(len(index.chunks), max(MIN_POOL, 5 * k))


def rank_chunks(
    index: ChunkIndex,
    queries: Sequence[str],
    query_vectors: np.ndarray | None,
    k: int,
    mode: SearchMode = DEFAULT_MODE,
) -> list[ScoredChunk]:
    """The k best chunks for `queries` (one or several; `query_vectors` holds their embeddings, one row each,
    and may be None in lexical mode). Hybrid fuses one dense and one lexical ranking per query."""
    if mode not in SEARCH_MODES:
        raise ValueError(f"unknown search mode {mode!r}: expected one of {', '.join(SEARCH_MODES)}")
    if not index.chunks or k <= 0:
        return []
    if mode != "lexical" and query_vectors is None:
        raise ValueError(f"{mode} retrieval needs the query embeddings")
    pool = pool_size(index, k)
    dense: dict[int, float] = {}
    lexical: dict[int, float] = {}
    rankings: list[list[int]] = []
    vectors = None if query_vectors is None else np.atleast_2d(np.asarray(query_vectors, dtype=np.float32))
    for n, query in enumerate(queries):
        if mode != "lexical":
            assert vectors is not None
            ranked = index.dense_ranking(vectors[n], pool if mode == "hybrid" else k)
            rankings.append([i for i, _ in ranked])
            for i, s in ranked:
                dense[i] = max(s, dense.get(i, float("-inf")))
        if mode != "dense":
            ranked = index.lexical().rank(query, pool)
            rankings.append([i for i, _ in ranked])
            for i, s in ranked:
                lexical[i] = max(s, lexical.get(i, float("-inf")))
    if mode == "hybrid":
        ordered = reciprocal_rank_fusion(rankings)
        own = index.lexical().own_account
        if own and OWN_ACCOUNT_WEIGHT:
            # Her own account as one more ranking: its passages in their fused order (see OWN_ACCOUNT_WEIGHT).
            mine = [i for i, _ in ordered if i in own]
            ordered = reciprocal_rank_fusion([*rankings, mine], weights=[1.0] * len(rankings) + [OWN_ACCOUNT_WEIGHT])
    else:
        best = dense if mode == "dense" else lexical
        ordered = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
    return [
        ScoredChunk(chunk=index.chunks[i], score=score, rank=r, dense_score=dense.get(i), lexical_score=lexical.get(i))
        for r, (i, score) in enumerate(ordered[:k], start=1)
    ]


def query_searcher(
    index: ChunkIndex,
    embed: Callable[[list[str]], np.ndarray],
    queries: Sequence[str],
    k: int,
    mode: SearchMode = DEFAULT_MODE,
) -> Callable[[str], list[ScoredChunk]]:
    """search(query) -> the k best chunks, with `queries` embedded in one batch up front (one model call instead
    of one each); a query not in `queries` is embedded when asked."""
    unique = list(dict.fromkeys(q for q in queries if q.strip()))
    needs_vectors = mode != "lexical"
    vectors = embed(unique) if unique and needs_vectors else None
    position = {q: i for i, q in enumerate(unique)}

    def search(query: str) -> list[ScoredChunk]:
        if not query.strip():
            raise ValueError("empty retrieval query")
        if not needs_vectors:
            return rank_chunks(index, [query], None, k, mode)
        if vectors is not None and query in position:
            vector = vectors[position[query]]
        else:
            vector = embed([query])[0]
        return rank_chunks(index, [query], vector, k, mode)

    return search
