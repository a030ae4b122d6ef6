"""Purge against what a fresh case really leaves behind: every byte under the project's folders and every table of
the instance is searched for the case's identifiers (as written, JSON-escaped, decomposed Unicode) after a purge;
cache entries another case shares survive; a purged case can come back; what a run writes is never
world-readable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import dagster as dg
import pytest
import yaml

from declaration_assets import settings
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.drafting.assets import draft
from declaration_assets.cases.assets import case_record
from declaration_assets.extraction.assets import extracted_text
from declaration_assets.extraction.pdf import _cache_key, ocr_settings
from declaration_assets.guarding.assets import guarded_declaration
from declaration_assets.judging.assets import judge_scores
from declaration_assets.llm.resources import LLMRouter
from declaration_assets.orchestration import intake, sensors
from declaration_assets.extraction import references
from declaration_assets.privacy import permissions
from declaration_assets.privacy.purge import Targets, purge_case
from declaration_assets.retrieval.assets import chunk_index
from declaration_assets.retrieval.embeddings import Embedder
from declaration_assets_tests.orchestration.casefiles import case_files, pdf_bytes, write_case
from declaration_assets_tests.support.fault_servers import Latency, OpenAIFaultServer

from .cases import sample_dir, sample_record
from .test_external_route import answer, routing_file

CASE = "tvisa-0077"
SOURCE = "tvisa-0001"


def spellings(s: str) -> set[bytes]:
    """The ways a string can sit in a file: as written, composed and decomposed, JSON-escaped; lower-cased."""
    forms = {s, unicodedata.normalize("NFC", s), unicodedata.normalize("NFD", s)}
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}
    return {f.lower().encode("utf-8") for f in forms}


def leaks(root: Path, needles: set[str]) -> list[str]:
    wanted = {b: n for n in needles if len(n) >= 5 for b in spellings(n)}
    found = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes().lower()
            found += [f"{p.relative_to(root)}: {wanted[b]!r}" for b in wanted if b in data]
    return found


@pytest.fixture
def private_umask():
    previous = os.umask(0o022)  # what a typical shell gives
    try:
        yield
    finally:
        os.umask(previous)


def project_targets(project: Path, monkeypatch) -> Targets:
    cache = project / "cache"
    settings.configure(cache_dir=cache, outputs_dir=project / "outputs", run_dir=project / "run",
                       call_log=project / "run" / "calls.jsonl", inbox_dir=project / "inbox",
                       cases_dir=project / "samples")
    monkeypatch.setattr("declaration_assets.privacy.settings.redaction_dir", lambda: cache / "redaction")
    return Targets(outputs_dir=project / "outputs", call_log=project / "run" / "calls.jsonl",
                   llm_cache=cache / "llm" / "responses.sqlite", extraction_cache=cache / "extraction",
                   embeddings_dir=cache / "embeddings", redaction_dir=cache / "redaction",
                   case_dirs=[project / "inbox"], inbox_dir=project / "inbox", references_dir=cache / "references")


def test_fresh_case_run_is_private_and_purge_leaves_no_byte_of_it(tmp_path, monkeypatch, private_umask):
    permissions.apply_umask()  # what loading the code location does in every Dagster process
    project = tmp_path / "project"
    targets = project_targets(project, monkeypatch)
    folder = project / "inbox" / CASE
    folder.mkdir(parents=True)
    record = sample_record(SOURCE)
    declarant = record.declarant
    # An upper-case extension, and a first version of an exhibit that is replaced before the final run.
    shutil.copy(sample_dir(SOURCE) / "02-recruitment-contract.pdf", folder / "02-RECRUITMENT-CONTRACT.PDF")
    (folder / "03-i94-and-visa-record.pdf").write_bytes(
        pdf_bytes(f"Draft statement of {declarant.name}, {declarant.a_number}, born {declarant.date_of_birth}."))
    raw = yaml.safe_load((sample_dir(SOURCE) / "case.yaml").read_text(encoding="utf-8"))
    raw["case_id"] = CASE
    (folder / "case.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("PRIVACY_TEST_KEY", "k")
    (project / "dagster").mkdir()
    with OpenAIFaultServer(flavor="openai", latency=Latency(first_token_s=0.0, gap_s=0.0, tokens=1),
                           reply=answer) as server, dg.DagsterInstance.local_temp(str(project / "dagster")) as instance:
        router = LLMRouter(routes_file=str(routing_file(project / "routes.yaml", f"{server.base_url}/v1")),
                           call_log_path=str(targets.call_log), cache_dir=str(targets.llm_cache.parent))
        resources = {"llm": router, "embedder": Embedder(cache_dir=str(targets.embeddings_dir)),
                     "case_storage": LocalCaseStorage(roots=[str(project / "inbox")])}
        instance.add_dynamic_partitions("cases", [CASE])
        assets = [case_record, extracted_text, chunk_index, draft, judge_scores, guarded_declaration]
        ingest = [case_record, extracted_text, chunk_index]
        assert dg.materialize(assets, selection=ingest, partition_key=CASE, instance=instance, resources=resources).success
        shutil.copy(sample_dir(SOURCE) / "03-i94-and-visa-record.pdf", folder / "03-i94-and-visa-record.pdf")
        assert dg.materialize(assets, selection=ingest, partition_key=CASE, instance=instance, resources=resources).success
        key = dg.MultiPartitionKey({"case": CASE, "model": "default"})
        assert dg.materialize(assets, selection=[draft, judge_scores, guarded_declaration], partition_key=key,
                              instance=instance,
                              resources=resources,
                              run_config={"ops": {"draft": {"config": {"evidence_per_element": 2}}}}).success
        needles = set(record.sensitive_strings())
        assert leaks(project, needles), "the run should have left the case's identifiers to purge"

        # What the run wrote is private: no file or folder any other user could read or enter (the inbox holds
        # what the user dropped, with the user's own modes).
        written = [p for p in project.iterdir() if p.name != "inbox"]
        assert {"cache", "dagster", "run", "outputs"} <= {p.name for p in written}
        assert permissions.world_accessible(written) == []

        purge_case(CASE, targets=targets, instance=instance, inputs=True)
        assert leaks(project, needles) == []
        assert instance.get_latest_materialization_event(dg.AssetKey("extracted_text")) is None


def _cache_entry(cache: Path, data: bytes) -> Path:
    path = cache / f"{_cache_key(data, ocr_settings())}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}", encoding="utf-8")
    return path


def test_purge_keeps_shared_entries_and_finds_upper_case_and_older_versions(tmp_path, monkeypatch):
    targets = project_targets(tmp_path, monkeypatch)
    inbox = tmp_path / "inbox"
    files = case_files("vawa-0031")
    shared = files["01-exhibit.pdf"]
    files["03-SCAN.PDF"] = pdf_bytes("upper-case extension")
    write_case(inbox, "vawa-0031", files)
    write_case(inbox, "vawa-0032", {**case_files("vawa-0032"), "01-exhibit.pdf": shared})  # same document
    cache = targets.extraction_cache
    shared_entry = _cache_entry(cache, shared)
    upper = _cache_entry(cache, files["03-SCAN.PDF"])
    older = pdf_bytes("the first version of 02, replaced since")
    older_entry = _cache_entry(cache, older)
    references.add("vawa-0031", references.EXTRACTION, [_cache_key(older, ocr_settings())], targets.references_dir)

    report = purge_case("vawa-0031", targets=targets)
    assert not upper.exists() and not older_entry.exists()
    assert shared_entry.exists()  # vawa-0032 still uses it
    assert any("another case uses" in n for n in report.notes)
    assert not references.path_for("vawa-0031", targets.references_dir).exists()


def test_purged_case_dropped_again_is_a_new_case(tmp_path, monkeypatch):
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.remote_origin import (
        RegisteredCodeLocationOrigin,
        RemoteInstigatorOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.scheduler.instigation import InstigatorState, InstigatorStatus, SensorInstigatorData

    targets = project_targets(tmp_path, monkeypatch)
    inbox = tmp_path / "inbox"
    write_case(inbox, "vawa-0033")
    (tmp_path / "dagster").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
        cursor = None
        for _ in range(2):
            result = sensors.inbox_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
            cursor = result.cursor
        assert len(result.run_requests) == 1
        origin = RemoteInstigatorOrigin(
            RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("declaration_assets"), "__repository__"), "inbox_sensor")
        instance.add_instigator_state(InstigatorState(origin, InstigatorType.SENSOR, InstigatorStatus.RUNNING,
                                                      SensorInstigatorData(cursor=cursor)))
        saved = {n: (inbox / "vawa-0033" / n).read_bytes() for n in os.listdir(inbox / "vawa-0033")}
        report = purge_case("vawa-0033", targets=targets, instance=instance, inputs=True)
        assert report.removed["intake sensor cursor entries"] == 1
        [state] = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        cursor = state.instigator_data.cursor
        assert "vawa-0033" not in intake.IntakeCursor.load(cursor).cases
        write_case(inbox, "vawa-0033", saved)  # the same files, dropped again
        requests = []
        for _ in range(2):
            result = sensors.inbox_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
            cursor = result.cursor
            requests += result.run_requests
        assert [r.partition_key for r in requests] == ["vawa-0033"]


def test_tighten_fixes_files_from_earlier_versions(tmp_path, monkeypatch):
    settings.configure(share_group=None)
    d = tmp_path / "cache" / "extraction"
    d.mkdir(parents=True)
    (d / "entry.json").write_text("{}", encoding="utf-8")
    os.chmod(d, 0o755)
    os.chmod(d / "entry.json", 0o644)
    assert permissions.world_accessible([tmp_path / "cache"])
    assert permissions.tighten([tmp_path / "cache"]) >= 2
    assert permissions.world_accessible([tmp_path / "cache"]) == []
    assert oct((d / "entry.json").stat().st_mode & 0o777) == "0o600" and oct(d.stat().st_mode & 0o777) == "0o700"
    import grp

    settings.configure(share_group=grp.getgrgid(os.getgid()).gr_name)
    permissions.tighten([tmp_path / "cache"])
    assert oct((d / "entry.json").stat().st_mode & 0o777) == "0o640" and oct(d.stat().st_mode & 0o777) == "0o750"


def test_loading_the_code_location_sets_a_private_umask():
    code = ("import os; os.umask(0o022); import declaration_assets.definitions; "
            "print(oct(os.umask(0o022)))")
    env = {k: v for k, v in os.environ.items() if k != permissions.ENV_GROUP}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                         cwd=settings.current().project_root)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "0o77"
