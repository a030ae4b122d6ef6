"""One structured record per attempt: the JSONL call log, the asset metadata table, the event-log line."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

from collections.abc import Iterable, Mapping, Sequence

import dagster as dg
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

Outcome = Literal[
    "ok",
    "cached",
    "deadline_first_token",
    "deadline_stall",
    "deadline_total",
    "budget_exhausted",
    "rate_limited",
    "server_error",
    "connection_error",
    "bad_response",
    "context_overflow",
    "context_too_small",
    "permanent_error",
    "privacy_refused",
    "spend_cap",
    "cooldown_skip",
    "queue_timeout",
]

# Outcomes after which the same deployment is tried again (with backoff) before falling back.
RETRYABLE: frozenset[str] = frozenset({"rate_limited", "server_error", "connection_error"})
# Outcomes that stop the whole chain at once: configuration or request errors no fallback should paper over.
FATAL: frozenset[str] = frozenset({"permanent_error", "spend_cap", "budget_exhausted"})


class CallRecord(BaseModel):
    """What happened in one attempt. Never holds prompt or answer text unless `log_content` is on.

    Records travel typed from the engine to the assets' values, the metadata tables, the usage report and the
    fidelity benchmark; only the JSONL call log holds them as JSON (one `as_dict()` per line)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    ts: float
    run_id: str | None = None
    case_id: str
    asset: str
    role: str
    model_config_name: str = Field(
        serialization_alias="model_config", validation_alias=AliasChoices("model_config", "model_config_name")
    )
    deployment: str
    provider: str
    model: str
    privacy: str
    attempt: int
    try_on_deployment: int = 1
    outcome: Outcome
    error_class: str | None = None
    error: str | None = None
    queue_s: float | None = None
    ttft_s: float | None = None
    latency_s: float | None = None
    load_s: float | None = None
    prompt_eval_s: float | None = None
    generation_s: float | None = None
    server_timings: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    prompt_tokens_counted: int | None = None
    token_count: Literal["exact", "estimate"] | None = None
    context_window: int | None = None
    num_ctx: int | None = None
    context_used: int | None = None
    evidence_used: int | None = None
    evidence_dropped: int | None = None
    cost_usd: float = 0.0
    server_memory_bytes: int | None = None
    prompt_version: str | None = None
    cache_key: str | None = None
    prompt: list[dict[str, str]] | None = None
    answer: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, by_alias=True)

    @property
    def succeeded(self) -> bool:
        """An answer came back (from a deployment or the cache)."""
        return self.outcome in ("ok", "cached")

    @classmethod
    def from_logged(cls, data: Mapping[str, Any]) -> CallRecord:
        """A record read back from a call log line or a value stored by an older version (where records were
        dicts): fields this version does not know are left out, the rest validated as usual."""
        known = set(cls.model_fields) | {"model_config"}  # the field's name and its alias in the log
        return cls.model_validate({k: v for k, v in data.items() if k in known})

    def summary_line(self) -> str:
        parts = [
            f"llm {self.outcome}",
            f"{self.asset}/{self.role}@{self.model_config_name}",
            f"deployment={self.deployment}",
            f"attempt={self.attempt}",
        ]
        for label, value, fmt in (
            ("ttft", self.ttft_s, "{:.2f}s"),
            ("latency", self.latency_s, "{:.2f}s"),
            ("load", self.load_s, "{:.2f}s"),
            ("prompt_eval", self.prompt_eval_s, "{:.2f}s"),
            ("gen", self.generation_s, "{:.2f}s"),
            ("tokens_in", self.prompt_tokens, "{}"),
            ("tokens_out", self.completion_tokens, "{}"),
            ("tok/s", self.tokens_per_s, "{:.1f}"),
            ("ctx", self.context_used, "{}"),
            ("dropped", self.evidence_dropped or None, "{}"),
            ("cost", self.cost_usd or None, "${:.4f}"),
        ):
            if value is not None:
                parts.append(f"{label}={fmt.format(value)}")
        if self.error_class:
            parts.append(f"error={self.error_class}: {self.error or ''}".rstrip(": "))
        return " ".join(parts)


