"""The two-run flow in process: inbox sensor -> ingest run -> run-status sensor -> declaration run."""

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.orchestration import jobs, sensors

from .casefiles import write_case


@pytest.fixture
def defs(tmp_path, monkeypatch):
    settings.configure(inbox_dir=tmp_path)
    settings.configure(cases_dir=tmp_path.parent / f"{tmp_path.name}-no-samples")
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

    ingest = defs.resolve_job_def(jobs.INGEST_JOB).execute_in_process(
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

    declaration = defs.resolve_job_def(jobs.DECLARATION_JOB).execute_in_process(
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


def test_backfill_targets_pairs_and_comparison():
    from declaration_assets.orchestration.backfill import backfill_targets

    targets = backfill_targets(["a-0001", "b-0001"], ["default", "alt"], include_ingest=False,
                               present=[*jobs.DECLARATION_ASSETS, "model_comparison"])
    assert ("draft", "a-0001|alt") in targets and ("eval_report", "b-0001|default") in targets
    assert ("model_comparison", None) in targets
    assert len(targets) == 4 * 4 + 1
    with pytest.raises(ValueError, match="no asset"):
        backfill_targets(["a-0001"], ["default"], include_ingest=True, present=jobs.DECLARATION_ASSETS)


def test_submit_backfill_checks_selection_and_records_target(defs, tmp_path, monkeypatch):
    """The in-process path sends the public launchPartitionBackfill mutation through `dagster-graphql` to the
    instance DAGSTER_HOME names; the backfill it creates targets exactly the (case, model) pairs and the comparison."""
    from declaration_assets.orchestration import backfill

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        jobs.register_case(instance, "vawa-0001")
        with pytest.raises(ValueError, match="not registered"):
            backfill.submit_backfill(instance, defs, ["vawa-0002"], ["default"])
        with pytest.raises(ValueError, match="routing file"):
            backfill.submit_backfill(instance, defs, ["vawa-0001"], ["nope"])
        backfill_id = backfill.submit_backfill(instance, defs, ["vawa-0001"], ["default"], include_ingest=True)
        record = instance.get_backfill(backfill_id)
        assert record.tags[backfill.BACKFILL_TAG] == "model_comparison"
        target = record.asset_backfill_data.target_subset
        assert target.non_partitioned_asset_keys == {dg.AssetKey("model_comparison")}
        assert {k.to_user_string(): set(s.get_partition_keys()) for k, s in target.partitions_subsets_by_asset_key.items()} == {
            **{a: {"vawa-0001|default"} for a in jobs.DECLARATION_ASSETS},
            **{a: {"vawa-0001"} for a in jobs.INGEST_ASSETS},
        }


def test_backfill_answer_refusals_are_reported():
    from declaration_assets.orchestration.backfill import backfill_id_from

    assert backfill_id_from({"data": {"launchPartitionBackfill": {"__typename": "LaunchBackfillSuccess", "backfillId": "abc"}}}) == "abc"
    with pytest.raises(RuntimeError, match="PartitionKeysNotFoundError: no such key"):
        backfill_id_from({"data": {"launchPartitionBackfill": {"__typename": "PartitionKeysNotFoundError", "message": "no such key"}}})
    with pytest.raises(RuntimeError, match="GraphQL errors"):
        backfill_id_from({"errors": [{"message": "bad"}]})