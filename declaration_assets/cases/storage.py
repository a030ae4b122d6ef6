"""Case storage: where case folders live. Local folders here; an S3 prefix in `s3.py` (dagster-aws)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import yaml

from .. import settings
from .models import CaseFileError, CaseRecord, load_case_record

CASE_FILE = "case.yaml"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class CaseFile:
    name: str
    size: int
    version: str  # mtime_ns locally, ETag on S3: changes when the content may have changed

    @property
    def is_pdf(self) -> bool:
        return self.name.lower().endswith(".pdf")


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

    def pdf_names(self, case_id: str) -> list[str]:
        """The case's PDFs in document order (sorted names): exhibit A is the first."""
        return sorted(f.name for f in self.list_files(case_id) if f.is_pdf)

    def sha256(self, case_id: str, name: str) -> str:
        return hashlib.sha256(self.read_bytes(case_id, name)).hexdigest()


class LocalCaseStorage(CaseStorage):
    """Case folders under one or more local roots; the first root holding a case id wins."""

    roots: list[str] = [str(settings.INBOX_DIR), str(settings.CASES_DIR)]

    def _dirs(self) -> list[Path]:
        return [Path(r) for r in self.roots]

    def case_dir(self, case_id: str) -> Path:
        for root in self._dirs():
            if (root / case_id).is_dir():
                return root / case_id
        raise FileNotFoundError(f"case {case_id!r} not found under {', '.join(self.roots)}")

    def list_case_ids(self) -> list[str]:
        ids: set[str] = set()
        for root in self._dirs():
            if root.is_dir():
                ids.update(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        return sorted(ids)

    def list_files(self, case_id: str) -> list[CaseFile]:
        out = []
        for p in sorted(self.case_dir(case_id).iterdir()):
            if p.is_file() and not p.name.startswith("."):
                st = p.stat()
                out.append(CaseFile(name=p.name, size=st.st_size, version=str(st.st_mtime_ns)))
        return out

    def read_bytes(self, case_id: str, name: str) -> bytes:
        return (self.case_dir(case_id) / name).read_bytes()

    def read_case_record(self, case_id: str) -> CaseRecord:
        return load_case_record(self.case_dir(case_id) / CASE_FILE)


def parse_case_yaml(case_id: str, data: bytes, where: str) -> CaseRecord:
    """Validate case.yaml bytes from any store (used by non-local stores)."""
    import tempfile

    raw = yaml.safe_load(data.decode("utf-8")) if data else None
    if raw is None:
        raise CaseFileError(f"{where}: empty case.yaml")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / case_id / CASE_FILE
        p.parent.mkdir()
        p.write_bytes(data)
        try:
            return load_case_record(p)
        except CaseFileError as e:
            raise CaseFileError(str(e).replace(str(p), where)) from e
