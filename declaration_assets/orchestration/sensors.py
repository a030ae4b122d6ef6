"""Sensors: case folders in the local inbox or under an S3 prefix start ingest runs; a finished ingest run starts
the declaration run of its case for the `default` model configuration. Decisions are made in `intake.py`.

The sensor functions are plain functions (tests call them with a built context); `sensor_definitions` wraps them
with their intervals when the definitions load (`orchestration/defs.py`), from the settings of that moment.
"""


import time
from collections.abc import Sequence

import dagster as dg

from .. import settings
from ..settings import Settings
from ..cases.models import CaseFileError
from ..cases.storage import MANIFEST_FILE, CaseFile, CaseStorage, LocalCaseStorage
from ..llm.routing_file import default_model_config
from ..partitions import CASES
from . import intake
from .jobs import (
    DECLARATION_JOB,
    FINGERPRINT_TAG,
    INGEST_RUN_TAG,
    INTAKE_OBSERVED_ASSET,
    SOURCE_TAG,
    declaration_job,
    declaration_partition_key,
    ingest_job,
)

# A tick's reading is bounded in cases (settings' sensor_max_cases_per_tick: validation reads every file of a complete
# case once, so a burst of new cases is spread over ticks, each well inside the daemon's sensor evaluation timeout)
# and in time (sensor_tick_budget_s: once that many seconds went into reading cases, the rest wait for the next
# tick; Dagster times a sensor evaluation out at 60 s by default).
PARTITION_TAG = "dagster/partition"
BACKFILL_TAG = "dagster/backfill"


def snapshot(storage: CaseStorage) -> dict[str, list[CaseFile]]:
    """Every case folder's files. Stores that can list everything in one pass (S3) expose `list_all_files`."""
    list_all = getattr(storage, "list_all_files", None)
    if callable(list_all):
        return list_all()
    out: dict[str, list[CaseFile]] = {}
    for case_id in storage.list_case_ids():
        try:
            out[case_id] = storage.list_files(case_id)
        except FileNotFoundError:  # removed between the two listings
            continue
        except CaseFileError:  # a refused folder (a link, an id in two roots): listed empty, rejected with its reason
            out[case_id] = []
    return out


def manifest_check(storage: CaseStorage):
    def check(case_id: str, files: Sequence[CaseFile]) -> intake.ManifestCheckResult | None:
        manifest = next((f for f in files if f.name == MANIFEST_FILE and not f.skipped), None)
        if manifest is None:
            return None
        if manifest.size > intake.MAX_MANIFEST_BYTES:  # refused unread, like an oversized case.yaml
            return intake.ManifestCheckResult(
                problems=(f"{MANIFEST_FILE}: {manifest.size:,} bytes, over the {intake.MAX_MANIFEST_BYTES:,}-byte limit",))
        try:
            parsed = intake.parse_manifest(storage.read_bytes(case_id, MANIFEST_FILE))
        except Exception as e:  # removed or unreadable between listing and reading: judged again next tick
            return intake.ManifestCheckResult(incomplete=(f"{MANIFEST_FILE}: cannot be read ({type(e).__name__})",))
        if isinstance(parsed, str):
            return intake.ManifestCheckResult(problems=(parsed,))
        return intake.check_manifest(parsed, files, lambda name: storage.sha256(case_id, name))

    return check


def _md_list(items: Sequence[str]) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- {p}" for p in items))


def intake_event(case_id: str, status: str, problems: Sequence[str], listing_fp: str, source: str,
                 notices: Sequence[str] = ()) -> dg.AssetObservation:
    """Recorded on the case's `extracted_text` partition, so the UI shows what intake found: why a drop did not run
    (`rejected`: `reason` is the fatal one, `problems` all of them, `notices` files merely skipped), or which single
    files of a case that runs were bad (`accepted_with_problems`)."""
    metadata: dict[str, object] = {"intake_status": status, "intake_source": source}
    if problems:
        metadata["reason"] = dg.MetadataValue.text(problems[0])
        metadata["problems"] = _md_list(problems)
    if notices:
        metadata["notices"] = _md_list(notices)
    metadata["listing_fingerprint"] = listing_fp
    return dg.AssetObservation(asset_key=dg.AssetKey(INTAKE_OBSERVED_ASSET), partition=case_id, metadata=metadata)


