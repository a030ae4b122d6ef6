"""Case folders under an S3 prefix (`s3://<bucket>/<prefix>/<case_id>/...`), through dagster-aws's S3Resource."""


from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from .models import MAX_CASE_FILE_BYTES, CaseFileError, CaseRecord
from .storage import CASE_FILE, CaseFile, CaseRefused, CaseStorage, parse_case_yaml, safe_name


def _entry(name: str, obj: dict) -> CaseFile:
    """A listed key as a case file; a key with `..` or a nested path is listed as skipped, never read (a case reads
    only the objects directly under its own prefix)."""
    size, etag = int(obj["Size"]), str(obj["ETag"]).strip('"')
    if not safe_name(name):
        return CaseFile(name=name, size=size, version=etag,
                        skipped="not a file directly in the case folder (a nested or `..` key), skipped")
    return CaseFile(name=name, size=size, version=etag)


class S3CaseStorage(CaseStorage):
    """The CaseStorage interface over S3. `CaseFile.version` is the object's ETag."""

    s3: dg.ResourceDependency[S3Resource]
    bucket: str
    prefix: str = "inbox"

    _client: Any = PrivateAttr(default=None)

    def client(self) -> Any:
        if self._client is None:
            self._client = self.s3.get_client()
        return self._client

    def _root(self) -> str:
        p = self.prefix.strip("/")
        return f"{p}/" if p else ""

    def key(self, case_id: str, name: str) -> str:
        return f"{self._root()}{case_id}/{name}"

    def _objects(self, prefix: str):
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def list_all_files(self) -> dict[str, list[CaseFile]]:
        """Every case folder and its files in one paginated listing (1,000 keys per request)."""
        root = self._root()
        out: dict[str, list[CaseFile]] = {}
        for obj in self._objects(root):
            rest = obj["Key"][len(root):]
            case_id, sep, name = rest.partition("/")
            if not sep or not case_id or case_id.startswith("."):
                continue  # an object directly under the prefix is not a case folder
            files = out.setdefault(case_id, [])
            if name and not name.endswith("/") and not name.startswith("."):  # "folder/" markers make empty folders
                files.append(_entry(name, obj))
        return {k: sorted(v, key=lambda f: f.name) for k, v in sorted(out.items())}

    def list_case_ids(self) -> list[str]:
        return list(self.list_all_files())

    def ignored_names(self) -> list[str]:
        root = self._root()
        names = set()
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root, Delimiter="/"):
            names |= {p["Prefix"][len(root):].rstrip("/") for p in page.get("CommonPrefixes", [])}
        return sorted(n for n in names if n.startswith("."))

    def list_files(self, case_id: str) -> list[CaseFile]:
        prefix = self.key(case_id, "")
        if not safe_name(case_id):
            raise CaseRefused(f"{case_id!r}: not a case folder name")
        files = [_entry(o["Key"][len(prefix):], o) for o in self._objects(prefix)]
        if not files:
            raise FileNotFoundError(f"case {case_id!r} not found under s3://{self.bucket}/{self._root()}")
        return sorted((f for f in files if f.name and not f.name.endswith("/")), key=lambda f: f.name)

    def read_bytes(self, case_id: str, name: str, limit: int | None = None) -> bytes:
        if not safe_name(case_id) or not safe_name(name):  # no `..`, no key outside the case prefix
            raise CaseRefused(f"{case_id}/{name}: not a file directly in a case folder")
        body = self.client().get_object(Bucket=self.bucket, Key=self.key(case_id, name))["Body"]
        return body.read() if limit is None else body.read(limit)

    def read_case_record(self, case_id: str) -> CaseRecord:
        where = f"s3://{self.bucket}/{self.key(case_id, CASE_FILE)}"
        try:
            data = self.read_bytes(case_id, CASE_FILE, limit=MAX_CASE_FILE_BYTES + 1)  # the cap, before parsing
        except self.client().exceptions.NoSuchKey as e:
            raise CaseFileError(f"{where}: missing (every case folder needs a case.yaml)") from e
        return parse_case_yaml(case_id, data, where)
