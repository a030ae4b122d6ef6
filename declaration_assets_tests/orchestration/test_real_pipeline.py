"""The project's real assets through the orchestration's two runs: inbox sensor -> ingest_job -> run-status
sensor -> declaration_job, with every LLM role served by a fast local OpenAI-compatible test server."""

import shutil

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.orchestration import jobs, sensors

from ..support.fault_servers import Latency, OpenAIFaultServer
from .real_defs import REPLY, isolate, project_defs

pytestmark = pytest.mark.integration

CASE = "tvisa-0001"


@pytest.mark.timeout(600)
def test_real_assets_flow_through_both_runs(tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    shutil.copytree(settings.current().cases_dir / CASE, inbox / CASE)
    with OpenAIFaultServer(latency=Latency(tokens=16), reply=REPLY) as server:
        isolate(monkeypatch, tmp_path, inbox, f"{server.base_url}/v1")
        defs = project_defs(tmp_path, inbox)
        with dg.instance_for_test() as instance:
            cursor = None
            for _ in range(2):  # first sight, then stable
                result = sensors.inbox_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
                cursor = result.cursor
                for req in result.dynamic_partitions_requests:
                    instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
            [request] = result.run_requests
            ingest = defs.resolve_job_def(jobs.INGEST_JOB).execute_in_process(
                instance=instance, partition_key=request.partition_key, tags=request.tags
            )
            assert ingest.success
            [success] = instance.all_logs(ingest.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
            follow = sensors.declaration_after_ingest(
                dg.build_run_status_sensor_context(
                    sensor_name="declaration_after_ingest", dagster_event=success.dagster_event,
                    dagster_instance=instance, dagster_run=instance.get_run_by_id(ingest.run_id),
                )
            )
            assert isinstance(follow, dg.RunRequest) and follow.partition_key == f"{CASE}|default"
            declaration = defs.resolve_job_def(jobs.DECLARATION_JOB).execute_in_process(
                instance=instance, partition_key=follow.partition_key, tags=follow.tags, raise_on_error=False
            )
            assert declaration.success, [e.message for e in declaration.all_events if e.is_failure]
            for asset in jobs.DECLARATION_ASSETS:
                assert instance.get_materialized_partitions(dg.AssetKey(asset)) == {f"{CASE}|default"}
        assert server.requests, "the LLM assets called the configured server"
