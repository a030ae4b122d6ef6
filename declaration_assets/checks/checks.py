"""The guards as Dagster asset checks, per case x model partition.

- On `draft`: a separate, partitioned `@asset_check` (severity WARN, never blocking) that loads the draft of the
  partition being checked, the case's extracted text and its `case_record`. Its findings also drive the rewrite in
  `guarded_declaration`, which recomputes them with the same pure functions.
- On `guarded_declaration`: a check spec of the asset itself (`GUARDED_CHECK_SPECS`); the asset yields the result
  computed on its final text (severity ERROR when serious: the declaration is NOT READY), non-blocking so that
  `eval_report` still measures it.
"""

# No `from __future__ import annotations` here: Dagster reads the context and config annotations at decoration.
from typing import Any

import dagster as dg

from ..cases.models import CaseRecord
from ..drafting.models import Draft
from ..extraction.models import ExtractedCase
from ..partitions import by_case_dimension, case_model_partitions
from ..privacy.settings import WITHHELD, previews_enabled, reason_label
from .evaluate import guard_draft
from .models import GuardReport

GUARDS_CHECK = "guards"

GUARDED_CHECK_SPECS = [
    dg.AssetCheckSpec(
        name=GUARDS_CHECK,
        asset="guarded_declaration",
        partitions_def=case_model_partitions,
        blocking=False,
        description="Every name, date, address and number is in the case record; each element is cited; no "
        "placeholder; length within bounds. A serious finding marks the declaration NOT READY.",
    )
]


def guard_metadata(report: GuardReport) -> dict[str, Any]:
    return {
        "ready": report.ready,
        "serious": report.serious_count,
        "warnings": report.warning_count,
        "word_count": report.word_count,
        "by_rule": dg.MetadataValue.json(report.counts_by_rule()),
        # Finding messages quote the declaration: with previews off, severity, rule and section only.
        "findings": dg.MetadataValue.md(report.markdown_table(withhold_messages=None if previews_enabled() else WITHHELD)),
    }


def guard_check_result(
    report: GuardReport, *, asset_key: str, severity: dg.AssetCheckSeverity, check_name: str = GUARDS_CHECK
) -> dg.AssetCheckResult:
    desc = (
        "no serious finding"
        if report.ready
        else f"{report.serious_count} serious finding(s): " + "; ".join(map(reason_label, report.reasons(limit=3)))
    )
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=report.ready,
        severity=severity,
        description=desc[:1000],
        metadata=guard_metadata(report),
    )


@dg.asset_check(
    asset="draft",
    name=GUARDS_CHECK,
    partitions_def=case_model_partitions,
    blocking=False,
    additional_ins={
        "case_record": dg.AssetIn(partition_mapping=by_case_dimension),
        "extracted_text": dg.AssetIn(partition_mapping=by_case_dimension),
    },
    description="Deterministic guards on the draft (WARN: they inform the rewrite and never stop the pipeline).",
)
def draft_guards(
    context: dg.AssetCheckExecutionContext, draft: Draft, case_record: CaseRecord, extracted_text: ExtractedCase
) -> dg.AssetCheckResult:
    report = guard_draft(draft, case_record, extracted_text)
    return guard_check_result(report, asset_key="draft", severity=dg.AssetCheckSeverity.WARN)


asset_checks = [draft_guards]
