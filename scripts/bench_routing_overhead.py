#!/usr/bin/env python
"""Overhead of the routing resource over a direct `litellm.completion` to the same healthy local server.

Both sides stream the same kind of answer from one healthy OpenAI-compatible test server on 127.0.0.1
(declaration_assets_tests/support/fault_servers.py, llama.cpp flavour, no artificial latency). Calls alternate
(direct, resource, direct, ...) so machine load affects both alike; every prompt is distinct, so neither the
response cache (off anyway) nor the token-count memo can help the resource. Two resource variants:
`estimate` (litellm.token_counter with a margin) and `exact` (one /extras/tokenize round trip per message, as
the packaged embedded route does).

    .venv/bin/python scripts/bench_routing_overhead.py            # 200 calls per side, prints a Markdown table
    .venv/bin/python scripts/bench_routing_overhead.py --calls 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import litellm  # noqa: E402
import yaml  # noqa: E402

from declaration_assets.llm.models import CallContext, PromptSpec  # noqa: E402
from declaration_assets.llm.resources import LLMRouter  # noqa: E402
from declaration_assets_tests.support.fault_servers import Latency, OpenAIFaultServer  # noqa: E402

SYSTEM = "You write first-person declarations."
USER = "Summarize the evidence in one sentence. Request {i}: [Ex. A, p. 1] We married in June 2019 in Phoenix."


def _router(api_base: str, tokenizer: str, tmp: Path) -> LLMRouter:
    dep = {"model": "openai/fault-model", "api_base": api_base, "context_window": 8192, "privacy": "local",
           "tokenizer": tokenizer, "max_concurrency": 1,
           "deadlines": {"total_s": 30, "first_token_s": 10, "stall_s": 5}}
    routes = {"default": "default", "deployments": {"d": dep},
              "model_configs": {"default": {"drafter": ["d"], "judges": [["d"]] * 3, "guard": ["d"]}}}
    path = tmp / f"routes-{tokenizer}.yaml"
    path.write_text(yaml.safe_dump(routes), encoding="utf-8")
    router = LLMRouter(routes_file=str(path), call_log_path=str(tmp / "calls.jsonl"), use_cache=False)
    router.routing()
    return router


def _direct(api_base: str, i: int) -> float:
    t0 = time.perf_counter()
    stream = litellm.completion(
        model="openai/fault-model", api_base=api_base, api_key="not-needed", stream=True, stream_timeout=10,
        num_retries=0, max_tokens=32, temperature=0.0, stream_options={"include_usage": True},
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER.format(i=i)}],
    )
    text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
    assert text
    return time.perf_counter() - t0


def _routed(router: LLMRouter, ctx: CallContext, i: int) -> float:
    t0 = time.perf_counter()
    c = router.complete("drafter", PromptSpec(system=SYSTEM, user=USER.format(i=i), max_tokens=32), ctx)
    assert c.text
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    ctx = CallContext(case_id="bench-0001", asset="bench", model_config="default")
    with tempfile.TemporaryDirectory() as d, OpenAIFaultServer(latency=Latency(tokens=12)) as server:
        api_base = f"{server.base_url}/v1"
        routers = {name: _router(api_base, name, Path(d)) for name in ("estimate", "llamacpp")}
        for i in range(10):  # warm both paths
            _direct(api_base, -i)
            for r in routers.values():
                _routed(r, ctx, -100 - i)
        direct: list[float] = []
        routed: dict[str, list[float]] = {name: [] for name in routers}
        for i in range(args.calls):
            direct.append(_direct(api_base, i))
            for name, r in routers.items():
                routed[name].append(_routed(r, ctx, 10_000 * (1 + len(name)) + i))
    med_d = statistics.median(direct)
    print(f"{args.calls} calls per side, healthy local server (12 streamed tokens), median / p90 in ms\n")
    print("| path | median ms | p90 ms | median overhead ms |")
    print("| --- | --- | --- | --- |")
    q = lambda xs: statistics.quantiles(xs, n=10)[8] * 1000  # noqa: E731
    print(f"| direct litellm.completion | {med_d * 1000:.1f} | {q(direct):.1f} | - |")
    for name, xs in routed.items():
        label = "LLMRouter, estimated count" if name == "estimate" else "LLMRouter, exact count (/extras/tokenize)"
        med = statistics.median(xs)
        print(f"| {label} | {med * 1000:.1f} | {q(xs):.1f} | {(med - med_d) * 1000:+.1f} |")


if __name__ == "__main__":
    main()
