"""Versioned output folders: each materialization writes a new `v<N>-<timestamp>-<runid8>/`; `latest` points to it.

Nothing here ever overwrites a file: an attorney may have edited an earlier version by hand.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

VERSION_RE = re.compile(r"^v(\d+)-")
LATEST_LINK = "latest"
LATEST_FILE = "LATEST"


def output_base(outputs_dir: Path, case_id: str, model_config: str) -> Path:
    return outputs_dir / case_id / model_config


def version_numbers(base: Path) -> list[int]:
    if not base.is_dir():
        return []
    return sorted(int(m.group(1)) for p in base.iterdir() if p.is_dir() and (m := VERSION_RE.match(p.name)))


def create_version_dir(base: Path, run_id: str, now: datetime | None = None) -> Path:
    """A new, empty folder `v<N>-<YYYYmmddTHHMMSSZ>-<runid8>`; N is one more than the highest existing version."""
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base.mkdir(parents=True, exist_ok=True)
    for _ in range(100):  # bounded: a concurrent writer may take the same number first
        n = (version_numbers(base) or [0])[-1] + 1
        path = base / f"v{n}-{stamp}-{run_id[:8]}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new version folder under {base}")


def write_new(path: Path, data: bytes | str) -> Path:
    """Write a file that must not exist yet (mode 'x'): raises FileExistsError instead of overwriting."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with open(path, "xb") as f:
        f.write(raw)
    return path


def free_name(folder: Path, name: str, tag: str) -> Path:
    """`folder/name` if it does not exist, else `folder/<stem>-<tag>[-k]<suffix>`: a later write beside an earlier one."""
    path = folder / name
    if not path.exists():
        return path
    stem, suffix = os.path.splitext(name)
    for k in range(1, 1000):
        cand = folder / (f"{stem}-{tag}{suffix}" if k == 1 else f"{stem}-{tag}-{k}{suffix}")
        if not cand.exists():
            return cand
    raise RuntimeError(f"no free file name for {name} in {folder}")


def point_latest(base: Path, version_dir: Path) -> None:
    """Point `latest` (symlink) and `LATEST` (text file, for filesystems without symlinks) at `version_dir`.

    Both are replaced atomically (write aside, then rename); they are pointers, never documents.
    """
    tmp_file = base / f".{LATEST_FILE}.{os.getpid()}"
    tmp_file.write_text(version_dir.name + "\n", encoding="utf-8")
    os.replace(tmp_file, base / LATEST_FILE)
    tmp_link = base / f".{LATEST_LINK}.{os.getpid()}"
    try:
        if tmp_link.is_symlink() or tmp_link.exists():
            tmp_link.unlink()
        os.symlink(version_dir.name, tmp_link, target_is_directory=True)
        os.replace(tmp_link, base / LATEST_LINK)
    except OSError:
        pass  # no symlinks here: LATEST still names the folder


def latest_version(base: Path) -> Path | None:
    f = base / LATEST_FILE
    if not f.is_file():
        return None
    p = base / f.read_text(encoding="utf-8").strip()
    return p if p.is_dir() else None
