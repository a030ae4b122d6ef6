"""Jobs, sensors and profile-dependent resources of the orchestration, for the root Definitions.

    resources = {"embedder": ..., "llm": ..., **profile_resources()}
    defs = dg.Definitions.merge(dg.Definitions(assets=..., resources=resources),
                                orchestration_definitions(include_resources=False))

Profiles (env DECLARATION_PROFILE): `dev` (default) reads and watches the local inbox, values on local disk;
`production` reads and watches the S3 case prefix and stores asset values in S3 (encrypted).
"""

from typing import Any, Literal

import dagster as dg

from .. import settings
from ..cases.storage import LocalCaseStorage
from .jobs import declaration_job, ingest_job
from .production import production_resources
from .sensors import sensor_definitions

Profile = Literal["dev", "production"]


def current_profile() -> Profile:
    """The settings' profile (`DECLARATION_PROFILE`, validated when the settings are built)."""
    return settings.current().profile


def profile_resources(profile: Profile | None = None) -> dict[str, Any]:
    """`case_storage` (and in production `io_manager`) for the profile."""
    if (profile or current_profile()) == "production":
        return production_resources()
    return {"case_storage": LocalCaseStorage()}


def orchestration_definitions(profile: Profile | None = None, include_resources: bool = True) -> dg.Definitions:
    """The two jobs and the sensors of the profile. With `include_resources`, the production profile also brings
    its resources (a root Definitions that binds its own `case_storage` must use `profile_resources()` instead, or
    the merge fails loudly rather than silently reading the wrong store)."""
    profile = profile or current_profile()
    jobs = [ingest_job, declaration_job]
    if profile == "production":
        return dg.Definitions(
            jobs=jobs,
            sensors=sensor_definitions(profile),
            resources=production_resources() if include_resources else None,
        )
    return dg.Definitions(jobs=jobs, sensors=sensor_definitions(profile))
