"""File permissions for everything the project writes that holds case content (document text, embeddings, asset
values, event and compute logs, outputs): owner-only (files 0600, folders 0700), or readable by one configured
group (`DECLARATION_SHARE_GROUP`: files 0640, folders 0750, so an attorney's team can open the outputs); never
world-readable.

Two halves: `apply_umask()` makes every file a process creates private from the start (set where the code
location loads, so the webserver's code server, the daemon's and every run worker's process get it, and in the
command line, whose children `make dev` starts inherit it); `tighten()` fixes files left by earlier versions.
"""

from __future__ import annotations

import grp
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from .. import settings

ENV_GROUP = "DECLARATION_SHARE_GROUP"


def share_group() -> str | None:
    return settings.current().share_group


def umask_value() -> int:
    return 0o027 if share_group() else 0o077


def apply_umask() -> int:
    """Set the process umask (owner-only, or group-readable for the configured group); returns the previous one."""
    return os.umask(umask_value())


def content_dirs() -> list[Path]:
    """The project's folders that hold case content."""
    config = settings.current()
    dirs = [config.outputs_dir, config.cache_dir, config.run_dir, config.project_root / ".dagster_home"]
    if home := os.environ.get("DAGSTER_HOME"):
        dirs.append(Path(home))
    return list(dict.fromkeys(dirs))


def _target_mode(mode: int, is_dir: bool, grouped: bool) -> int:
    owner = mode & 0o700
    if not grouped:
        return owner
    if is_dir:
        return owner | 0o050 | stat.S_ISGID  # group may list and enter; new files inherit the folder's group
    return owner | (0o040 if mode & 0o400 else 0)


def tighten(roots: Iterable[Path]) -> int:
    """Remove world (and, without a share group, group) access from every file and folder under `roots` this user
    owns; with a share group, hand them to it. Links are not followed. Returns how many entries changed."""
    group = share_group()
    gid = grp.getgrnam(group).gr_gid if group else None
    uid = os.getuid()
    changed = 0
    for root in roots:
        if not root.exists() or root.is_symlink():
            continue
        entries = [root] + [p for p in root.rglob("*")]
        for p in entries:
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode) or st.st_uid != uid:
                continue
            if gid is not None and st.st_gid != gid:
                os.chown(p, -1, gid, follow_symlinks=False)
                changed += 1
            mode = stat.S_IMODE(st.st_mode)
            want = _target_mode(mode, stat.S_ISDIR(st.st_mode), gid is not None)
            if mode != want:
                os.chmod(p, want)
                changed += 1
    return changed


def secure_process() -> int:
    """The umask for this process and its children, and earlier files tightened (the command line calls it)."""
    apply_umask()
    return tighten(content_dirs())


def world_accessible(roots: Iterable[Path]) -> list[str]:
    """Entries under `roots` that anyone on the machine could read or enter (for tests and `make dev`'s check)."""
    out = []
    for root in roots:
        for p in [root, *root.rglob("*")] if root.exists() else []:
            st = p.lstat()
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o007:
                out.append(f"{oct(stat.S_IMODE(st.st_mode))} {p}")
    return out
