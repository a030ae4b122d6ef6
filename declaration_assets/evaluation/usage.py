"""Calls, tokens, latency and cost per role, from the call records of the draft, judge and guard assets.

Records come from the assets' values when they carry a `records` list; otherwise from the JSONL call log,
filtered by case and model configuration and limited to each asset's most recent run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..llm.records import CallLog, CallRecord, as_records, records_summary

LLM_ASSETS = ("draft", "judge_scores", "guarded_declaration")


class RoleUsage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset: str
    role: str
    attempts: int
    ok: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost_usd: float


def records_of(value: object) -> list[CallRecord]:
    """The call records an asset's value carries (dicts in values stored by older versions: read as records)."""
    recs = getattr(value, "records", None)
    return as_records(recs) if recs else []


def read_call_log(path: Path) -> list[CallRecord]:
    return CallLog(path).read()


def records_from_log(
    log: Iterable[CallRecord], case_id: str, model_config: str, assets: Iterable[str] = LLM_ASSETS
) -> dict[str, list[CallRecord]]:
    """Per asset: the records of its latest run for this case and model configuration."""
    wanted = set(assets)
    by_asset: dict[str, list[CallRecord]] = {}
    for r in log:
        if r.case_id == case_id and r.model_config_name == model_config and r.asset in wanted:
            by_asset.setdefault(r.asset, []).append(r)
    out = {}
    for asset, recs in by_asset.items():
        last_run = recs[-1].run_id
        out[asset] = [r for r in recs if r.run_id == last_run]
    return out


def collect_records(
    values: Mapping[str, object], call_log: Path, case_id: str, model_config: str
) -> tuple[dict[str, list[CallRecord]], dict[str, str]]:
    """Records per asset, and where each asset's records came from ("value", "call log" or "none")."""
    records: dict[str, list[CallRecord]] = {}
    source: dict[str, str] = {}
    logged: dict[str, list[CallRecord]] | None = None
    for asset in LLM_ASSETS:
        recs = records_of(values.get(asset))
        if recs:
            records[asset], source[asset] = recs, "value"
            continue
        if logged is None:
            logged = records_from_log(read_call_log(call_log), case_id, model_config)
        records[asset] = logged.get(asset, [])
        source[asset] = "call log" if records[asset] else "none"
    return records, source


def usage_by_role(records: Mapping[str, list[CallRecord]]) -> list[RoleUsage]:
    groups: dict[tuple[str, str], list[CallRecord]] = {}
    for asset, recs in records.items():
        for r in recs:
            groups.setdefault((asset, r.role), []).append(r)
    out = []
    for (asset, role), recs in sorted(groups.items()):
        t = records_summary(recs)
        out.append(RoleUsage(
            asset=asset, role=role, attempts=t["attempts"], ok=t["calls_ok"], failures=t["failures"],
            prompt_tokens=t["prompt_tokens"], completion_tokens=t["completion_tokens"],
            latency_s=float(t["latency_s"]), cost_usd=float(t["cost_usd"]),
        ))
    return out
