"""Benchmark: judges run concurrently vs one after another, through the real LLMRouter.

Three judge roles score the five VAWA elements of a synthetic draft (15 calls) against a local OpenAI-compatible
test server (declaration_assets_tests/support/fault_servers.py) that answers every call after a fixed latency
(default 1 s) with a valid rubric answer. Two routing set-ups:

- separate: each judge has its own deployment on its own server (three judge models on three servers), one call
  at a time each;
- shared: the three judges share one deployment on one server limited to one call at a time (the packaged
  embedded route), so concurrency cannot help: the router's per-server limit (pools by api_base) holds.

    .venv/bin/python scripts/bench_judges.py [--latency 1.0] [--judges 3] [--check 2.5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from declaration_assets.drafting.models import Draft, Section  # noqa: E402
from declaration_assets.judging.judge import JudgeSettings, run_judges  # noqa: E402
from declaration_assets.judging.models import CRITERIA  # noqa: E402
from declaration_assets.llm.models import CallContext, PromptSpec  # noqa: E402
from declaration_assets.llm.resources import LLMRouter  # noqa: E402
from declaration_assets.requirements import load_requirements  # noqa: E402
from declaration_assets_tests.support.fault_servers import Latency, OpenAIFaultServer  # noqa: E402

ANSWER = json.dumps({**{c: 4 for c in CRITERIA}, "reasons": "Facts are cited and told in the first person."})


def routes(api_bases: list[str], judges: int, shared: bool) -> dict:
    dep = {
        "model": "openai/bench-judge",
        "context_window": 8192,
        "privacy": "local",
        "tokenizer": "llamacpp",
        "max_concurrency": 1,
        "deadlines": {"total_s": 60, "first_token_s": 30, "stall_s": 30},
        "retry": {"attempts": 0},
    }
    names = ["judge_server"] if shared else [f"judge_server_{i}" for i in range(1, judges + 1)]
    return {
        "default": "bench",
        "deployments": {n: {**dep, "api_base": base} for n, base in zip(names, api_bases)},
        "model_configs": {
            "bench": {
                "drafter": [names[0]],
                "judges": [[names[0] if shared else names[i]] for i in range(judges)],
                "guard": [names[0]],
            }
        },
    }


def synthetic_draft() -> Draft:
    req = load_requirements("vawa")
    sections = [
        Section(kind="element", element_id=e.id, title=e.title,
                paragraphs=[f"I can show {e.title.lower()} with my records [Ex. A, p. 1]."])
        for e in req.elements
    ]
    return Draft(case_id="vawa-9999", model_config_name="bench", case_type="vawa", declarant_name="Bench Declarant",
                 language="en", sections=sections, exhibits=[], prompt_version="bench")


def measure(api_bases: list[str], judges: int, shared: bool, concurrent: bool, workdir: Path) -> dict:
    tag = f"{'shared' if shared else 'separate'}-{'concurrent' if concurrent else 'sequential'}"
    routes_file = workdir / f"routes-{tag}.yaml"
    routes_file.write_text(yaml.safe_dump(routes(api_bases, judges, shared)), encoding="utf-8")
    router = LLMRouter(routes_file=str(routes_file), use_cache=False, call_log_path=str(workdir / f"calls-{tag}.jsonl"))
    draft = synthetic_draft()
    t0 = time.monotonic()
    outcome = run_judges(
        draft=draft, requirements=load_requirements("vawa"), evidence_for=lambda s: ["[Ex. A, p. 1] record"],
        client=router, ctx=CallContext(case_id=draft.case_id, asset="judge_scores", model_config="bench"),
        settings=JudgeSettings(concurrent=concurrent),
    )
    wall = time.monotonic() - t0
    scored = sum(1 for s in outcome.scores.scores if s.status == "scored")
    return {"setup": "shared" if shared else "separate", "mode": "concurrent" if concurrent else "sequential",
            "calls": len(outcome.scores.scores), "scored": scored, "wall_s": round(wall, 2)}


def warm_up(api_bases: list[str], judges: int, workdir: Path) -> None:
    """One untimed call: litellm imports its HTTP stack on a process's first call (1-3 s here)."""
    routes_file = workdir / "routes-warm-up.yaml"
    routes_file.write_text(yaml.safe_dump(routes(api_bases, judges, True)), encoding="utf-8")
    router = LLMRouter(routes_file=str(routes_file), use_cache=False, call_log_path=str(workdir / "calls-warm-up.jsonl"))
    router.complete("judge_1", PromptSpec(system="s", user="u", max_tokens=16),
                    CallContext(case_id="vawa-9999", asset="bench", model_config="bench"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency", type=float, default=1.0, help="server latency per call, seconds")
    ap.add_argument("--judges", type=int, default=3)
    ap.add_argument("--check", type=float, default=None, help="exit 1 if the separate-servers speedup is below this")
    args = ap.parse_args(argv)

    rows = []
    servers = [OpenAIFaultServer(latency=Latency(first_token_s=args.latency, gap_s=0.0), reply=ANSWER)
               for _ in range(args.judges + 1)]
    try:
        for server in servers:
            server.start()
        bases = [f"{server.base_url}/v1" for server in servers]
        with tempfile.TemporaryDirectory() as tmp:
            warm_up(bases[-1:], args.judges, Path(tmp))
            for shared in (False, True):
                for concurrent in (False, True):
                    rows.append(measure(bases[-1:] if shared else bases[:-1], args.judges, shared, concurrent, Path(tmp)))
                    print(json.dumps(rows[-1]), flush=True)
    finally:
        for server in servers:
            server.close()

    def speedup(setup: str) -> float:
        seq = next(r["wall_s"] for r in rows if r["setup"] == setup and r["mode"] == "sequential")
        con = next(r["wall_s"] for r in rows if r["setup"] == setup and r["mode"] == "concurrent")
        return seq / con if con else float("inf")

    print()
    print("| judge deployments | mode | calls | scored | wall s |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['setup']} | {r['mode']} | {r['calls']} | {r['scored']} | {r['wall_s']:.2f} |")
    sep, sha = speedup("separate"), speedup("shared")
    print(f"\nspeedup, separate deployments: {sep:.2f}x; shared deployment (max_concurrency 1): {sha:.2f}x")
    if any(r["scored"] != r["calls"] for r in rows):
        print("some calls were not scored: the benchmark is invalid")
        return 1
    if args.check is not None and sep < args.check:
        print(f"below the target of {args.check}x")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
