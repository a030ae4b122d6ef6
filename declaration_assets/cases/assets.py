"""`case_record`: the case's `case.yaml`, read and validated once per run; every later asset takes it as an input.

One strictness for the whole graph: a missing or invalid case.yaml fails this asset as a permanent failure (no
retry), its message naming the file and the field (`cases/models.py`), and nothing downstream runs. The value is
the validated `CaseRecord`. Its metadata shows counts, case type and language; with previews off
(`DECLARATION_UI_PREVIEWS=0`) nothing else, so no name, address or number of the case reaches the event log.
"""

# No `from __future__ import annotations` here: Dagster reads the context and resource annotations at definition time.
from collections import Counter
from typing import Any

import dagster as dg

from ..orchestration.policies import permanent_failure
from ..orchestration.ui import ui_attributes
from ..partitions import case_partitions
from ..privacy.settings import previews_enabled
from .models import CaseFileError, CaseRecord
from .storage import CASE_FILE, CaseStorage

# Bumped when what the record holds or how it is validated changes, so the UI marks dependent assets stale.
CASE_RECORD_VERSION = "1"


def record_counts(record: CaseRecord) -> dict[str, int]:
    """How much the record holds, without any of it: parties and each kind of identifier."""
    parties = record.parties
    return {
        "parties": len(parties),
        "aliases": sum(len(p.aliases) for p in parties),
        "dates_of_birth": sum(1 for p in parties if p.date_of_birth),
        "a_numbers": sum(1 for p in parties if p.a_number),
        "other_ids": sum(len(p.other_ids) for p in parties),
        "addresses": sum(len(p.addresses) for p in parties),
        "phones": sum(len(p.phones) for p in parties),
        "emails": sum(len(p.emails) for p in parties),
    }


def parties_table(record: CaseRecord) -> str:
    """The parties by role and name (case text: shown only with previews on)."""
    rows = ["| role | name | aliases | relationship |", "| --- | --- | --- | --- |"]
    for p in record.parties:
        cells = (p.role, p.name, ", ".join(p.aliases), p.relationship or "")
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def record_metadata(record: CaseRecord) -> dict[str, Any]:
    counts = record_counts(record)
    meta: dict[str, Any] = {
        "case_type": dg.MetadataValue.text(record.case_type),
        "declarant_language": dg.MetadataValue.text(record.language),
        **{k: dg.MetadataValue.int(v) for k, v in counts.items()},
        "parties_by_role": dg.MetadataValue.json(dict(sorted(Counter(p.role for p in record.parties).items()))),
    }
    if previews_enabled():
        meta["parties_table"] = dg.MetadataValue.md(parties_table(record))
    return meta


def read_record(storage: CaseStorage, case_id: str) -> CaseRecord:
    """The case's validated record, or the failure that stops the run: permanent (not retried) for a missing or
    invalid case.yaml, whose message names the file and the field; a plain failure for a case folder not found."""
    try:
        record = storage.read_case_record(case_id)
    except CaseFileError as e:
        raise permanent_failure(str(e)) from e
    except FileNotFoundError as e:
        raise dg.Failure(description=f"case {case_id}: {e}") from e
    if record.case_id != case_id:
        raise permanent_failure(f"{CASE_FILE} of case {case_id}: case_id {record.case_id!r} does not match the "
                                f"folder name {case_id!r}")
    return record


@dg.asset(
    partitions_def=case_partitions,
    **ui_attributes("case_record"),
    code_version=CASE_RECORD_VERSION,
    description="The case's case.yaml, validated: case type, the declarant's language, the parties with their names, "
    "dates of birth, IDs, addresses, phones and emails. Read once per run; every later asset takes it as an input.",
)
def case_record(context: dg.AssetExecutionContext, case_storage: CaseStorage) -> dg.Output[CaseRecord]:
    record = read_record(case_storage, context.partition_key)
    return dg.Output(record, metadata=record_metadata(record))
