"""The project's root Definitions wire the orchestration: both jobs with the right assets, the sensors."""

import dagster as dg
import pytest

from declaration_assets.cases.s3 import S3CaseStorage
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.orchestration import defs as orch
from declaration_assets.orchestration.jobs import DECLARATION_ASSETS, DECLARATION_JOB, INGEST_ASSETS, INGEST_JOB
from declaration_assets.orchestration.production import EncryptedS3PickleIOManager


def test_root_definitions_have_the_two_jobs_and_sensors():
    from declaration_assets.definitions import defs

    ingest = defs.resolve_job_def(INGEST_JOB)
    declaration = defs.resolve_job_def(DECLARATION_JOB)
    assert {k.to_user_string() for k in ingest.asset_layer.selected_asset_keys} == set(INGEST_ASSETS)
    assert set(INGEST_ASSETS) == {"case_record", "extracted_text", "chunk_index"}  # case.yaml is read in the ingest run
    assert {k.to_user_string() for k in declaration.asset_layer.selected_asset_keys} == set(DECLARATION_ASSETS)
    assert {s.name for s in defs.sensors} == {"inbox_sensor", "declaration_after_ingest"}


def test_profiles(monkeypatch):
    assert isinstance(orch.profile_resources("dev")["case_storage"], LocalCaseStorage)
    monkeypatch.setenv("DECLARATION_S3_BUCKET", "values")
    prod = orch.profile_resources("production")
    assert isinstance(prod["case_storage"], S3CaseStorage) and prod["case_storage"].bucket == "values"
    assert isinstance(prod["io_manager"], EncryptedS3PickleIOManager)
    assert {s.name for s in orch.orchestration_definitions("production").sensors} == {"s3_inbox_sensor", "declaration_after_ingest"}
    monkeypatch.delenv("DECLARATION_S3_BUCKET")
    with pytest.raises(dg.DagsterInvariantViolationError, match="DECLARATION_S3_BUCKET"):
        orch.profile_resources("production")
    monkeypatch.setenv("DECLARATION_PROFILE", "staging")
    with pytest.raises(ValueError):
        orch.current_profile()


def test_the_intake_sensors_run_requests_materialize_the_case_record():
    """The inbox sensors target `ingest_job` with no narrower asset selection, so each run materializes
    `case_record` (and the declaration run that follows reads it)."""
    from declaration_assets.definitions import defs

    assert defs.resolve_sensor_def("inbox_sensor").job_name == INGEST_JOB
    assert orch.orchestration_definitions("production", include_resources=False).resolve_sensor_def(
        "s3_inbox_sensor").job_name == INGEST_JOB
