"""Per-run wall time of the demo's runs, split into LLM time and everything else, from the Dagster instance and the
LLM call log (the whole-graph benchmark of docs/BENCHMARKS.md).

    make demo                                            # first run: every LLM call made
    .venv/bin/python -m declaration_assets.cli demo --force   # same inputs again: answers come from the cache
    .venv/bin/python scripts/graph_timings.py

LLM time is the union of the intervals during which at least one LLM call was in flight (judges overlap).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DAGSTER_HOME", str(ROOT / ".dagster_home"))

import dagster as dg  # noqa: E402

from declaration_assets import settings  # noqa: E402
from declaration_assets.llm.records import CallLog  # noqa: E402


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def main() -> int:
    records = CallLog(settings.current().call_log).read()
    instance = dg.DagsterInstance.get()
    runs = instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]), limit=200)
    print("| job | partition | wall s | LLM s | everything else s | else share | LLM calls | cached answers |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in sorted(runs, key=lambda r: r.start_time):
        run = r.dagster_run
        if run.job_name not in ("ingest_job", "declaration_job"):
            continue
        wall = r.end_time - r.start_time
        mine = [x for x in records if x.run_id == run.run_id]
        live = [x for x in mine if x.outcome != "cached"]
        llm = union_seconds([(x.ts - (x.latency_s or 0.0), x.ts) for x in live])
        print(f"| {run.job_name} | {run.tags.get('dagster/partition')} | {wall:.1f} | {llm:.1f} | {wall - llm:.1f} "
              f"| {(wall - llm) / wall:.1%} | {len(live)} | {len(mine) - len(live)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
