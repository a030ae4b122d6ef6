"""Call records are typed from the engine to the values and reports; older dict records and log lines still read."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from declaration_assets.evaluation.usage import collect_records, records_of, usage_by_role
from declaration_assets.llm.records import CallLog, CallRecord, as_records, records_summary
from declaration_assets_tests.support.records import call_record


def test_a_record_is_validated_and_frozen() -> None:
    with pytest.raises(ValidationError, match="outcome"):
        call_record(outcome="fine")  # not one of the outcomes the engine writes
    with pytest.raises(ValidationError, match="unexpected"):
        call_record(unexpected=1)  # extra="forbid": a misspelt field is an error, not a silent new key
    rec = call_record()
    with pytest.raises(ValidationError, match="frozen"):
        rec.outcome = "cached"


def test_the_call_log_round_trips_records_and_skips_lines_that_are_not_records(tmp_path) -> None:
    log = CallLog(tmp_path / "calls.jsonl")
    written = [call_record(run_id="r1", outcome="server_error", error_class="APIError", cost_usd=0.0),
               call_record(run_id="r1", prompt_tokens=10, completion_tokens=4, cost_usd=0.25)]
    for rec in written:
        log.write(rec)
    with log.path.open("a", encoding="utf-8") as f:
        f.write('{"outcome": "ok"}\n')  # JSON, but not a record (no case, asset, deployment...)
        f.write('["a list"]\n')
        f.write('{"ts": 1.0, "case_id": "c", "asset"')  # a writer killed mid-line
    assert log.read() == written
    assert log.spent_usd("r1") == pytest.approx(0.25)
    # The file keeps its JSON shape: the model configuration under its public name, no empty fields.
    first = json.loads(log.path.read_text(encoding="utf-8").splitlines()[0])
    assert first["model_config"] == "default" and "model_config_name" not in first and "ttft_s" not in first


def test_a_value_stored_with_dict_records_still_reports_its_usage(tmp_path) -> None:
    # What an older version stored in guarded_declaration's value: dicts, with a key this version does not know.
    old = SimpleNamespace(records=[
        {**call_record(asset="guarded_declaration", role="guard", prompt_tokens=900, completion_tokens=100,
                       latency_s=4.0).as_dict(), "retired_field": "x"},
        call_record(asset="guarded_declaration", role="guard", outcome="deadline_total", latency_s=30.0).as_dict(),
    ])
    recs = records_of(old)
    assert all(isinstance(r, CallRecord) for r in recs)
    assert [r.outcome for r in recs] == ["ok", "deadline_total"] and recs[0].model_config_name == "default"
    records, source = collect_records({"guarded_declaration": old}, tmp_path / "no-log.jsonl", "case-0001", "default")
    assert source == {"draft": "none", "judge_scores": "none", "guarded_declaration": "value"}
    [guard] = usage_by_role(records)
    assert (guard.role, guard.attempts, guard.ok, guard.failures) == ("guard", 2, 1, 1)
    assert (guard.prompt_tokens, guard.completion_tokens, guard.latency_s) == (900, 100, 34.0)


def test_typed_records_pass_through_unchanged_and_sum_by_outcome() -> None:
    recs = [call_record(outcome="cached", prompt_tokens=50), call_record(outcome="cooldown_skip"),
            call_record(outcome="rate_limited", latency_s=0.5), call_record(prompt_tokens=7, completion_tokens=3,
                                                                           latency_s=1.0, evidence_dropped=2)]
    assert as_records(recs) == recs and as_records(recs)[0] is recs[0]
    s = records_summary(recs)
    # Cached answers and skipped deployments are not attempts; only answered calls count tokens.
    assert (s["attempts"], s["calls_ok"], s["cached"], s["failures"]) == (2, 2, 1, 2)
    assert (s["prompt_tokens"], s["completion_tokens"], s["evidence_dropped"]) == (7, 3, 2)
    assert s["latency_s"] == pytest.approx(1.5)
