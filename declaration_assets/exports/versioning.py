"""Versioned output folders: each materialization writes a new `v<NNNN>-<timestamp>-<runid8>/`; `latest` points to
the highest finished version, `approved` to the version an attorney approved.

One rule for every writer (model runs, attorney edits, any storage): a version number is allocated atomically
(an exclusive create of `.versions/<NNNN>` locally; a conditional put, `IfNoneMatch='*'`, on S3), so two writers
never share a number; `latest` only ever moves up. Nothing here overwrites a document: an attorney may have edited
an earlier version by hand. Folders written before numbers were zero-padded (`v1-...`) are still read.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

VERSION_RE = re.compile(r"^v(\d+)-")
LATEST_LINK = "latest"
LATEST_FILE = "LATEST"
APPROVED_LINK = "approved"
APPROVED_FILE = "APPROVED"
RESERVATIONS = ".versions"  # one empty file per allocated number: the exclusive create is the allocation
LOCK_FILE = ".pointers.lock"


def output_base(outputs_dir: Path, case_id: str, model_config: str) -> Path:
    return outputs_dir / case_id / model_config


def version_number(name: str) -> int | None:
    m = VERSION_RE.match(name)
    return int(m.group(1)) if m else None


def version_name(n: int, run_id: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"v{n:04d}-{stamp}-{run_id[:8]}"


def version_numbers(base: Path) -> list[int]:
    if not base.is_dir():
        return []
    return sorted(n for p in base.iterdir() if p.is_dir() and (n := version_number(p.name)) is not None)


def _reserved(base: Path) -> list[int]:
    d = base / RESERVATIONS
    return [int(p.name) for p in d.iterdir() if p.name.isdigit()] if d.is_dir() else []


def allocate_version(base: Path) -> int:
    """The next version number, taken atomically: an exclusive create (O_EXCL) of `.versions/<NNNN>`; a writer that
    loses the race to a number takes the next one."""
    (base / RESERVATIONS).mkdir(parents=True, exist_ok=True)
    n = max([0, *version_numbers(base), *_reserved(base)]) + 1
    for _ in range(1000):
        try:
            os.close(os.open(base / RESERVATIONS / f"{n:04d}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return n
        except FileExistsError:
            n += 1
    raise RuntimeError(f"could not allocate a version number under {base}")


def create_version_dir(base: Path, run_id: str, now: datetime | None = None) -> Path:
    """A new, empty folder `v<NNNN>-<YYYYmmddTHHMMSSZ>-<runid8>` whose number no other writer holds."""
    path = base / version_name(allocate_version(base), run_id, now)
    path.mkdir()
    return path


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


@contextlib.contextmanager
def _pointer_lock(base: Path) -> Iterator[None]:
    """Serializes pointer updates of one output folder across processes (an advisory lock file)."""
    fd = os.open(base / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _set_pointer(base: Path, version_dir: Path, file_name: str, link_name: str) -> None:
    """`file_name` (text, for filesystems without symlinks) and `link_name` (symlink) name `version_dir`; both are
    replaced atomically (write aside, then rename). They are pointers, never documents."""
    tmp_file = base / f".{file_name}.{os.getpid()}"
    tmp_file.write_text(version_dir.name + "\n", encoding="utf-8")
    os.replace(tmp_file, base / file_name)
    tmp_link = base / f".{link_name}.{os.getpid()}"
    try:
        if tmp_link.is_symlink() or tmp_link.exists():
            tmp_link.unlink()
        os.symlink(version_dir.name, tmp_link, target_is_directory=True)
        os.replace(tmp_link, base / link_name)
    except OSError:
        pass  # no symlinks here: the text file still names the folder


def _pointed(base: Path, file_name: str) -> Path | None:
    f = base / file_name
    if not f.is_file():
        return None
    p = base / f.read_text(encoding="utf-8").strip()
    return p if p.is_dir() else None


def point_latest(base: Path, version_dir: Path) -> Path:
    """Point `latest` at `version_dir` unless it already names a higher version (a writer that finishes late never
    moves `latest` back). Returns what `latest` names afterwards."""
    n = version_number(version_dir.name) or 0
    with _pointer_lock(base):
        current = _pointed(base, LATEST_FILE)
        if current is not None and (version_number(current.name) or 0) > n:
            return current
        _set_pointer(base, version_dir, LATEST_FILE, LATEST_LINK)
        return version_dir


def latest_version(base: Path) -> Path | None:
    return _pointed(base, LATEST_FILE)


def point_approved(base: Path, version_dir: Path) -> None:
    """Mark `version_dir` as the approved version (its own pointer: later model runs move `latest`, never this)."""
    if not version_dir.is_dir() or version_dir.parent != base or version_number(version_dir.name) is None:
        raise ValueError(f"{version_dir} is not a version folder of {base}")
    with _pointer_lock(base):
        _set_pointer(base, version_dir, APPROVED_FILE, APPROVED_LINK)


def approved_version(base: Path) -> Path | None:
    return _pointed(base, APPROVED_FILE)


# --- the same rule on S3 ------------------------------------------------------------------------------------
def _precondition_failed(e: Exception) -> bool:
    code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
    return code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def s3_allocate_version(client: Any, bucket: str, base: str, run_id: str, now: datetime | None = None) -> str:
    """A new version folder name under `s3://bucket/base/`, its number taken by a conditional put
    (`IfNoneMatch='*'`) of `base/.versions/<NNNN>`: of two writers, exactly one gets each number."""
    base = base.strip("/")
    taken = [0]
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{base}/"):
        for o in page.get("Contents", []):
            rest = o["Key"][len(base) + 1:]
            head = rest.split("/", 1)[0]
            if (n := version_number(head)) is not None:
                taken.append(n)
            elif rest.startswith(f"{RESERVATIONS}/") and rest[len(RESERVATIONS) + 1:].isdigit():
                taken.append(int(rest[len(RESERVATIONS) + 1:]))
    n = max(taken) + 1
    for _ in range(1000):
        try:
            client.put_object(Bucket=bucket, Key=f"{base}/{RESERVATIONS}/{n:04d}", Body=run_id.encode(), IfNoneMatch="*")
            return version_name(n, run_id, now)
        except Exception as e:
            if not _precondition_failed(e):
                raise
            n += 1
    raise RuntimeError(f"could not allocate a version number under s3://{bucket}/{base}/")


def s3_point_latest(client: Any, bucket: str, base: str, version: str) -> str:
    """`base/LATEST` names `version` unless it names a higher one; a compare-and-swap on the object's ETag
    (`IfMatch`, or `IfNoneMatch='*'` for the first), retried when another writer moved it meanwhile."""
    key = f"{base.strip('/')}/{LATEST_FILE}"
    n = version_number(version) or 0
    for _ in range(100):
        try:
            obj = client.get_object(Bucket=bucket, Key=key)
            current, etag = obj["Body"].read().decode().strip(), obj["ETag"]
        except client.exceptions.NoSuchKey:
            current, etag = None, None
        if current is not None and (version_number(current) or 0) >= n:
            return current
        cond = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            client.put_object(Bucket=bucket, Key=key, Body=(version + "\n").encode(), **cond)
            return version
        except Exception as e:
            if not _precondition_failed(e):
                raise
    raise RuntimeError(f"could not update s3://{bucket}/{key}")


def main(argv: list[str] | None = None) -> int:
    """`python -m declaration_assets.exports.versioning approve <case_id> <model_config> <version folder>`."""
    import argparse

    from .. import settings

    ap = argparse.ArgumentParser(prog="python -m declaration_assets.exports.versioning")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("approve", help="point `approved` at a version folder of a case's outputs")
    p.add_argument("case_id")
    p.add_argument("model_config")
    p.add_argument("version", help="the version folder's name, e.g. v0003-20261126T221500Z-1a2b3c4d")
    args = ap.parse_args(argv)
    base = output_base(settings.current().outputs_dir, args.case_id, args.model_config)
    point_approved(base, base / args.version)
    print(f"{base / APPROVED_LINK} -> {args.version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