def as_records(items: Iterable[CallRecord | Mapping[str, Any]]) -> list[CallRecord]:
    """Records from a value that may have been stored before records were typed (dicts then)."""
    return [r if isinstance(r, CallRecord) else CallRecord.from_logged(r) for r in items]


class CallLog:
    """Append-only JSONL file; one line per attempt. Safe across threads; lines are written whole (O_APPEND)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()

    def write(self, record: CallRecord) -> None:
        line = record.model_dump_json(exclude_none=True, by_alias=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)

    def read(self) -> list[CallRecord]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    out.append(CallRecord.from_logged(json.loads(line)))
                except (json.JSONDecodeError, ValidationError, TypeError, AttributeError):
                    continue  # a torn line from a crashed writer (or a foreign one) must not hide the rest
        return out

    def spent_usd(self, run_id: str) -> float:
        return sum(r.cost_usd for r in self.read() if r.run_id == run_id)


_TABLE_COLUMNS = (
    ("role", "role"),
    ("deployment", "deployment"),
    ("try", "attempt"),
    ("outcome", "outcome"),
    ("ttft s", "ttft_s"),
    ("latency s", "latency_s"),
    ("load s", "load_s"),
    ("prompt s", "prompt_eval_s"),
    ("gen s", "generation_s"),
    ("in", "prompt_tokens"),
    ("out", "completion_tokens"),
    ("tok/s", "tokens_per_s"),
    ("ctx", "context_used"),
    ("dropped", "evidence_dropped"),
    ("cost $", "cost_usd"),
    ("error", "error_class"),
)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 1 else f"{v:.2f}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def records_markdown(records: Sequence[CallRecord]) -> str:
    """A Markdown table of call records (one row per attempt) plus a totals line."""
    head = "| " + " | ".join(c for c, _ in _TABLE_COLUMNS) + " |"
    sep = "| " + " | ".join("---" for _ in _TABLE_COLUMNS) + " |"
    rows = ["| " + " | ".join(_cell(getattr(r, k)) for _, k in _TABLE_COLUMNS) + " |" for r in records]
    s = records_summary(records)
    total = (
        f"\n\n{s['calls_ok']} ok / {s['attempts']} attempts, {s['cached']} cached; "
        f"{s['prompt_tokens']} tokens in, {s['completion_tokens']} out; {s['latency_s']:.2f} s; ${s['cost_usd']:.4f}"
    )
    return "\n".join([head, sep, *rows]) + total


def records_table(records: Sequence[CallRecord]) -> dg.MetadataValue:
    """Per-asset summary table for asset metadata."""
    return dg.MetadataValue.md(records_markdown(records))


def records_summary(records: Sequence[CallRecord]) -> dict[str, Any]:
    """Totals over records, for numeric metadata and reports."""
    ok = [r for r in records if r.outcome == "ok"]
    return {
        "attempts": sum(1 for r in records if r.outcome not in ("cached", "cooldown_skip")),
        "calls_ok": sum(1 for r in records if r.succeeded),
        "cached": sum(1 for r in records if r.outcome == "cached"),
        "failures": sum(1 for r in records if not r.succeeded),
        "prompt_tokens": sum(r.prompt_tokens or 0 for r in ok),
        "completion_tokens": sum(r.completion_tokens or 0 for r in ok),
        # sum() of nothing is the int 0: start from 0.0 so the totals are floats (Dagster's float metadata checks)
        "latency_s": round(sum((r.latency_s or 0.0 for r in records), 0.0), 3),
        "cost_usd": round(sum((r.cost_usd for r in records), 0.0), 6),
        "evidence_dropped": sum(r.evidence_dropped or 0 for r in ok),
    }


def now() -> float:
    return time.time()
