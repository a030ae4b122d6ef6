"""What the LLM privacy gate (`llm/privacy_gate.py`) calls for a deployment that must not see case data in clear."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ..cases.models import CaseRecord
from .redaction import Restore, find_leaks, redact, restorer
from .store import locked_map

Messages = list[dict[str, str]]


class RedactionLeak(RuntimeError):
    """Sensitive strings of the case remained after redaction. The message names kinds and counts, never values."""


def redact_texts(texts: Sequence[str], record: CaseRecord, directory: Path | None = None) -> tuple[list[str], Restore]:
    """Each text with every sensitive string replaced by its case-stable placeholder (one map, read and extended
    under one lock), and the function that puts the text back into an answer. No leak check: see `check_leaks`."""
    with locked_map(record.case_id, directory) as rmap:
        out = [redact(t, record, rmap) for t in texts]
        restore = restorer(rmap)
    return out, restore


def check_leaks(texts: Sequence[str], record: CaseRecord) -> None:
    """Raise `RedactionLeak` when any text still holds a sensitive string of the case (independent final check)."""
    leaks = [leak for t in texts for leak in find_leaks(t, record)]
    if leaks:
        counts = Counter(leak.kind for leak in leaks)
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        raise RedactionLeak(f"sensitive strings of case {record.case_id} remained after redaction ({summary})")


def redact_messages(messages: Messages, record: CaseRecord, directory: Path | None = None) -> tuple[Messages, Restore]:
    """Messages with every sensitive string replaced by its case-stable placeholder, and the function that puts
    the text back into an answer. Raises `RedactionLeak` when the final check still finds case data."""
    idx = [i for i, m in enumerate(messages) if isinstance(m.get("content"), str)]
    redacted, restore = redact_texts([messages[i]["content"] for i in idx], record, directory)
    out = [dict(m) for m in messages]
    for i, text in zip(idx, redacted):
        out[i]["content"] = text
    check_leaks(redacted, record)
    return out, restore
