"""The two jobs every case runs through, and case registration.

Dagster runs one partitions definition per run, so a case flows through the two partition levels in two runs:
1. `ingest_job` (case_record, extracted_text, chunk_index) for partition `<case_id>` of `case_partitions`;
2. `declaration_job` (draft, judge_scores, guarded_declaration, eval_report) for `<case_id>|<model_config>` of
   `case_model_partitions`, launched by the `declaration_after_ingest` run-status sensor when run 1 succeeds.
The inbox sensors start run 1; `make demo` runs the same two jobs (see `run_case_in_process`).
"""

from __future__ import annotations

import dagster as dg

from ..cases.models import CASE_ID_PATTERN
from ..partitions import CASES, case_model_partitions, case_partitions

INGEST_JOB = "ingest_job"
DECLARATION_JOB = "declaration_job"
INGEST_ASSETS = ("case_record", "extracted_text", "chunk_index")
# Where the inbox sensors record what intake found about a case (documented in docs/OPERATIONS.md).
INTAKE_OBSERVED_ASSET = "extracted_text"
DECLARATION_ASSETS = ("draft", "judge_scores", "guarded_declaration", "eval_report")

# Tags the orchestration puts on runs (namespaced, shown in the UI's run list).
FINGERPRINT_TAG = "declaration/content_fingerprint"
SOURCE_TAG = "declaration/source"
INGEST_RUN_TAG = "declaration/ingest_run_id"

ingest_job = dg.define_asset_job(
    INGEST_JOB,
    selection=dg.AssetSelection.assets(*INGEST_ASSETS),
    partitions_def=case_partitions,
    description="Validate a case's case.yaml, extract every page of its PDFs and index their chunks (one case).",
)

declaration_job = dg.define_asset_job(
    DECLARATION_JOB,
    selection=dg.AssetSelection.assets(*DECLARATION_ASSETS),
    partitions_def=case_model_partitions,
    description="Draft, judge, guard and evaluate the declaration of one case under one model configuration.",
)


def declaration_partition_key(case_id: str, model_config: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"case": case_id, "model": model_config})


def register_case(instance: dg.DagsterInstance, case_id: str) -> bool:
    """Add `case_id` as a partition of the case dimension (what the inbox sensors do). True when newly added."""
    if not CASE_ID_PATTERN.match(case_id):
        raise ValueError(f"case id {case_id!r} must be neutral, like 'vawa-0001'")
    if instance.has_dynamic_partition(CASES, case_id):
        return False
    instance.add_dynamic_partitions(CASES, [case_id])
    return True


def run_case_in_process(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    case_id: str,
    model_config: str,
    *,
    raise_on_error: bool = True,
    tags: dict[str, str] | None = None,
) -> tuple[dg.ExecuteInProcessResult, dg.ExecuteInProcessResult | None]:
    """Register a case and run the two jobs in this process, one after the other (used by `make demo` and tests).

    Returns the ingest result and the declaration result (None when ingest failed and `raise_on_error` is False).
    `tags` are added to both runs' tags.
    """
    register_case(instance, case_id)
    run_tags = {SOURCE_TAG: "in_process", **(tags or {})}
    ingest = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance, partition_key=case_id, tags=run_tags, raise_on_error=raise_on_error
    )
    if not ingest.success:
        return ingest, None
    declaration = defs.resolve_job_def(DECLARATION_JOB).execute_in_process(
        instance=instance,
        partition_key=declaration_partition_key(case_id, model_config),
        tags={**run_tags, INGEST_RUN_TAG: ingest.run_id},
        raise_on_error=raise_on_error,
    )
    return ingest, declaration
