"""Response cache: re-running an unchanged asset makes no LLM call.

A small sqlite table rather than LiteLLM's cache: LiteLLM keys on the request it sends, which here depends on
the deployment chosen and the evidence that fit, and it has no notion of role. This cache keys on what the asset
asked for (role, model configuration, the role's chain with every deployment's request settings, the full
prompt, max_tokens, temperature, JSON mode, prompt version), so two judges on one model never share an answer,
and any change to the prompt, the evidence or the routing of that role misses.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .models import PromptSpec
from .routing import Deployment

CACHE_VERSION = "1"


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    deployment: str
    evidence_used: int
    evidence_dropped: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def cache_key(role: str, model_config: str, chain: list[Deployment], prompt: PromptSpec) -> str:
    payload = {
        "v": CACHE_VERSION,
        "role": role,
        "model_config": model_config,
        "chain": [d.model_dump(mode="json", exclude={"deadlines", "retry", "cooldown", "max_concurrency"}) for d in chain],
        "prompt": asdict(prompt),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode("utf-8")).hexdigest()


class ResponseCache:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, created REAL, answer TEXT NOT NULL)"
            )
            self._local.conn = conn
        return conn

    def get(self, key: str) -> CachedAnswer | None:
        row = self._conn().execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return CachedAnswer(**json.loads(row[0]))
        except (TypeError, ValueError):
            return None  # an entry from an older layout is a miss, not an error

    def put(self, key: str, answer: CachedAnswer) -> None:
        conn = self._conn()
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO answers (key, created, answer) VALUES (?, ?, ?)",
                (key, time.time(), json.dumps(asdict(answer))),
            )

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def info(self) -> dict[str, Any]:
        return {"path": str(self.path), "entries": len(self)}
