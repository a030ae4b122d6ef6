"""The project's root Definitions wire the orchestration: both jobs with the right assets, the sensors."""

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.cases.s3 import S3CaseStorage
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.orchestration import defs as orch
from declaration_assets.orchestration.jobs import DECLARATION_ASSETS, DECLARATION_JOB, INGEST_ASSETS, INGEST_JOB
from declaration_assets.orchestration.production import EncryptedS3PickleIOManager
from declaration_assets.settings import SettingsError


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
    assert isinstance(prod["case_storage"], S3CaseStorage)
    assert isinstance(prod["io_manager"], EncryptedS3PickleIOManager)
    assert {s.name for s in orch.orchestration_definitions("production").sensors} == {"s3_inbox_sensor", "declaration_after_ingest"}
    monkeypatch.delenv("DECLARATION_S3_BUCKET")
    settings.configure()
    with pytest.raises(dg.DagsterInvariantViolationError, match="DECLARATION_S3_BUCKET"):
        orch.profile_resources("production")
    monkeypatch.setenv("DECLARATION_PROFILE", "staging")
    settings.configure()
    with pytest.raises(SettingsError, match="DECLARATION_PROFILE='staging'"):
        orch.current_profile()


def test_the_intake_sensors_run_requests_materialize_the_case_record():
    """The inbox sensors target `ingest_job` with no narrower asset selection, so each run materializes
    `case_record` (and the declaration run that follows reads it)."""
    from declaration_assets.definitions import defs

    assert defs.resolve_sensor_def("inbox_sensor").job_name == INGEST_JOB
    assert orch.orchestration_definitions("production", include_resources=False).resolve_sensor_def(
        "s3_inbox_sensor").job_name == INGEST_JOB


def test_production_resources_read_their_variables_at_setup_not_at_load(monkeypatch):
    """Buckets, prefixes and endpoint are dg.EnvVar fields: the definitions hold the variables' names, and the
    values are read when a run or a sensor sets the resources up."""
    monkeypatch.setenv("DECLARATION_S3_BUCKET", "values-at-load")
    monkeypatch.setenv("DECLARATION_S3_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.delenv("DECLARATION_CASES_S3_BUCKET", raising=False)
    monkeypatch.delenv("DECLARATION_CASES_S3_PREFIX", raising=False)
    prod = orch.profile_resources("production")
    assert prod["case_storage"].bucket == "DECLARATION_S3_BUCKET"  # an EnvVar: the name until setup
    monkeypatch.setenv("DECLARATION_S3_BUCKET", "values-at-setup")
    monkeypatch.setenv("DECLARATION_S3_ENDPOINT_URL", "http://127.0.0.1:2")
    assert prod["io_manager"].s3_bucket == "DECLARATION_S3_BUCKET"  # (its setup checks the bucket's encryption)
    with dg.build_resources({"case_storage": prod["case_storage"]}) as res:
        assert res.case_storage.bucket == "values-at-setup" and res.case_storage.prefix == "inbox"
        assert res.case_storage.s3.endpoint_url == "http://127.0.0.1:2"
