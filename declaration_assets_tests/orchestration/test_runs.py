"""The two-run flow in process: inbox sensor -> ingest run -> run-status sensor -> declaration run."""

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.orchestration import jobs, sensors

from .casefiles import write_case


@pytest.fixture
def defs(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "INBOX_DIR", tmp_path)
    from . import stand_in_defs

    return stand_in_defs.build_defs()


def run_success_event(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterEvent:
    [entry] = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
    return entry.dagster_event


def test_sensor_ingest_then_declaration_for_default(defs, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    write_case(tmp_path, "vawa-0001")
    cursor = None
    for _ in range(2):
        result = sensors.inbox_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
        cursor = result.cursor
        for req in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    [request] = result.run_requests

    ingest = defs.get_job_def(jobs.INGEST_JOB).execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=request.tags
    )
    assert ingest.success
    run = instance.get_run_by_id(ingest.run_id)
    ctx = dg.build_run_status_sensor_context(
        sensor_name="declaration_after_ingest",
        dagster_event=run_success_event(instance, ingest.run_id),
        dagster_instance=instance,
        dagster_run=run,
    )
    follow = sensors.declaration_after_ingest(ctx)
    assert isinstance(follow, dg.RunRequest)
    assert follow.partition_key == "vawa-0001|default"
    assert follow.tags[jobs.FINGERPRINT_TAG] == request.tags[jobs.FINGERPRINT_TAG]

    declaration = defs.get_job_def(jobs.DECLARATION_JOB).execute_in_process(
        instance=instance, partition_key=follow.partition_key, tags=follow.tags
    )
    assert declaration.success
    materialized = {
        (k.to_user_string(), e.partition)
        for k in map(dg.AssetKey, jobs.DECLARATION_ASSETS)
        for e in [instance.get_latest_materialization_event(k).asset_materialization]
    }
    assert materialized == {(a, "vawa-0001|default") for a in jobs.DECLARATION_ASSETS}


def test_run_case_in_process_registers_and_runs_both_levels(defs, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    write_case(tmp_path, "tvisa-0001")
    ingest, declaration = jobs.run_case_in_process(defs, instance, "tvisa-0001", "default")
    assert ingest.success and declaration is not None and declaration.success
    assert instance.get_dynamic_partitions("cases") == ["tvisa-0001"]
    report = declaration.output_for_node("eval_report")
    assert report["case"] == "tvisa-0001" and report["model"] == "default"
