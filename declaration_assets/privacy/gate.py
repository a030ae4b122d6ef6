"""What the LLM privacy gate (`llm/privacy_gate.py`) calls for a deployment that must not see case data in clear."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..cases.models import CaseRecord
from .redaction import Restore, find_leaks, redact, restorer
from .store import locked_map

Messages = list[dict[str, str]]


class RedactionLeak(RuntimeError):
    """Sensitive strings of the case remained after redaction. The message names kinds and counts, never values."""


def redact_messages(messages: Messages, record: CaseRecord, directory: Path | None = None) -> tuple[Messages, Restore]:
    """Messages with every sensitive string replaced by its case-stable placeholder, and the function that puts
    the text back into an answer. Raises `RedactionLeak` when the final check still finds case data."""
    with locked_map(record.case_id, directory) as rmap:
        out = [{**m, "content": redact(m["content"], record, rmap)} if isinstance(m.get("content"), str) else dict(m)
               for m in messages]
        restore = restorer(rmap)
    leaks = [leak for m in out if isinstance(m.get("content"), str) for leak in find_leaks(m["content"], record)]
    if leaks:
        counts = Counter(leak.kind for leak in leaks)
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        raise RedactionLeak(f"sensitive strings of case {record.case_id} remained after redaction ({summary})")
    return out, restore