def intake_tick(
    context: dg.SensorEvaluationContext, storage: CaseStorage, source: str, max_inspections: int | None = None
) -> dg.SensorResult:
    cursor = intake.IntakeCursor.load(context.cursor)
    config = settings.current()
    plan = intake.plan_tick(
        cursor,
        snapshot(storage),
        inspect=lambda case_id, files: intake.inspect_case(storage, case_id, files),
        manifest_check=manifest_check(storage),
        max_inspections=config.sensor_max_cases_per_tick if max_inspections is None else max_inspections,
        deadline=time.monotonic() + config.sensor_tick_budget_s,
    )
    try:
        ignored = storage.ignored_names()
    except Exception:  # a listing error here must not stop intake
        ignored = []
    for name in sorted(set(ignored) - set(plan.cursor.ignored)):
        context.log.info(f"{source}: folder {name!r} ignored: a name starting with a dot is never a case")
    plan.cursor.ignored = sorted(ignored)
    for r in plan.rejections:
        context.log.warning(f"case {r.case_id} rejected ({source}): {r.message()}")
    for s in plan.submissions:
        if s.notices:
            context.log.warning(f"case {s.case_id} accepted with problems ({source}): " + "; ".join(s.notices))
    registered = set(context.instance.get_dynamic_partitions(CASES))
    new_cases = [s.case_id for s in plan.submissions if s.case_id not in registered]
    run_requests = [
        dg.RunRequest(
            run_key=s.run_key,
            partition_key=s.case_id,
            tags={FINGERPRINT_TAG: s.content_fp, SOURCE_TAG: source},
        )
        for s in plan.submissions
    ]
    context.log.info(
        f"{source}: {len(plan.submissions)} submitted, {len(plan.rejections)} rejected, {len(plan.waiting)} waiting, "
        f"{len(plan.unchanged)} unchanged, {len(plan.deferred)} deferred"
    )
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(CASES, new_cases)] if new_cases else [],
        asset_events=[intake_event(r.case_id, "rejected", r.problems, r.listing_fp, source, r.notices)
                      for r in plan.rejections]
        + [
            intake_event(s.case_id, "accepted_with_problems", (), s.listing_fp, source, s.notices)
            for s in plan.submissions
            if s.notices
        ],
        cursor=plan.cursor.dump(),
    )


def inbox_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Registers complete case folders dropped into the local inbox and starts their ingest runs."""
    config = settings.current()
    storage = LocalCaseStorage(roots=[str(config.inbox_dir)], reserved_roots=[str(config.cases_dir)])
    return intake_tick(context, storage, source="inbox")


def s3_inbox_sensor(context: dg.SensorEvaluationContext, case_storage: CaseStorage) -> dg.SensorResult:
    """Registers complete case folders under the S3 case prefix and starts their ingest runs."""
    return intake_tick(context, case_storage, source="s3")


def declaration_request(run_tags: dict[str, str], ingest_run_id: str, model_config: str) -> dg.RunRequest | None:
    """The declaration run that follows a successful single-case ingest run, or None: for a run without a single
    case partition, and for runs of a backfill (the backfill itself materializes the declaration assets it wants)."""
    case_id = run_tags.get(PARTITION_TAG)
    if not case_id or BACKFILL_TAG in run_tags:
        return None
    tags = {INGEST_RUN_TAG: ingest_run_id, SOURCE_TAG: run_tags.get(SOURCE_TAG, "ingest")}
    if fp := run_tags.get(FINGERPRINT_TAG):
        tags[FINGERPRINT_TAG] = fp
    return dg.RunRequest(
        run_key=f"{case_id}|{model_config}|{ingest_run_id}",
        partition_key=declaration_partition_key(case_id, model_config),
        tags=tags,
    )


def declaration_after_ingest(context: dg.RunStatusSensorContext):
    """After a successful ingest run: the declaration run of its case for the default model configuration."""
    run = context.dagster_run
    request = declaration_request(dict(run.tags), run.run_id, default_model_config())
    if request is None:
        return dg.SkipReason(f"ingest run {run.run_id} is part of a backfill or has no single case partition")
    return request


def sensor_definitions(profile: str, config: Settings | None = None) -> list[dg.SensorDefinition]:
    """The profile's inbox sensor (local folder for `dev`, S3 prefix for `production`) and the run-status sensor
    that follows an ingest run, with the intervals of `config` (default: the current settings)."""
    interval = (config or settings.current()).sensor_interval_s
    if profile == "production":
        inbox = dg.sensor(
            name="s3_inbox_sensor", job=ingest_job, minimum_interval_seconds=interval,
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="Registers complete case folders under the S3 case prefix and starts their ingest runs.",
        )(s3_inbox_sensor)
    else:
        inbox = dg.sensor(
            name="inbox_sensor", job=ingest_job, minimum_interval_seconds=interval,
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="Registers complete case folders dropped into the local inbox and starts their ingest runs.",
        )(inbox_sensor)
    after_ingest = dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name="declaration_after_ingest",
        monitored_jobs=[ingest_job],
        request_job=declaration_job,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"When an ingest run succeeds, runs {DECLARATION_JOB} for its case and the default model configuration.",
    )(declaration_after_ingest)
    return [inbox, after_ingest]
