"""The production profile's resources: asset values in S3 (server-side encrypted), cases under an S3 prefix.

Dagster's own storage (runs, events, schedules) goes to PostgreSQL through the instance's dagster.yaml
(deploy/production/dagster.yaml); this module covers what lives in Definitions.
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Any, Literal

import dagster as dg
from dagster._utils.cached_method import cached_method
from dagster_aws.s3 import S3PickleIOManager, S3Resource
from dagster_aws.s3.io_manager import PickledObjectS3IOManager

from ..cases.s3 import S3CaseStorage

# Environment of the production profile (documented in docs/OPERATIONS.md).
ENV_BUCKET = "DECLARATION_S3_BUCKET"  # asset values
ENV_PREFIX = "DECLARATION_S3_PREFIX"
ENV_CASES_BUCKET = "DECLARATION_CASES_S3_BUCKET"  # case folders (defaults to the asset bucket)
ENV_CASES_PREFIX = "DECLARATION_CASES_S3_PREFIX"
ENV_ENDPOINT = "DECLARATION_S3_ENDPOINT_URL"  # only for S3-compatible stores (MinIO, tests); unset on AWS
ENV_REGION = "AWS_REGION"


class _EncryptingPickledObjectS3IOManager(PickledObjectS3IOManager):
    def __init__(self, *, server_side_encryption: str, kms_key_id: str | None, **kwargs: Any):
        super().__init__(**kwargs)
        self.extra_args: dict[str, str] = {"ServerSideEncryption": server_side_encryption}
        if kms_key_id:
            self.extra_args["SSEKMSKeyId"] = kms_key_id

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: Any) -> None:
        # dagster-aws's S3PickleIOManager has no option for upload ExtraArgs; this is its dump_to_path plus them.
        data = io.BytesIO(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))
        self.s3.upload_fileobj(data, self.bucket, path.as_posix(), ExtraArgs=self.extra_args)


class EncryptedS3PickleIOManager(S3PickleIOManager):
    """dagster-aws's S3PickleIOManager, writing every object with S3 server-side encryption (SSE-S3 or SSE-KMS)."""

    server_side_encryption: Literal["AES256", "aws:kms"] = "AES256"
    kms_key_id: str | None = None

    @cached_method
    def inner_io_manager(self) -> PickledObjectS3IOManager:
        return _EncryptingPickledObjectS3IOManager(
            s3_bucket=self.s3_bucket,
            s3_session=self.s3_resource.get_client(),
            s3_prefix=self.s3_prefix,
            server_side_encryption=self.server_side_encryption,
            kms_key_id=self.kms_key_id,
        )


def s3_resource() -> S3Resource:
    return S3Resource(region_name=os.environ.get(ENV_REGION) or None, endpoint_url=os.environ.get(ENV_ENDPOINT) or None)


def production_resources() -> dict[str, Any]:
    """`io_manager` (encrypted S3 pickles) and `case_storage` (S3 case folders), configured from the environment."""
    s3 = s3_resource()
    bucket = os.environ.get(ENV_BUCKET)
    if not bucket:
        raise dg.DagsterInvariantViolationError(f"the production profile needs {ENV_BUCKET} (see docs/OPERATIONS.md)")
    return {
        "io_manager": EncryptedS3PickleIOManager(
            s3_resource=s3, s3_bucket=bucket, s3_prefix=os.environ.get(ENV_PREFIX) or "declaration_assets"
        ),
        "case_storage": S3CaseStorage(
            s3=s3,
            bucket=os.environ.get(ENV_CASES_BUCKET) or bucket,
            prefix=os.environ.get(ENV_CASES_PREFIX) or "inbox",
        ),
    }
