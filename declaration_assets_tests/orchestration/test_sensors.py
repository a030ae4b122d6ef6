from __future__ import annotations

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.orchestration import jobs, sensors
from declaration_assets.partitions import CASES

from .casefiles import case_files, manifest_for, write_case


@pytest.fixture
def inbox(tmp_path, monkeypatch):
    settings.configure(inbox_dir=tmp_path)
    # drops here reuse sample case ids (vawa-0001): no sample root to clash with
    settings.configure(cases_dir=tmp_path.parent / f"{tmp_path.name}-no-samples")
    return tmp_path


def evaluate(instance, cursor):
    """One tick, applying what the daemon would apply: partitions added before run requests are launched."""
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = sensors.inbox_sensor(ctx)
    assert isinstance(result, dg.SensorResult)
    for req in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


def test_inbox_sensor_registers_complete_cases_once(inbox):
    instance = dg.DagsterInstance.ephemeral()
    write_case(inbox, "vawa-0001")
    files = case_files("tvisa-0001")
    write_case(inbox, "tvisa-0001", {**files, "manifest.json": manifest_for(files)})
    (inbox / "vawa-0009").mkdir()  # empty: a bad drop once stable

    first = evaluate(instance, None)
    # the manifest case is complete on first sight; the others wait for a second identical listing
    assert [r.partition_key for r in first.run_requests] == ["tvisa-0001"]
    assert first.run_requests[0].asset_selection is None  # the whole ingest_job: case_record included
    second = evaluate(instance, first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["vawa-0001"]
    assert second.run_requests[0].run_key.startswith("vawa-0001:")
    assert second.run_requests[0].tags[jobs.FINGERPRINT_TAG] == second.run_requests[0].run_key.split(":")[1]
    assert sorted(instance.get_dynamic_partitions(CASES)) == ["tvisa-0001", "vawa-0001"]
    # the empty folder is reported as an observation on its extracted_text partition, never registered
    [event] = second.asset_events
    assert event.asset_key == dg.AssetKey("extracted_text") and event.partition == "vawa-0009"
    assert "empty case folder" in event.metadata["problems"].value
    third = evaluate(instance, second.cursor)
    assert not third.run_requests and not third.asset_events and not third.dynamic_partitions_requests


def test_restart_with_stored_cursor_neither_misses_nor_repeats(inbox):
    instance = dg.DagsterInstance.ephemeral()
    write_case(inbox, "vawa-0001")
    cursor = evaluate(instance, None).cursor
    # daemon restarts: a new context from the stored cursor continues where it stopped
    result = evaluate(instance, cursor)
    assert [r.partition_key for r in result.run_requests] == ["vawa-0001"]
    write_case(inbox, "vawa-0002")
    result = evaluate(instance, result.cursor)
    result = evaluate(instance, result.cursor)
    assert [r.partition_key for r in result.run_requests] == ["vawa-0002"]


def test_changed_file_gets_a_new_run_key(inbox):
    instance = dg.DagsterInstance.ephemeral()
    folder = write_case(inbox, "vawa-0001")
    r1 = evaluate(instance, evaluate(instance, None).cursor)
    (folder / "02-exhibit.pdf").write_bytes(case_files("vawa-0002")["02-exhibit.pdf"])
    r2 = evaluate(instance, evaluate(instance, r1.cursor).cursor)
    assert [r.partition_key for r in r2.run_requests] == ["vawa-0001"]
    assert r2.run_requests[0].run_key != r1.run_requests[0].run_key


def test_declaration_request_follows_single_case_ingest():
    req = sensors.declaration_request(
        {"dagster/partition": "vawa-0001", jobs.FINGERPRINT_TAG: "abc", jobs.SOURCE_TAG: "inbox"}, "run-1", "default"
    )
    assert req is not None
    assert req.partition_key == dg.MultiPartitionKey({"case": "vawa-0001", "model": "default"})
    assert req.run_key == "vawa-0001|default|run-1"
    assert req.tags[jobs.INGEST_RUN_TAG] == "run-1" and req.tags[jobs.FINGERPRINT_TAG] == "abc"
    assert sensors.declaration_request({"dagster/asset_partition_range_start": "a"}, "run-2", "default") is None
    assert sensors.declaration_request({"dagster/partition": "vawa-0001", "dagster/backfill": "abc"}, "run-3", "default") is None


def test_register_case_is_idempotent_and_checks_ids():
    instance = dg.DagsterInstance.ephemeral()
    assert jobs.register_case(instance, "vawa-0001") is True
    assert jobs.register_case(instance, "vawa-0001") is False
    assert instance.get_dynamic_partitions(CASES) == ["vawa-0001"]
    with pytest.raises(ValueError):
        jobs.register_case(instance, "Maria Lopez")


def test_manifest_case_arriving_in_pieces_runs_once_complete(inbox):
    instance = dg.DagsterInstance.ephemeral()
    files = case_files("tvisa-0001", n_pdfs=3)
    folder = inbox / "tvisa-0001"
    folder.mkdir()
    (folder / "manifest.json").write_bytes(manifest_for(files))
    cursor = None
    for name in ["01-exhibit.pdf", "02-exhibit.pdf", "03-exhibit.pdf"]:
        (folder / name).write_bytes(files[name])
        for _ in range(3):  # the uploader pauses for several ticks between pieces
            result = evaluate(instance, cursor)
            cursor = result.cursor
            assert not result.run_requests and not result.asset_events
    (folder / "case.yaml").write_bytes(files["case.yaml"])
    result = evaluate(instance, cursor)
    assert [r.partition_key for r in result.run_requests] == ["tvisa-0001"]
