"""`make demo`: register the shipped sample cases and run them through both jobs with the `default` model
configuration, exactly as the inbox sensor and its follow-up sensor would, then compare model configurations.

A second run re-uses what is unchanged: a case whose files, routing file and code are the same as in its last
successful demo run is skipped (its outputs are already under data/outputs/); embeddings and LLM answers are cached.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

import dagster as dg

from . import settings
from .embedded.server import pid_alive
from .llm.routing_file import default_model_config, routes_path

DEMO_FINGERPRINT_TAG = "declaration/demo_fingerprint"
DEMO_PID_TAG = "declaration/demo_pid"
UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
PACKAGE_DIR = Path(__file__).resolve().parent


def _hash_files(h: "hashlib._Hash", files: list[Path], root: Path) -> None:
    for f in sorted(files):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())


def demo_fingerprint(case_dir: Path, routes: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """What decides whether a case's demo outputs are still current: its files, the routing file, the code."""
    h = hashlib.sha256()
    _hash_files(h, [p for p in case_dir.iterdir() if p.is_file()], case_dir)
    h.update(routes.read_bytes())
    code = [p for p in package_dir.rglob("*") if p.is_file() and p.suffix in {".py", ".yaml", ".md"}]
    _hash_files(h, code, package_dir)
    return h.hexdigest()[:16]


def _ensure_instance() -> dg.DagsterInstance:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.current().project_root / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(settings.current().project_root / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.get()


def release_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Runs of a demo process that was killed (or whose machine went down) stay STARTED and keep their
    concurrency-pool slots: with no daemon to notice, the next demo would wait for those slots for ever. They are
    marked failed and their slots freed. A run of a demo process still alive is left alone."""
    from .orchestration.jobs import SOURCE_TAG

    released = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED, tags={SOURCE_TAG: "demo"})):
        pid = int(run.tags.get(DEMO_PID_TAG, "0") or 0)
        if pid and pid_alive(pid):
            continue
        instance.report_run_failed(run, f"abandoned: the demo process (pid {pid or 'unknown'}) that ran it is gone")
        # What the daemon's run monitoring does after `free_slots_after_run_end_seconds`; the demo has no daemon.
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    return released


def _already_done(instance: dg.DagsterInstance, fingerprint: str) -> bool:
    from .orchestration.jobs import DECLARATION_JOB

    runs = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=DECLARATION_JOB, statuses=[dg.DagsterRunStatus.SUCCESS], tags={DEMO_FINGERPRINT_TAG: fingerprint}
        ),
        limit=1,
    )
    return bool(runs)


def run_demo(force: bool = False, defs: dg.Definitions | None = None) -> int:
    """Run every sample case through both jobs, then the model comparison; 0 when all succeeded, 1 when one
    failed, 130 when interrupted (Ctrl-C). `defs` defaults to the code location's Definitions."""
    if defs is None:
        from .definitions import defs
    from .orchestration.jobs import SOURCE_TAG, register_case, run_case_in_process
    from .orchestration.policies import was_interrupted

    instance = _ensure_instance()
    model = default_model_config()
    case_dirs = sorted(p for p in settings.current().cases_dir.iterdir() if p.is_dir() and (p / "case.yaml").exists())
    print(f"{len(case_dirs)} sample cases, model configuration '{model}', instance {os.environ['DAGSTER_HOME']}")
    for run_id in release_abandoned_runs(instance):
        print(f"  run {run_id} of an earlier demo that was killed: marked failed, its pool slots freed")
    failures: list[str] = []
    for case_dir in case_dirs:
        case_id = case_dir.name
        fingerprint = demo_fingerprint(case_dir, routes_path())
        register_case(instance, case_id)
        if not force and _already_done(instance, fingerprint):
            print(f"  {case_id}: unchanged since its last demo run, re-using its outputs")
            continue
        started = time.monotonic()
        tags = {SOURCE_TAG: "demo", DEMO_FINGERPRINT_TAG: fingerprint, DEMO_PID_TAG: str(os.getpid())}
        ingest, declaration = run_case_in_process(defs, instance, case_id, model, raise_on_error=False, tags=tags)
        if was_interrupted(ingest) or (declaration is not None and was_interrupted(declaration)):
            print(f"  {case_id}: interrupted; run `make demo` again to go on (finished cases are skipped, and "
                  "cached LLM answers and embeddings are reused)", file=sys.stderr)
            return 130
        if declaration is None:
            failures.append(f"{case_id}: ingest run {ingest.run_id} failed")
            print(f"  {case_id}: ingest FAILED (run {ingest.run_id}); see `make dev` for its logs")
            continue
        status = "done" if declaration.success else f"FAILED (run {declaration.run_id})"
        if not declaration.success:
            failures.append(f"{case_id}: declaration run {declaration.run_id} failed")
        print(f"  {case_id}: {status} in {time.monotonic() - started:.0f} s")

    comparison = dg.materialize(
        defs.assets, selection=["model_comparison"], instance=instance, resources=defs.resources, raise_on_error=False
    )
    if not comparison.success:
        failures.append("model_comparison failed")

    print("\nOutputs:")
    for case_dir in case_dirs:
        latest = settings.current().outputs_dir / case_dir.name / model / "latest"
        print(f"  {latest}/declaration.md  declaration.docx  eval_report.md")
    print(f"  {settings.current().outputs_dir / 'model_comparison'}")
    print(f"  LLM call log: {settings.current().call_log}")
    print("Browse runs and asset metadata: make dev, then http://127.0.0.1:3000")
    if failures:
        print("\nFailures:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0
