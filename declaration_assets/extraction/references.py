"""Which content-keyed cache entries each case uses, so that purging a case removes what only it used.

The extraction cache is keyed by the PDF's bytes: two cases holding the same document share one entry, and a
replaced PDF leaves the entry of its older version behind with nothing left in the case folder to find it by.
Every case therefore records the keys it used (`<cache>/references/<case_id>.json`), whatever version of a file it
read; purge removes the entries of the case that no other case's record (or current file) names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .. import settings
from ..cases.models import CASE_ID_PATTERN

EXTRACTION = "extraction"


def references_dir() -> Path:
    return settings.current().cache_dir / "references"


def path_for(case_id: str, folder: Path | None = None) -> Path:
    if not CASE_ID_PATTERN.match(case_id):
        raise ValueError(f"not a case id: {case_id!r}")
    return (folder or references_dir()) / f"{case_id}.json"


def load(case_id: str, folder: Path | None = None) -> dict[str, set[str]]:
    p = path_for(case_id, folder)
    if not p.is_file():
        return {}
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {kind: set(keys) for kind, keys in raw.items() if isinstance(keys, list)}


def add(case_id: str, kind: str, keys: Iterable[str], folder: Path | None = None) -> None:
    """Record keys the case used (merged with what it recorded before; written aside then renamed)."""
    keys = set(keys)
    current = load(case_id, folder)
    if keys <= current.get(kind, set()):
        return
    current[kind] = current.get(kind, set()) | keys
    p = path_for(case_id, folder)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}")
    tmp.write_text(json.dumps({k: sorted(v) for k, v in sorted(current.items())}), encoding="utf-8")
    os.replace(tmp, p)


def all_cases(folder: Path | None = None) -> list[str]:
    d = folder or references_dir()
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


def track_extraction(case_id: str, documents: Iterable[tuple[str, bytes]], ocr: object) -> Iterator[tuple[str, bytes]]:
    """Pass documents through unchanged, recording the extraction-cache key of each for the case."""
    from .pdf import _cache_key

    for name, data in documents:
        add(case_id, EXTRACTION, [_cache_key(data, ocr)])  # type: ignore[arg-type]
        yield name, data
