"""The real daemon: cases dropped into the inbox produce exactly the right runs, across a daemon restart."""

import time
from collections import Counter

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import RunsFilter

from declaration_assets.orchestration.jobs import DECLARATION_JOB, FINGERPRINT_TAG, INGEST_JOB

from .casefiles import case_files, manifest_for, write_case
from .services import REPO, daemon, service_env, wait_for, write_dagster_home, write_workspace

pytestmark = pytest.mark.integration


def runs_of(instance: dg.DagsterInstance, job: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=RunsFilter(job_name=job)))


def partitions(runs) -> Counter:
    return Counter(r.tags.get("dagster/partition") for r in runs)


def all_done(instance, expected_ingest: set[str], expected_declaration: set[str]) -> bool:
    ingest, decl = runs_of(instance, INGEST_JOB), runs_of(instance, DECLARATION_JOB)
    return (
        set(partitions(ingest)) == expected_ingest
        and set(partitions(decl)) == expected_declaration
        and all(r.is_finished for r in ingest + decl)
    )


@pytest.mark.timeout(420)
def test_daemon_inbox_exactly_once_across_restart(tmp_path):
    home = write_dagster_home(
        tmp_path / "home",
        base=REPO / "dagster.yaml",  # the dev instance settings of `make dev`, exercised here
        overrides={
            "run_coordinator": {
                "module": "dagster.core.run_coordinator",
                "class": "QueuedRunCoordinator",
                "config": {"dequeue_interval_seconds": 1},
            }
        },
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    workspace = write_workspace(tmp_path / "workspace.yaml")
    samples = tmp_path / "no-samples"  # the drops reuse sample case ids: no sample root for them to clash with
    samples.mkdir()
    env = service_env(home, DECLARATION_INBOX_DIR=str(inbox), DECLARATION_CASES_DIR=str(samples),
                      DECLARATION_SENSOR_INTERVAL_S="1")
    instance = dg.DagsterInstance.from_config(str(home))

    # Three drops: one complete, one broken (stray file, invalid case.yaml), one arriving in pieces (manifest first).
    write_case(inbox, "vawa-0001")
    broken = case_files("vawa-0009")
    broken["notes.txt"] = b"call back Tuesday"
    broken["case.yaml"] = b"case_type: asylum\n"
    write_case(inbox, "vawa-0009", broken)
    pieces = case_files("tvisa-0001", n_pdfs=3)
    write_case(inbox, "tvisa-0001", {"manifest.json": manifest_for(pieces), "01-exhibit.pdf": pieces["01-exhibit.pdf"]})

    first = daemon(home, workspace, env)
    services = [first]
    try:
        wait_for(lambda: partitions(runs_of(instance, INGEST_JOB)).get("vawa-0001"), 150, what="ingest run of vawa-0001\n" + first.tail())
        (inbox / "tvisa-0001" / "02-exhibit.pdf").write_bytes(pieces["02-exhibit.pdf"])
        # Restart while work is in flight: only the daemon process is stopped; its run workers carry on.
        first.stop(group=False)
        (inbox / "tvisa-0001" / "03-exhibit.pdf").write_bytes(pieces["03-exhibit.pdf"])
        time.sleep(2)
        (inbox / "tvisa-0001" / "case.yaml").write_bytes(pieces["case.yaml"])
        second = daemon(home, workspace, env)
        services.append(second)

        expected = {"vawa-0001", "tvisa-0001"}
        wait_for(
            lambda: all_done(instance, expected, {f"{c}|default" for c in expected}),
            240,
            interval=1,
            what="both cases through both runs\n" + second.tail(),
        )
        time.sleep(12)  # two more sensor loops: nothing more may be launched
    finally:
        for s in services:
            s.stop()

    ingest, decl = runs_of(instance, INGEST_JOB), runs_of(instance, DECLARATION_JOB)
    assert partitions(ingest) == Counter({"vawa-0001": 1, "tvisa-0001": 1})
    assert partitions(decl) == Counter({"vawa-0001|default": 1, "tvisa-0001|default": 1})
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in ingest + decl), [(r.run_id, r.status) for r in ingest + decl]
    # the piecewise case ran once, on its complete content (three PDFs)
    tvisa = next(r for r in ingest if r.tags["dagster/partition"] == "tvisa-0001")
    assert FINGERPRINT_TAG in tvisa.tags
    event = instance.get_latest_materialization_event(dg.AssetKey("extracted_text"))
    assert event is not None
    assert sorted(instance.get_dynamic_partitions("cases")) == ["tvisa-0001", "vawa-0001"]
    # the broken drop was reported on its own partition, and never run
    observations = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("extracted_text"), asset_partitions=["vawa-0009"]), limit=10
    ).records
    assert len(observations) == 1
    meta = observations[0].asset_observation.metadata
    assert "case_type" in meta["reason"].value  # the fatal reason first, the skipped file as a notice
    assert "notes.txt: not a PDF" in meta["notices"].value
