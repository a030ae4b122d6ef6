#!/usr/bin/env python
"""Hung calls: the old approach against the routing resource, in one run, against the same fault servers.

The failure the project was born from: the primary deployment hangs before the first byte on 40 % of calls and
stalls mid-stream on 10 %; a fallback deployment is healthy. A case is a sequence of calls (a quarter are
drafter-sized answers, the rest judge-sized), made one after the other.

- Old approach: each call runs `litellm.completion` in a child process that is killed after a fixed timeout;
  three tries on the primary, then the fallback. Children fork from a server process that has already imported
  litellm (multiprocessing "forkserver"), so the old approach is not charged for interpreter start-up.
- Routing resource: `declaration_assets.llm.resources.LLMRouter` built from a temporary routing file with the
  chain primary -> fallback; `complete()` streams with first-token and stall deadlines and falls back at once.

Fair settings, measured first in the same run against the healthy server: the old timeout is 3x the longest
healthy call (through the old harness itself, so it never kills a healthy call); the resource's first-token and
stall deadlines are 3x the p99 time to first token and the p99 gap between tokens, but never below the routing
file's floor (`MIN_WAIT_DEADLINE_S`, 1 s: a routing file may not ask for less); its total deadline equals the old
timeout (or the floor, if that is longer). Cooldown is off by default so every call meets the primary (pass --cooldown to use the resource's
default cooldown).

    .venv/bin/python scripts/bench_hung_calls.py                 # 2 cases x 20 calls, prints a table
    .venv/bin/python scripts/bench_hung_calls.py --write-doc     # also records the figures in docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from declaration_assets.llm.routing import MIN_WAIT_DEADLINE_S  # noqa: E402
from declaration_assets_tests.support.fault_servers import (  # noqa: E402
    Latency,
    Mode,
    OpenAIFaultServer,
    RequestRecord,
    Weighted,
)

DOC = ROOT / "docs" / "BENCHMARKS.md"
SECTION = "## Hung calls: old approach vs routing resource"
SYSTEM = "You answer with exactly the requested number of words."
HUNG_OUTCOMES = ("deadline_first_token", "deadline_stall", "deadline_total")


# ------------------------------------------------------------------------------------------------ workload


@dataclass(frozen=True)
class CallSpec:
    role: str
    tokens: int

    @property
    def user(self) -> str:
        return f"Answer for the {self.role}. LEN={self.tokens}"

    @property
    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": self.user}]


def case_calls(n: int, long_tokens: int, short_tokens: int) -> list[CallSpec]:
    drafter = max(1, n // 4)
    return [CallSpec("drafter", long_tokens) for _ in range(drafter)] + [
        CallSpec(f"judge_{1 + i % 3}", short_tokens) for i in range(n - drafter)
    ]


def reply_by_length(record: RequestRecord) -> str:
    messages = (record.body or {}).get("messages") or []
    match = re.search(r"LEN=(\d+)", str(messages[-1].get("content", "")) if messages else "")
    n = int(match.group(1)) if match else 8
    return " ".join(f"w{i}" for i in range(n))


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


# ------------------------------------------------------------------------------------------------ calibration


def measure_stream(api_base: str, specs: list[CallSpec]) -> tuple[list[float], list[float]]:
    """Time to first token and gaps between tokens of healthy streamed calls (litellm in this process)."""
    import litellm

    ttfts: list[float] = []
    gaps: list[float] = []
    for spec in specs:
        start = time.monotonic()
        last: float | None = None
        for chunk in litellm.completion(model="openai/bench", api_base=api_base, api_key="none",
                                        messages=spec.messages, max_tokens=spec.tokens + 16, stream=True,
                                        stream_timeout=30, max_retries=0):
            if not (chunk.choices and chunk.choices[0].delta.content):
                continue
            now = time.monotonic()
            if last is None:
                ttfts.append(now - start)
            else:
                gaps.append(now - last)
            last = now
    return ttfts, gaps


# ------------------------------------------------------------------------------------------------ old approach

_PRELOAD_ROOTS = {"litellm", "openai", "httpx", "httpcore", "h11", "anyio", "pydantic", "pydantic_core", "tiktoken",
                  "tokenizers", "aiohttp", "jinja2", "yaml", "certifi", "ssl", "importlib_metadata"}


def preload_modules() -> list[str]:
    """The modules this process imported to make a completion (after a warm-up call)."""
    return sorted(m for m in list(sys.modules) if m.split(".")[0] in _PRELOAD_ROOTS)



def _old_worker(conn, api_base: str, messages: list[dict[str, str]], max_tokens: int) -> None:
    import litellm

    response = litellm.completion(model="openai/bench", api_base=api_base, api_key="none", messages=messages,
                                  max_tokens=max_tokens, max_retries=0)
    conn.send(response.choices[0].message.content)


@dataclass
class Attempt:
    deployment: str
    outcome: str
    seconds: float


@dataclass
class CallResult:
    ok: bool
    seconds: float
    attempts: list[Attempt] = field(default_factory=list)


def old_call(ctx, spec: CallSpec, chain: list[tuple[str, str]], timeout_s: float) -> CallResult:
    started = time.monotonic()
    attempts: list[Attempt] = []
    for name, api_base in chain:
        t0 = time.monotonic()
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_old_worker, args=(sender, api_base, spec.messages, spec.tokens + 16), daemon=True)
        proc.start()
        sender.close()
        proc.join(timeout_s)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
            outcome = "killed"
        elif proc.exitcode == 0 and receiver.poll():
            outcome = "ok" if receiver.recv() else "empty"
        else:
            outcome = f"exit_{proc.exitcode}"
        receiver.close()
        attempts.append(Attempt(name, outcome, time.monotonic() - t0))
        if outcome == "ok":
            return CallResult(True, time.monotonic() - started, attempts)
    return CallResult(False, time.monotonic() - started, attempts)


# ------------------------------------------------------------------------------------------------ routing resource


def write_routes(path: Path, primary: str, fallback: str, first_token_s: float, stall_s: float, total_s: float,
                 cooldown: bool) -> None:
    def deployment(api_base: str) -> dict:
        dep = {
            "model": "openai/bench", "api_base": api_base, "context_window": 8192, "privacy": "local",
            "tokenizer": "llamacpp", "max_concurrency": 4,
            "deadlines": {"total_s": round(total_s, 3), "first_token_s": round(first_token_s, 3),
                          "stall_s": round(stall_s, 3)},
        }
        if not cooldown:
            dep["cooldown"] = {"after_failures": 1, "seconds": 0}
        return dep

    chain = ["primary", "fallback"]
    path.write_text(yaml.safe_dump({
        "default": "bench",
        "deployments": {"primary": deployment(primary), "fallback": deployment(fallback)},
        "model_configs": {"bench": {"drafter": chain, "judges": [chain, chain, chain], "guard": chain}},
    }, sort_keys=False), encoding="utf-8")


def router_call(router, spec: CallSpec, case_id: str) -> CallResult:
    from declaration_assets.llm.models import CallContext, LLMFailure, PromptSpec

    prompt = PromptSpec(system=SYSTEM, user=spec.user, max_tokens=spec.tokens + 16)
    role = "drafter" if spec.role == "drafter" else spec.role
    started = time.monotonic()
    try:
        completion = router.complete(role, prompt, CallContext(case_id=case_id, asset="bench", model_config="bench"))
        records, ok = completion.records, bool(completion.text)
    except LLMFailure as failure:
        records, ok = failure.records, False
    attempts = [Attempt(r.deployment, r.outcome, r.latency_s or 0.0) for r in records]
    return CallResult(ok, time.monotonic() - started, attempts)


# ------------------------------------------------------------------------------------------------ report


@dataclass
class Summary:
    name: str
    calls: int
    completed: int
    case_seconds: list[float]
    hung_attempts: list[float]  # client-side seconds of each attempt that met a hang or stall
    deadline: str
    server_silence: list[tuple[float, float]]  # (silence seen by the server before the client left, deadline)

    @property
    def overshoot(self) -> float:
        return max((s - d for s, d in self.server_silence), default=0.0)


def hung_records(server: OpenAIFaultServer, since: int) -> list[RequestRecord]:
    return [r for r in server.requests[since:] if r.mode in (Mode.HANG, Mode.STALL)]


def summarize(name: str, results: list[list[CallResult]], hung_attempt_outcomes: tuple[str, ...], deadline: str,
              silence: list[tuple[float, float]]) -> Summary:
    flat = [c for case in results for c in case]
    hung = [a.seconds for c in flat for a in c.attempts if a.outcome in hung_attempt_outcomes]
    return Summary(name, len(flat), sum(c.ok for c in flat), [sum(c.seconds for c in case) for case in results],
                   hung, deadline, silence)


def table(rows: list[Summary]) -> str:
    head = ("| approach | calls completed | time per case (s), mean | hung attempts | hung attempt cost (s), "
            "mean / max | deadline per hung attempt | server-seen silence minus deadline, max (s) |")
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in rows:
        cost = (f"{statistics.mean(s.hung_attempts):.2f} / {max(s.hung_attempts):.2f}" if s.hung_attempts else "-")
        lines.append(f"| {s.name} | {s.completed}/{s.calls} ({100 * s.completed / max(1, s.calls):.0f} %) | "
                     f"{statistics.mean(s.case_seconds):.2f} | {len(s.hung_attempts)} | {cost} | {s.deadline} | "
                     f"{s.overshoot:+.2f} |")
    return "\n".join(lines)


def write_doc(text: str) -> None:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    block = f"{SECTION}\n\n{text.strip()}\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block + "\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + block
    DOC.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=2)
    ap.add_argument("--calls", type=int, default=20, help="calls per case")
    ap.add_argument("--hang", type=float, default=0.4, help="share of primary calls that hang before the first byte")
    ap.add_argument("--stall", type=float, default=0.1, help="share of primary calls that stall mid-stream")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--first-token", type=float, default=0.05, help="healthy delay before the first token (s)")
    ap.add_argument("--gap", type=float, default=0.004, help="healthy gap between tokens (s)")
    ap.add_argument("--jitter", type=float, default=0.004, help="uniform jitter added to each delay (s)")
    ap.add_argument("--long-tokens", type=int, default=100, help="drafter-sized answer length")
    ap.add_argument("--short-tokens", type=int, default=30, help="judge-sized answer length")
    ap.add_argument("--cooldown", action="store_true", help="keep the resource's cooldown of a failing deployment")
    ap.add_argument("--write-doc", action="store_true", help=f"record the figures in {DOC.relative_to(ROOT)}")
    args = ap.parse_args(argv)

    ctx = mp.get_context("forkserver")
    latency = Latency(first_token_s=args.first_token, gap_s=args.gap, jitter_s=args.jitter)
    faults = {Mode.HANG: args.hang, Mode.STALL: args.stall}
    specs = case_calls(args.calls, args.long_tokens, args.short_tokens)
    run_started = time.monotonic()

    with OpenAIFaultServer(latency=latency, reply=reply_by_length, seed=args.seed) as primary, \
            OpenAIFaultServer(latency=latency, reply=reply_by_length, seed=args.seed + 1) as fallback:
        primary_v1, fallback_v1 = f"{primary.base_url}/v1", f"{fallback.base_url}/v1"

        # 1. Calibrate against the healthy server.
        measure_stream(fallback_v1, specs[:1])  # warm-up: litellm's lazy imports and client set-up
        ttfts, gaps = measure_stream(fallback_v1, specs)
        # Children fork from a server that already holds every module a completion needs, as a long-lived
        # worker pool would: the old approach is charged for the fork, not for importing litellm.
        ctx.set_forkserver_preload(["__main__", *preload_modules()])
        old_call(ctx, specs[0], [("fallback", fallback_v1)], timeout_s=120)  # warm-up: starts the fork server
        calib_old = [old_call(ctx, s, [("fallback", fallback_v1)], timeout_s=120) for s in specs]
        if not all(c.ok for c in calib_old):
            raise SystemExit("calibration: a healthy call failed through the old harness")
        longest = max(c.seconds for c in calib_old)
        old_timeout = 3 * longest
        # 3x the healthy p99, but never below the floor the routing file enforces.
        first_token_s = max(3 * p99(ttfts), MIN_WAIT_DEADLINE_S)
        stall_s = max(3 * p99(gaps), MIN_WAIT_DEADLINE_S)
        total_s = max(old_timeout, first_token_s, stall_s)
        print(f"healthy: p99 TTFT {p99(ttfts):.3f} s, p99 gap {p99(gaps):.4f} s, longest call (old harness) "
              f"{longest:.3f} s over {len(specs)} calls")
        print(f"old timeout {old_timeout:.2f} s x 3 tries then fallback; resource deadlines: first token "
              f"{first_token_s:.3f} s, stall {stall_s:.3f} s (3x p99, floor {MIN_WAIT_DEADLINE_S:g} s), total {total_s:.2f} s")

        # 2. Old approach.
        primary.set_schedule(Weighted(faults, seed=args.seed))
        mark = len(primary.requests)
        chain = [("primary", primary_v1)] * 3 + [("fallback", fallback_v1)]
        old_results = [[old_call(ctx, s, chain, old_timeout) for s in specs] for _ in range(args.cases)]
        old_silence = [(r.silent_wait_s or 0.0, old_timeout) for r in hung_records(primary, mark) if r.wait_done(5)]
        old = summarize("old: subprocess, kill, 3 tries", old_results, ("killed",), f"timeout {old_timeout:.2f} s",
                        old_silence)

        # 3. Routing resource, same fault draws.
        from declaration_assets.llm.resources import LLMRouter

        primary.set_schedule(Weighted(faults, seed=args.seed))
        mark = len(primary.requests)
        with tempfile.TemporaryDirectory() as tmp:
            routes = Path(tmp) / "routes.yaml"
            write_routes(routes, primary_v1, fallback_v1, first_token_s, stall_s, total_s, args.cooldown)
            router = LLMRouter(routes_file=str(routes), call_log_path=str(Path(tmp) / "calls.jsonl"), use_cache=False)
            # Warm-up, as for the old approach: one call that meets a hang on the primary and ends on the
            # fallback, so both deployments' clients exist before timing starts (excluded from the figures).
            primary.queue_modes(Mode.HANG)
            router_call(router, specs[-1], "bench-warmup")
            primary.set_schedule(Weighted(faults, seed=args.seed))
            mark = len(primary.requests)
            new_results = [[router_call(router, s, f"bench-{c}") for s in specs] for c in range(args.cases)]
        new_silence = []
        for r in hung_records(primary, mark):
            if r.wait_done(5):
                new_silence.append((r.silent_wait_s or 0.0, first_token_s if r.mode is Mode.HANG else stall_s))
        new = summarize("routing resource", new_results, HUNG_OUTCOMES,
                        f"first token {first_token_s:.3f} s / stall {stall_s:.3f} s", new_silence)

    failures = [f"- {label}: a call failed: " + ", ".join(f"{a.deployment} {a.outcome} after {a.seconds:.2f} s"
                                                        for a in call.attempts)
                for label, results in (("old approach", old_results), ("resource", new_results))
                for case in results for call in case if not call.ok]
    if any("fallback deadline_" in f for f in failures):
        failures.append("  (the fallback is healthy: a stream that trips even the floored deadline was starved of CPU "
                        "for longer than the floor on this machine)")
    print("\n".join(failures))
    rows = [old, new]
    speedup = statistics.mean(old.case_seconds) / max(1e-9, statistics.mean(new.case_seconds))
    elapsed = time.monotonic() - run_started
    report = table(rows)
    verdict = [
        f"- completion: old {old.completed}/{old.calls}, resource {new.completed}/{new.calls}",
        f"- time per case: {speedup:.1f}x less with the resource (target: at least 5x)",
        f"- each hung call, as the server saw it, waited at most {new.overshoot:+.2f} s beyond its deadline "
        f"with the resource (target: at most +1 s); the old approach waited up to {max((s for s, _ in old_silence), default=0):.2f} s per hung attempt",
    ]
    if speedup < 5 and max(first_token_s, stall_s) <= MIN_WAIT_DEADLINE_S:
        verdict.append(
            f"- below the 5x target because of the deadline floor: each hung attempt costs the resource at least "
            f"{MIN_WAIT_DEADLINE_S:g} s, while the old timeout, 3x the longest healthy call of this fast synthetic "
            f"server, is only {old_timeout:.2f} s (three tries); with slower servers, whose old timeouts run to minutes, "
            "the floor's share shrinks and the ratio grows")
    print()
    print(report)
    print("\n".join(verdict))
    print(f"(run took {elapsed:.0f} s)")

    if args.write_doc:
        command = "scripts/bench_hung_calls.py" + ("" if argv is None and len(sys.argv) == 2 else "")
        shown = " ".join([".venv/bin/python", command, *[a for a in (argv if argv is not None else sys.argv[1:])]])
        write_doc("\n".join([
            "The failure the project was born from, replayed against real local HTTP servers "
            "(`declaration_assets_tests/support/fault_servers.py`): the primary deployment hangs before the first "
            f"byte on {args.hang:.0%} of calls and stalls mid-stream on {args.stall:.0%}; the fallback is healthy. "
            f"A case is {args.calls} calls in sequence ({len([s for s in specs if s.role == 'drafter'])} drafter-sized "
            f"answers of {args.long_tokens} tokens, the rest judge-sized of {args.short_tokens}); {args.cases} cases "
            "per approach, with the same seeded fault draws.",
            "",
            "- Old approach: each call is `litellm.completion` in a child process killed after a fixed timeout, "
            "three tries on the primary, then the fallback (children fork from a process that already imported "
            "litellm, so start-up is not charged to it). Timeout = 3x the longest healthy call measured through "
            "the same harness in the run, so no healthy call is ever killed.",
            "- Routing resource: `LLMRouter` with the chain primary -> fallback; first-token and stall deadlines "
            "= 3x the healthy server's p99 time to first token and p99 gap between tokens, measured in the run, "
            f"but never below the routing file's floor of {MIN_WAIT_DEADLINE_S:g} s (`MIN_WAIT_DEADLINE_S`: a "
            "routing file asking for less is refused; an earlier run with a 0.052 s stall deadline, 3x a 17 ms "
            "p99 gap, saw a healthy fallback cut under machine load); total deadline = the old timeout"
            + ("" if args.cooldown else "; cooldown off, so every call meets the primary") + ".",
            "",
            f"Command: `{shown}` (run took {elapsed:.0f} s on the 2-core machine)",
            "",
            f"Measured: healthy p99 time to first token {p99(ttfts):.3f} s, p99 gap {p99(gaps):.4f} s, longest "
            f"healthy call {longest:.3f} s -> old timeout {old_timeout:.2f} s; resource deadlines first token "
            f"{first_token_s:.3f} s (3x p99: {3 * p99(ttfts):.3f} s), stall {stall_s:.3f} s (3x p99: "
            f"{3 * p99(gaps):.3f} s), total {total_s:.2f} s.",
            "",
            report,
            "",
            *verdict,
            *failures,
            "",
            "\"Server-seen silence\" is measured by the fault server: how long it had sent nothing when the client "
            "closed the connection, minus the deadline that applied (first-token deadline for a hang, stall "
            "deadline for a stall, the old timeout for the old approach).",
        ]))
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
