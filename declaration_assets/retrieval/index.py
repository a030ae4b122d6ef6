"""A FAISS index per case over its chunks' embeddings, and hybrid (dense + BM25) retrieval of the top chunks."""

from __future__ import annotations

from collections.abc import Callable

import faiss
import numpy as np

from ..extraction.models import ExtractedCase
from .chunking import DEFAULT_MAX_CHARS, chunk_case
from .embeddings import Embedder, EmbedStats
from .hybrid import DEFAULT_MODE, SearchMode, query_searcher, rank_chunks
from .models import Chunk, ChunkIndex, ScoredChunk


def embedding_input(chunk: Chunk, document_title: str | None) -> str:
    """The text embedded for a chunk: its document's title and heading give a passage its context
    (a certificate page's date line alone says nothing about marriage)."""
    parts = [document_title or "", chunk.heading or ""]
    context = "\n".join(p for p in parts if p and p not in chunk.text)
    return f"{context}\n{chunk.text}" if context else chunk.text


def serialize_flat_index(vectors: np.ndarray) -> bytes:
    """An exact inner-product index (cosine on normalized vectors). A case holds hundreds of chunks, where an
    exhaustive search takes microseconds and needs no training."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(vectors)
    return faiss.serialize_index(index).tobytes()


def build_chunk_index(
    case: ExtractedCase, embedder: Embedder, max_chars: int = DEFAULT_MAX_CHARS
) -> tuple[ChunkIndex, EmbedStats]:
    chunks = chunk_case(case, max_chars)
    titles = {d.name: d.title for d in case.documents}
    vectors, stats = embedder.embed_with_stats([embedding_input(c, titles.get(c.document)) for c in chunks])
    dim = int(vectors.shape[1])
    index = ChunkIndex(
        case_id=case.case_id, model_name=embedder.model_name, dim=dim, chunks=chunks,
        faiss_index=serialize_flat_index(vectors),
    )
    return index, stats


def check_model(index: ChunkIndex, embedder: Embedder) -> None:
    if embedder.model_name != index.model_name:
        raise ValueError(
            f"the index of case {index.case_id} was built with {index.model_name!r}; "
            f"the embedder uses {embedder.model_name!r}: rebuild chunk_index or configure the same model"
        )


def retrieve(
    index: ChunkIndex, embedder: Embedder, query: str, k: int = 6, mode: SearchMode = DEFAULT_MODE
) -> list[ScoredChunk]:
    """The k chunks that best answer `query`, best first, each with its provenance (document, exhibit, page,
    span). Hybrid by default: dense and BM25 rankings fused by reciprocal rank (see `retrieval.hybrid`)."""
    return retrieve_many(index, embedder, [query], k, mode)


def retrieve_many(
    index: ChunkIndex, embedder: Embedder, queries: list[str], k: int = 6, mode: SearchMode = DEFAULT_MODE
) -> list[ScoredChunk]:
    """The k chunks that best answer any of `queries` (e.g. one legal element's several evidence
    descriptions): every query's rankings enter the fusion (dense mode: a chunk scores its best match)."""
    queries = [q for q in queries if q.strip()]
    if not queries:
        raise ValueError("empty retrieval query")
    if mode != "lexical":
        check_model(index, embedder)
    vectors = embedder.embed(queries) if mode != "lexical" else None
    return rank_chunks(index, queries, vectors, k, mode)


def query_search(
    index: ChunkIndex, embedder: Embedder, queries: list[str], k: int, mode: SearchMode = DEFAULT_MODE
) -> Callable[[str], list[ScoredChunk]]:
    """search(query) -> the k best chunks, every query of `queries` embedded in one batch up front."""
    if mode != "lexical":
        check_model(index, embedder)
    return query_searcher(index, embedder.embed, queries, k, mode)
