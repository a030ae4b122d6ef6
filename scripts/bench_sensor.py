"""Sensor tick time with many case folders in the inbox (docs/BENCHMARKS.md, section "Sensors").

    .venv/bin/python scripts/bench_sensor.py --cases 1000

Builds N complete case folders (two one-page PDFs and a case.yaml each) in a temporary inbox, then times the
inbox sensor's ticks against a temporary SQLite instance, as the daemon would run them:
tick 1 sees every folder for the first time (listing only); the next ticks find them stable and read and validate
every file, register the partitions and request the runs (at most DECLARATION_SENSOR_MAX_CASES_PER_TICK cases a
tick); then the steady state (nothing new).
Checks that every case became exactly one partition and one run request, and prints a Markdown table.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DAGSTER_TELEMETRY_DISABLED", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg  # noqa: E402
import pymupdf  # noqa: E402

from declaration_assets import settings  # noqa: E402
from declaration_assets.orchestration import sensors  # noqa: E402
from declaration_assets.partitions import CASES  # noqa: E402


def pdf(text: str) -> bytes:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text)
    data = doc.tobytes()
    doc.close()
    return data


def build_inbox(root: Path, n: int) -> list[str]:
    ids = [f"vawa-{i:04d}" for i in range(1, n + 1)]
    for case_id in ids:
        folder = root / case_id
        folder.mkdir(parents=True)
        (folder / "01-intake.pdf").write_bytes(pdf(f"{case_id} intake questionnaire"))
        (folder / "02-police-report.pdf").write_bytes(pdf(f"{case_id} police report"))
        (folder / "case.yaml").write_text(f"case_id: {case_id}\ncase_type: vawa\nparties:\n  - role: declarant\n    name: D {case_id}\n")
    return ids


def tick(instance: dg.DagsterInstance, cursor: str | None) -> tuple[float, dg.SensorResult]:
    started = time.perf_counter()
    result = sensors.inbox_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    elapsed = time.perf_counter() - started
    for req in result.dynamic_partitions_requests:  # what the daemon applies after the tick
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return elapsed, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--steady-ticks", type=int, default=3, help="steady-state ticks to average")
    parser.add_argument("--target-s", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-sensor-") as tmp:
        inbox, home = Path(tmp) / "inbox", Path(tmp) / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        t0 = time.perf_counter()
        ids = build_inbox(inbox, args.cases)
        build_s = time.perf_counter() - t0
        settings.configure(inbox_dir=inbox)  # the sensor reads the inbox location at tick time
        with dg.DagsterInstance.from_config(str(home)) as instance:
            first_s, first = tick(instance, None)
            # Complete cases are validated at most MAX_INSPECTIONS_PER_TICK per tick: tick until all are in.
            intake_ticks: list[float] = []
            requests: list[dg.RunRequest] = []
            cursor = first.cursor
            for _ in range(args.cases // max(1, settings.current().sensor_max_cases_per_tick) + 2):
                s, result = tick(instance, cursor)
                cursor = result.cursor
                if not result.run_requests:
                    break
                intake_ticks.append(s)
                requests += result.run_requests
            steady = []
            for _ in range(args.steady_ticks):
                s, result = tick(instance, cursor)
                cursor = result.cursor
                steady.append(s)
                assert not result.run_requests, "steady state must request nothing"
            partitions = instance.get_dynamic_partitions(CASES)

    requested = [r.partition_key for r in requests]
    ok = (
        not first.run_requests
        and sorted(requested) == ids
        and len({r.run_key for r in requests}) == len(ids)
        and sorted(partitions) == ids
    )
    rows = {
        "cases": args.cases,
        "files": args.cases * 3,
        "tick1_first_sight_s": round(first_s, 3),
        "cases_per_tick_limit": settings.current().sensor_max_cases_per_tick,
        "intake_ticks": len(intake_ticks),
        "intake_tick_max_s": round(max(intake_ticks), 3),
        "intake_tick_mean_s": round(statistics.mean(intake_ticks), 3),
        "tick_steady_s": round(statistics.median(steady), 3),
        "cursor_bytes": len(cursor or ""),
        "partitions": len(partitions),
        "run_requests": len(requested),
        "exactly_once": ok,
        "inbox_build_s": round(build_s, 1),
        "cpus": os.cpu_count(),
    }
    worst = max(first_s, *intake_ticks, *steady)
    if args.json:
        print(json.dumps(rows))
    else:
        print("| measure | value |\n| --- | --- |")
        for k, v in rows.items():
            print(f"| {k} | {v} |")
        print(f"\nslowest tick {worst:.2f} s (target < {args.target_s} s): {'PASS' if worst < args.target_s and ok else 'FAIL'}")
    return 0 if ok and worst < args.target_s else 1


if __name__ == "__main__":
    raise SystemExit(main())
