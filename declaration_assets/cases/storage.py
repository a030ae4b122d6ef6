"""Case storage: where case folders live. Local folders here; an S3 prefix in `s3.py` (dagster-aws).

A case reads only its own regular files: a symbolic link (to another client's document, or to a system file) is
listed with the reason it is skipped and never opened; a case folder that is itself a link is refused.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from .. import settings
from .models import CaseFileError, CaseRecord, load_case_record, parse_case_bytes

CASE_FILE = "case.yaml"
MANIFEST_FILE = "manifest.json"


def max_pdf_bytes() -> int:
    """The largest PDF a case may hold (`DECLARATION_MAX_PDF_MB`)."""
    return int(settings.current().max_pdf_mb * 1024 * 1024)


@dataclass(frozen=True)
class CaseFile:
    name: str
    size: int
    version: str  # mtime_ns locally, ETag on S3: changes when the content may have changed
    mtime: float | None = None  # local files: last modification (epoch s); None where objects appear whole (S3)
    skipped: str | None = None  # why this entry is never read (a symbolic link, a key outside the case): reported

    @property
    def is_pdf(self) -> bool:
        return self.skipped is None and self.name.lower().endswith(".pdf")


class CaseRefused(CaseFileError):
    """The case folder itself may not be read (a symbolic link, or the same case id in two case roots)."""


def safe_name(name: str) -> bool:
    """A plain file name inside a case folder: no separators, no `..`, nothing hidden."""
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..") and not name.startswith(".")


def over_size_limit(f: CaseFile) -> str | None:
    limit = max_pdf_bytes()
    if f.is_pdf and f.size > limit:
        return f"{f.name}: {f.size / 2**20:.0f} MB, over the {limit / 2**20:g} MB limit for one PDF; skipped"
    return None


class CaseStorage(dg.ConfigurableResource):
    """Interface of a case store. Implementations: LocalCaseStorage, S3CaseStorage."""

    def list_case_ids(self) -> list[str]:
        raise NotImplementedError

    def list_files(self, case_id: str) -> list[CaseFile]:
        raise NotImplementedError

    def read_bytes(self, case_id: str, name: str) -> bytes:
        raise NotImplementedError

    def read_case_record(self, case_id: str) -> CaseRecord:
        raise NotImplementedError

    def ignored_names(self) -> list[str]:
        """Entries of the store that look like case folders but are never cases (names starting with a dot)."""
        return []

    def refusal(self, case_id: str) -> str | None:
        """Why the case folder as a whole may not be read, or None."""
        return None

    def pdf_names(self, case_id: str) -> list[str]:
        """The case's PDFs in document order (sorted names): exhibit A is the first. Links and PDFs over the size
        limit are left out (intake reports them)."""
        return sorted(f.name for f in self.list_files(case_id) if f.is_pdf and over_size_limit(f) is None)

    def sha256(self, case_id: str, name: str) -> str:
        return hashlib.sha256(self.read_bytes(case_id, name)).hexdigest()


class LocalCaseStorage(CaseStorage):
    """Case folders under one or more local roots. A case id present in two roots is refused (never "the first
    wins"). `reserved_roots` are roots not listed here whose case ids a case here may not reuse (the inbox sensor
    lists the inbox only, and a drop named like a shipped sample case is refused)."""

    roots: list[str] = []  # empty: the settings' inbox and sample case folders, looked up when used
    reserved_roots: list[str] = []

    def root_list(self) -> list[str]:
        if self.roots:
            return list(self.roots)
        config = settings.current()
        return [str(config.inbox_dir), str(config.cases_dir)]

    def _dirs(self) -> list[Path]:
        return [Path(r) for r in self.root_list()]

    def _holders(self, case_id: str, roots: list[str]) -> list[Path]:
        if not safe_name(case_id):
            return []
        return [Path(r) / case_id for r in roots if os.path.lexists(Path(r) / case_id)]

    def refusal(self, case_id: str) -> str | None:
        holders = self._holders(case_id, [*self.root_list(), *self.reserved_roots])
        if len(holders) > 1:
            return (f"case id {case_id} exists in more than one case folder ({', '.join(str(h.parent) for h in holders)}):"
                    " rename one")
        if holders and holders[0].is_symlink():
            return f"case folder {holders[0]} is a symbolic link: refused (a case folder must be a real folder)"
        return None

    def case_dir(self, case_id: str) -> Path:
        if (why := self.refusal(case_id)) is not None:
            raise CaseRefused(why)
        for p in self._holders(case_id, self.root_list()):
            if p.is_dir():
                return p
        raise FileNotFoundError(f"case {case_id!r} not found under {', '.join(self.root_list())}")

    def list_case_ids(self) -> list[str]:
        ids: set[str] = set()
        for root in self._dirs():
            if root.is_dir():
                # lstat-based: a symlinked folder is listed (and then refused with a reason), a file is not
                ids.update(p.name for p in root.iterdir() if not p.name.startswith(".")
                           and (p.is_symlink() or stat.S_ISDIR(p.lstat().st_mode)))
        return sorted(ids)

    def ignored_names(self) -> list[str]:
        return sorted({p.name for root in self._dirs() if root.is_dir() for p in root.iterdir()
                       if p.name.startswith(".") and p.is_dir()})

    def list_files(self, case_id: str) -> list[CaseFile]:
        out = []
        folder = self.case_dir(case_id)
        for p in sorted(folder.iterdir()):
            if p.name.startswith("."):
                continue
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out.append(CaseFile(name=p.name, size=0, version=f"link:{os.readlink(p)}",
                                    skipped="a symbolic link, skipped (a case reads only its own regular files)"))
            elif stat.S_ISREG(st.st_mode):
                out.append(CaseFile(name=p.name, size=st.st_size, version=str(st.st_mtime_ns), mtime=st.st_mtime))
        return out

    def read_bytes(self, case_id: str, name: str) -> bytes:
        """The bytes of a regular file directly in the case folder; a link or anything else raises."""
        if not safe_name(name):
            raise CaseRefused(f"{name!r}: not a file name inside case {case_id}")
        folder = self.case_dir(case_id)
        # O_NOFOLLOW: a link swapped in after the listing is refused too, not followed.
        fd = os.open(folder / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise CaseRefused(f"{name}: not a regular file")
            return f.read()

    def read_case_record(self, case_id: str) -> CaseRecord:
        folder = self.case_dir(case_id)
        path = folder / CASE_FILE
        if path.is_symlink():
            raise CaseRefused(f"{path}: a symbolic link; case.yaml must be a regular file in the case folder")
        return load_case_record(path)


def parse_case_yaml(case_id: str, data: bytes, where: str) -> CaseRecord:
    """Validate case.yaml bytes from any store (used by non-local stores)."""
    return parse_case_bytes(data, where, case_id)
