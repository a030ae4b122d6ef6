"""Data contract of `chunk_index`: chunks with provenance and a serialized FAISS index over their embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class Chunk(BaseModel):
    """A passage of one page of one document; [start, end) is its character span in that page's text."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    chunk_id: str = Field(description="stable id: '<exhibit>-p<page>-<n>', e.g. 'B-p2-0'")
    document: str
    exhibit: str
    page: int = Field(ge=1)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    heading: str | None = Field(default=None, description="nearest heading above the passage, if any")
    text: str

    def citation(self) -> str:
        return f"[Ex. {self.exhibit}, p. {self.page}]"

    def embedding_text(self) -> str:
        """What is embedded: the heading gives a passage its context ("Marriage Certificate" + the date line)."""
        return f"{self.heading}\n{self.text}" if self.heading and self.heading not in self.text else self.text


class ScoredChunk(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    chunk: Chunk
    score: float = Field(
        description="ranking score: the reciprocal-rank-fusion score in hybrid retrieval, the cosine similarity "
        "(inner product of normalized vectors) in dense retrieval, the BM25 score in lexical retrieval"
    )
    rank: int = Field(ge=1)
    dense_score: float | None = Field(default=None, description="cosine similarity, when dense retrieval ranked it")
    lexical_score: float | None = Field(default=None, description="BM25 score, when lexical retrieval ranked it")


class ChunkIndex(BaseModel):
    """The value of one `chunk_index` partition. `faiss_index` is `faiss.serialize_index` output (picklable)."""

    model_config = ConfigDict(extra="forbid")
    case_id: str
    model_name: str
    dim: int
    chunks: list[Chunk]
    faiss_index: bytes

    # The live FAISS object, deserialized on first search, and the BM25 index built from the chunks on first
    # lexical search; neither is pickled.
    _index: Any = PrivateAttr(default=None)
    _lexical: Any = PrivateAttr(default=None)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["__pydantic_private__"] = {"_index": None, "_lexical": None}
        return state

    def __eq__(self, other: object) -> bool:
        # Fields only: whether the live index has been deserialized yet does not change the value.
        if not isinstance(other, ChunkIndex):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    def _live(self) -> Any:
        if self._index is None:
            import faiss

            self._index = faiss.deserialize_index(np.frombuffer(self.faiss_index, dtype=np.uint8))
        return self._index

    def lexical(self) -> Any:
        """The case's BM25 index (`retrieval.lexical.LexicalIndex`), built from the chunk texts on first use."""
        if self._lexical is None:
            from .lexical import LexicalIndex

            self._lexical = LexicalIndex(self.chunks)
        return self._lexical

    def search(self, query_vectors: np.ndarray, k: int) -> list[ScoredChunk]:
        """Top-k chunks by cosine similarity, best first. Several query vectors (rows) are merged: a chunk scores
        its best match."""
        return [
            ScoredChunk(chunk=self.chunks[i], score=s, rank=r, dense_score=s)
            for r, (i, s) in enumerate(self.dense_ranking(query_vectors, k), start=1)
        ]

    def dense_ranking(self, query_vectors: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk position, cosine similarity) of the top-k chunks, best first (ties: document order)."""
        if not self.chunks or k <= 0:
            return []
        q = np.asarray(query_vectors, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"query vectors of shape {q.shape} do not match the index dimension {self.dim}")
        scores, ids = self._live().search(np.ascontiguousarray(q), min(k, len(self.chunks)))
        best: dict[int, float] = {}
        for row_scores, row_ids in zip(scores, ids):
            for score, idx in zip(row_scores, row_ids):
                if idx >= 0 and float(score) > best.get(int(idx), float("-inf")):
                    best[int(idx)] = float(score)
        # Ties broken by document order so results are deterministic.
        return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:k]

    def chunk(self, chunk_id: str) -> Chunk | None:
        return next((c for c in self.chunks if c.chunk_id == chunk_id), None)
