"""The production profile's resources: asset values in S3 (server-side encrypted), cases under an S3 prefix.

Dagster's own storage (runs, events, schedules) goes to PostgreSQL through the instance's dagster.yaml
(deploy/production/dagster.yaml); this module covers what lives in Definitions.
"""

from __future__ import annotations

from typing import Any, Literal

import dagster as dg
from botocore.exceptions import ClientError
from dagster_aws.s3 import S3PickleIOManager, S3Resource

from .. import settings
from ..cases.s3 import S3CaseStorage

# Environment of the production profile (documented in docs/OPERATIONS.md).
ENV_BUCKET = "DECLARATION_S3_BUCKET"  # asset values
ENV_PREFIX = "DECLARATION_S3_PREFIX"
ENV_CASES_BUCKET = "DECLARATION_CASES_S3_BUCKET"  # case folders (defaults to the asset bucket)
ENV_CASES_PREFIX = "DECLARATION_CASES_S3_PREFIX"
ENV_ENDPOINT = "DECLARATION_S3_ENDPOINT_URL"  # only for S3-compatible stores (MinIO, tests); unset on AWS
ENV_REGION = "AWS_REGION"


class BucketNotEncrypted(dg.DagsterInvariantViolationError):
    """The value bucket has no default encryption of the required kind: nothing is written to it."""


def bucket_encryption_problem(client: Any, bucket: str, algorithm: str, kms_key_id: str | None) -> str | None:
    """Why `bucket`'s default encryption does not meet the requirement, or None when it does.

    Every object S3 stores without its own encryption headers gets the bucket's default encryption, so verifying
    the default once (GetBucketEncryption) covers every value the IO manager writes.
    """
    try:
        config = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code == "ServerSideEncryptionConfigurationNotFoundError":
            return f"bucket {bucket} has no default encryption"
        return f"bucket {bucket}: cannot read its encryption configuration ({code or e})"
    defaults = [r.get("ApplyServerSideEncryptionByDefault", {}) for r in config.get("Rules", [])]
    algorithms = {d.get("SSEAlgorithm") for d in defaults}
    if algorithm == "aws:kms":
        keys = {d.get("KMSMasterKeyID") for d in defaults if d.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse")}
        if not keys:
            return f"bucket {bucket} encrypts with {sorted(a for a in algorithms if a)} by default, not SSE-KMS"
        if kms_key_id and kms_key_id not in keys:
            return f"bucket {bucket} encrypts with another KMS key than {kms_key_id}"
        return None
    if not algorithms & {"AES256", "aws:kms", "aws:kms:dsse"}:
        return f"bucket {bucket} has no default server-side encryption"
    return None


class EncryptedS3PickleIOManager(S3PickleIOManager):
    """dagster-aws's S3PickleIOManager on a bucket verified, at resource setup, to encrypt every object by default
    (SSE-S3, or SSE-KMS with the given key). A bucket that does not is refused before any value is written.

    The check uses the resource's public setup hook and the bucket's own default encryption, so no dagster-aws
    internals are overridden (configure it with `aws s3api put-bucket-encryption`, see docs/OPERATIONS.md).
    """

    server_side_encryption: Literal["AES256", "aws:kms"] = "AES256"
    kms_key_id: str | None = None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        problem = bucket_encryption_problem(
            self.s3_resource.get_client(), self.s3_bucket, self.server_side_encryption, self.kms_key_id
        )
        if problem:
            raise BucketNotEncrypted(f"asset values are not written to S3: {problem} (see docs/OPERATIONS.md)")


def _env_or(var: str, is_set: object, default: Any) -> Any:
    """`dg.EnvVar(var)` where the variable is set: Dagster reads its value when a run (or a sensor) sets the
    resource up, not when the definitions load, and the UI shows the variable's name rather than its value.
    Where it is not set, the default (EnvVar has no default of its own)."""
    return dg.EnvVar(var) if is_set else default


def s3_resource() -> S3Resource:
    """The S3 resource of the definitions: region and endpoint as environment variables read at resource setup."""
    config = settings.current()
    return S3Resource(
        region_name=_env_or(ENV_REGION, config.environ.get(ENV_REGION), None),
        endpoint_url=_env_or(ENV_ENDPOINT, config.s3_endpoint_url, None),
    )


def s3_client() -> Any:
    """A boto3 S3 client with the settings' values, for commands that run outside Dagster (purge)."""
    config = settings.current()
    return S3Resource(region_name=config.environ.get(ENV_REGION) or None,
                      endpoint_url=config.s3_endpoint_url).get_client()


def production_resources() -> dict[str, Any]:
    """`io_manager` (encrypted S3 pickles) and `case_storage` (S3 case folders). Buckets, prefixes, region and
    endpoint are `dg.EnvVar`s, read at resource setup; a missing bucket is refused here, with its variable's name."""
    config = settings.current()
    if not config.s3_bucket:
        raise dg.DagsterInvariantViolationError(f"the production profile needs {ENV_BUCKET} (see docs/OPERATIONS.md)")
    s3 = s3_resource()
    return {
        "io_manager": EncryptedS3PickleIOManager(
            s3_resource=s3, s3_bucket=dg.EnvVar(ENV_BUCKET),
            s3_prefix=_env_or(ENV_PREFIX, config.environ.get(ENV_PREFIX), "declaration_assets"),
        ),
        "case_storage": S3CaseStorage(
            s3=s3,
            bucket=dg.EnvVar(ENV_CASES_BUCKET if config.cases_s3_bucket else ENV_BUCKET),
            prefix=_env_or(ENV_CASES_PREFIX, config.environ.get(ENV_CASES_PREFIX), "inbox"),
        ),
    }
