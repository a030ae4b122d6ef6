"""Jobs, sensors and (in production) resources of the orchestration, for the root Definitions to merge.

    defs = dg.Definitions.merge(dg.Definitions(assets=..., resources=...), orchestration_definitions())

Profiles (env DECLARATION_PROFILE): `dev` (default) watches the local inbox; `production` watches the S3 case
prefix and stores asset values in S3 (its resources override the dev ones on merge).
"""

from __future__ import annotations

import os
from typing import Literal

import dagster as dg

from .jobs import declaration_job, ingest_job
from .production import production_resources
from .sensors import declaration_after_ingest, inbox_sensor, s3_inbox_sensor

PROFILE_ENV = "DECLARATION_PROFILE"
Profile = Literal["dev", "production"]


def current_profile() -> Profile:
    value = os.environ.get(PROFILE_ENV, "dev")
    if value not in ("dev", "production"):
        raise ValueError(f"{PROFILE_ENV}={value!r}: expected 'dev' or 'production'")
    return value  # type: ignore[return-value]


def orchestration_definitions(profile: Profile | None = None) -> dg.Definitions:
    profile = profile or current_profile()
    if profile == "production":
        return dg.Definitions(
            jobs=[ingest_job, declaration_job],
            sensors=[s3_inbox_sensor, declaration_after_ingest],
            resources=production_resources(),
        )
    return dg.Definitions(jobs=[ingest_job, declaration_job], sensors=[inbox_sensor, declaration_after_ingest])
