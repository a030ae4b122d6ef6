"""Where the project keeps things. Every path can be moved with an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("DECLARATION_PROJECT_ROOT", Path(__file__).resolve().parents[1]))


def _path(var: str, default: Path) -> Path:
    return Path(os.environ[var]).resolve() if os.environ.get(var) else default


DATA_DIR = _path("DECLARATION_DATA_DIR", PROJECT_ROOT / "data")
CASES_DIR = _path("DECLARATION_CASES_DIR", DATA_DIR / "cases")
INBOX_DIR = _path("DECLARATION_INBOX_DIR", DATA_DIR / "inbox")
REFERENCES_DIR = _path("DECLARATION_REFERENCES_DIR", DATA_DIR / "references")
OUTPUTS_DIR = _path("DECLARATION_OUTPUTS_DIR", DATA_DIR / "outputs")
# Caches (embeddings by content hash, LLM responses) and runtime state (server pid/port files, logs).
CACHE_DIR = _path("DECLARATION_CACHE_DIR", PROJECT_ROOT / ".cache")
RUN_DIR = _path("DECLARATION_RUN_DIR", PROJECT_ROOT / ".run")
CALL_LOG_PATH = _path("DECLARATION_CALL_LOG", RUN_DIR / "llm_calls.jsonl")
