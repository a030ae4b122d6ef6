"""Call records for tests: a whole, valid `CallRecord` from the few fields a test cares about."""

from __future__ import annotations

from typing import Any

from declaration_assets.llm.records import CallRecord

_DEFAULTS: dict[str, Any] = {
    "ts": 0.0, "case_id": "case-0001", "asset": "draft", "role": "drafter", "model_config_name": "default",
    "deployment": "fake", "provider": "openai", "model": "fake", "privacy": "local", "attempt": 1, "outcome": "ok",
}


def call_record(**fields: Any) -> CallRecord:
    """A record with the test's fields over neutral defaults, validated like every record the engine writes."""
    if "model_config" in fields:
        fields["model_config_name"] = fields.pop("model_config")
    return CallRecord(**{**_DEFAULTS, **fields})
