"""The per-case placeholder map on disk: `<CACHE_DIR>/redaction/<case_id>.json`, mode 0600, in a 0700 folder.

Concurrent calls of one case (judges run in threads; Dagster steps in processes) number new entities under an
exclusive `flock` on a lock file beside the map, and the map is replaced atomically, so two calls never give
two entities one placeholder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ..cases.models import CASE_ID_PATTERN
from .redaction import RedactionMap
from . import settings as privacy_settings

FILE_MODE = 0o600
DIR_MODE = 0o700


def _checked(case_id: str) -> str:
    if not CASE_ID_PATTERN.match(case_id):
        raise ValueError(f"not a case id: {case_id!r}")
    return case_id


def map_path(case_id: str, directory: Path | None = None) -> Path:
    return (directory or privacy_settings.redaction_dir()) / f"{_checked(case_id)}.json"


def load_map(case_id: str, directory: Path | None = None) -> RedactionMap:
    path = map_path(case_id, directory)
    if not path.exists():
        return RedactionMap(case_id=case_id)
    return RedactionMap.model_validate_json(path.read_text(encoding="utf-8"))


def _write_private(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # umask cannot widen it; an existing tmp keeps no looser mode
        os.write(fd, data.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@contextlib.contextmanager
def locked_map(case_id: str, directory: Path | None = None) -> Iterator[RedactionMap]:
    """The case's map, exclusively, for reading and extending; saved (0600) on exit when it changed."""
    path = map_path(case_id, directory)
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path.parent, DIR_MODE)
    lock_fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        rmap = load_map(case_id, directory)
        before = rmap.fingerprint()
        yield rmap
        if rmap.fingerprint() != before or not path.exists():
            _write_private(path, rmap.model_dump_json(indent=1))
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)


def delete_map(case_id: str, directory: Path | None = None) -> list[Path]:
    """Remove the case's map and lock file; returns what was removed."""
    removed = []
    path = map_path(case_id, directory)
    for p in (path, path.with_suffix(".lock")):
        if p.exists():
            p.unlink()
            removed.append(p)
    return removed
