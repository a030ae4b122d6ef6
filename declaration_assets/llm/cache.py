"""Response cache: re-running an unchanged asset makes no LLM call.

A small sqlite table rather than LiteLLM's cache: LiteLLM keys on the request it sends, which here depends on
the deployment chosen and the evidence that fit, and it has no notion of role. This cache keys on what the asset
asked for (role, model configuration, the role's chain with every deployment's request settings, the full
prompt, max_tokens, temperature, JSON mode, prompt version), so two judges on one model never share an answer,
and any change to the prompt, the evidence or the routing of that role misses.

Each answer is stored with the case it belongs to (`case_id` column), so a case can be purged from the cache
without the call log (`privacy/purge.py`). Answers are case text: the file is created with mode 0600 (sqlite
gives its -wal and -shm files the database file's mode) in a folder created 0700.
"""

from __future__ import annotations

import hashlib
import contextlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .models import PromptSpec
from .routing import Deployment

CACHE_VERSION = "1"
FILE_MODE = 0o600
DIR_MODE = 0o700
_SCHEMA = "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, created REAL, answer TEXT NOT NULL, case_id TEXT)"


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
            if not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            # Create the file 0600 before sqlite opens it (sqlite would create it 0644 under the usual umask),
            # and tighten a file an older version created.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE))
            os.chmod(self.path, FILE_MODE)
            conn = sqlite3.connect(self.path, timeout=10.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(answers)")}
            if "case_id" not in columns:  # a cache from before answers carried their case
                with contextlib.suppress(sqlite3.OperationalError):  # another process added it meanwhile
                    conn.execute("ALTER TABLE answers ADD COLUMN case_id TEXT")
            conn.execute("CREATE INDEX IF NOT EXISTS answers_case ON answers (case_id)")
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

    def put(self, key: str, answer: CachedAnswer, case_id: str | None = None) -> None:
        conn = self._conn()
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO answers (key, created, answer, case_id) VALUES (?, ?, ?, ?)",
                (key, time.time(), json.dumps(asdict(answer)), case_id),
            )

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def info(self) -> dict[str, Any]:
        return {"path": str(self.path), "entries": len(self)}


def case_keys(path: Path | str, case_id: str) -> set[str]:
    """Keys of the answers stored for `case_id` in the cache file at `path` (empty when the file does not exist
    or predates the case column). Never creates the file."""
    path = Path(path)
    if not path.exists():
        return set()
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        try:
            rows = conn.execute("SELECT key FROM answers WHERE case_id = ?", (case_id,)).fetchall()
        except sqlite3.OperationalError:  # no such table or column: an empty or older cache
            return set()
    return {k for (k,) in rows}
