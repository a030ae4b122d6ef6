"""Case folders under an S3 prefix (`s3://<bucket>/<prefix>/<case_id>/...`), through dagster-aws's S3Resource."""


from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from .models import CaseFileError, CaseRecord
from .storage import CASE_FILE, CaseFile, CaseStorage, parse_case_yaml


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
                files.append(CaseFile(name=name, size=int(obj["Size"]), version=str(obj["ETag"]).strip('"')))
        return {k: sorted(v, key=lambda f: f.name) for k, v in sorted(out.items())}

    def list_case_ids(self) -> list[str]:
        return list(self.list_all_files())

    def list_files(self, case_id: str) -> list[CaseFile]:
        prefix = self.key(case_id, "")
        files = [
            CaseFile(name=o["Key"][len(prefix):], size=int(o["Size"]), version=str(o["ETag"]).strip('"'))
            for o in self._objects(prefix)
        ]
        if not files:
            raise FileNotFoundError(f"case {case_id!r} not found under s3://{self.bucket}/{self._root()}")
        return sorted((f for f in files if f.name and not f.name.endswith("/")), key=lambda f: f.name)

    def read_bytes(self, case_id: str, name: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=self.key(case_id, name))["Body"].read()

    def read_case_record(self, case_id: str) -> CaseRecord:
        where = f"s3://{self.bucket}/{self.key(case_id, CASE_FILE)}"
        try:
            data = self.read_bytes(case_id, CASE_FILE)
        except self.client().exceptions.NoSuchKey as e:
            raise CaseFileError(f"{where}: missing (every case folder needs a case.yaml)") from e
        return parse_case_yaml(case_id, data, where)
