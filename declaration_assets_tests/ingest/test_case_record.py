"""`case_record`: case.yaml read and validated once, as an asset every later asset takes as an input."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from declaration_assets import settings

from declaration_assets.cases.assets import case_record
from declaration_assets.cases.models import CaseRecord
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.definitions import defs
from declaration_assets.extraction.assets import extracted_text
from declaration_assets.orchestration.policies import PERMANENT_METADATA_KEY

from .pdfs import LEASE_PAGES, text_pdf, to_bytes, write_case

CASE_ID = "vawa-0042"
FULL_YAML = f"""case_id: {CASE_ID}
case_type: vawa
language: es
parties:
  - role: declarant
    name: Ana Lucia Pereira
    aliases: [Ana Pereira Souza]
    date_of_birth: 1990-01-31
    a_number: A-123-456-789
    addresses:
      - street: 41 Larkspur Lane
        city: Fresno
        state: CA
    phones: ["559-555-0142"]
    emails: [ana.pereira@example.org]
  - role: abuser
    name: John Allen Carter
    relationship: husband
"""
IDENTIFIERS = ("Ana Lucia Pereira", "Ana Pereira Souza", "1990-01-31", "A-123-456-789", "41 Larkspur Lane",
               "559-555-0142", "ana.pereira@example.org", "John Allen Carter", "Larkspur", "Carter")


def _run(root: Path) -> dg.Output:
    with dg.build_asset_context(partition_key=CASE_ID) as context:
        return case_record(context, case_storage=LocalCaseStorage(roots=[str(root)]))


def _serialized(metadata: dict) -> str:
    return json.dumps({k: str(v.value if hasattr(v, "value") else v) for k, v in metadata.items()})


def test_the_value_is_the_validated_record_with_counts(tmp_path: Path) -> None:
    write_case(tmp_path, CASE_ID, {}, case_yaml=FULL_YAML)
    out = _run(tmp_path)
    record = out.value
    assert isinstance(record, CaseRecord) and record.declarant.name == "Ana Lucia Pereira"
    meta = out.metadata
    assert meta["case_type"].value == "vawa" and meta["declarant_language"].value == "es"
    assert (meta["parties"].value, meta["aliases"].value, meta["addresses"].value, meta["phones"].value) == (2, 1, 1, 1)
    assert meta["parties_by_role"].value == {"abuser": 1, "declarant": 1}
    assert "Ana Lucia Pereira" in meta["parties_table"].value  # previews on: the parties by name


def test_previews_off_metadata_holds_no_case_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_case(tmp_path, CASE_ID, {}, case_yaml=FULL_YAML)
    settings.configure(ui_previews=False)
    meta = _run(tmp_path).metadata
    text = _serialized(meta).lower()
    assert [i for i in IDENTIFIERS if i.lower() in text] == []
    assert "parties_table" not in meta and meta["parties"].value == 2 and meta["case_type"].value == "vawa"


@pytest.mark.parametrize(
    ("case_yaml", "field"),
    [("case_type: divorce\n", "case_type"),
     ("case_type: vawa\nparties:\n  - role: abuser\n    name: X Y\n", "declarant"),
     (FULL_YAML.replace(f"case_id: {CASE_ID}", "case_id: vawa-0043"), "case_id")],
)
def test_an_invalid_case_yaml_is_a_permanent_failure_naming_file_and_field(tmp_path: Path, case_yaml: str,
                                                                           field: str) -> None:
    write_case(tmp_path, CASE_ID, {}, case_yaml=case_yaml)
    with pytest.raises(dg.Failure) as info:
        _run(tmp_path)
    assert "case.yaml" in info.value.description and field in info.value.description
    assert "not retried" in info.value.description
    assert info.value.metadata[PERMANENT_METADATA_KEY].value is True and info.value.allow_retries is False


def test_a_missing_case_folder_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(dg.Failure, match="not found"):
        _run(tmp_path)


def test_a_bad_case_yaml_stops_the_ingest_before_extraction(tmp_path: Path, isolated_cache: Path) -> None:
    write_case(tmp_path, CASE_ID, {"a.pdf": to_bytes(text_pdf(LEASE_PAGES))}, case_yaml="case_type: divorce\n")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("cases", [CASE_ID])
        result = dg.materialize([case_record, extracted_text], partition_key=CASE_ID, instance=instance,
                                resources={"case_storage": LocalCaseStorage(roots=[str(tmp_path)])},
                                raise_on_error=False)
        assert not result.success
        failed = [e for e in result.all_events if e.is_step_failure]
        assert [e.step_key for e in failed] == ["case_record"]
        assert "case_type" in failed[0].step_failure_data.error.message
        assert not result.get_asset_materialization_events()  # extracted_text never ran


def test_every_asset_and_check_that_needs_the_record_takes_it_as_an_input() -> None:
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey("case_record")
    assert graph.get(key).partitions_def is not None and graph.get(key).group_name == "ingestion"
    readers = {k.to_user_string() for k in graph.get(key).child_keys}
    assert readers == {"extracted_text", "draft", "judge_scores", "guarded_declaration"}
    [check] = [c for c in defs.asset_checks if dg.AssetKey("draft") in {k.asset_key for k in c.check_keys}]
    assert key in check.keys_by_input_name.values()
    # No asset reads case.yaml from storage any more: none requires the case storage besides the record and extraction.
    needs_storage = {a.key.to_user_string() for a in defs.assets if "case_storage" in a.required_resource_keys}
    assert needs_storage == {"case_record", "extracted_text"}
