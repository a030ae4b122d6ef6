"""A server's `max_concurrency` holds across processes (each Dagster step is one), and a killed process frees
its slot."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from declaration_assets.llm.slots import ServerSlots
from declaration_assets_tests.support.fault_servers import Latency, OpenAIFaultServer

from .conftest import deployment, routes

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from declaration_assets.llm.slots import ServerSlots
    slots = ServerSlots("http://server:1/v1", 1, Path(sys.argv[1]))
    assert slots.acquire(timeout=5)
    print("held", flush=True)
    time.sleep(60)
""")

CALLER = textwrap.dedent("""
    import sys
    from declaration_assets.llm.models import CallContext, PromptSpec
    from declaration_assets.llm.resources import LLMRouter
    routes_file, work = sys.argv[1], sys.argv[2]
    router = LLMRouter(routes_file=routes_file, call_log_path=work + "/calls.jsonl", cache_dir=work + "/cache",
                       use_cache=False)
    router.routing()
    ctx = CallContext(case_id="vawa-0001", asset="draft", model_config="default", run_id=work)
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(3):
        router.complete("drafter", PromptSpec(system="s", user=f"question {i} from {work}"), ctx)
    print("done", flush=True)
""")


def test_a_slot_held_by_another_process_is_waited_for_and_freed_when_that_process_dies(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        slots = ServerSlots("http://server:1/v1", 1, tmp_path)
        assert not slots.acquire(timeout=0.3)
        other = ServerSlots("http://server:2/v1", 1, tmp_path)  # another server has its own slots
        assert other.acquire(timeout=0.3)
        other.release()
        holder.kill()  # no cleanup runs: the kernel drops the lock
        holder.wait(timeout=10)
        assert slots.acquire(timeout=5)
        slots.release()
    finally:
        holder.kill()
        holder.wait(timeout=10)
    with pytest.raises(RuntimeError, match="does not hold"):
        slots.release()


def _overlaps(server: OpenAIFaultServer) -> int:
    spans = sorted((r.received_at, r.ended_at) for r in server.requests_to("/chat/completions"))
    return sum(1 for (_, end), (start, _) in zip(spans, spans[1:]) if start < end)


@pytest.mark.parametrize("max_concurrency, overlapping", [(1, False), (2, True)])
def test_max_concurrency_is_kept_across_processes(tmp_path, max_concurrency, overlapping):
    with OpenAIFaultServer(latency=Latency(first_token_s=0.4, gap_s=0.01, tokens=4)) as server:
        routes_file = tmp_path / "routes.yaml"
        routes_file.write_text(yaml.safe_dump(routes(
            {"local": deployment(f"{server.base_url}/v1", total=10, first=5, stall=5,
                                 max_concurrency=max_concurrency)}, drafter=["local"])), encoding="utf-8")
        env = {**os.environ, "DECLARATION_SLOTS_DIR": str(tmp_path / "slots")}
        callers = []
        for name in ("one", "two"):
            work = tmp_path / name
            work.mkdir()
            callers.append(subprocess.Popen([sys.executable, "-c", CALLER, str(routes_file), str(work)], env=env,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        try:
            for c in callers:
                assert c.stdout.readline().strip() == "ready"
            for c in callers:  # both start together
                c.stdin.write("go\n")
                c.stdin.flush()
            for c in callers:
                assert c.stdout.readline().strip() == "done"
                assert c.wait(timeout=30) == 0
        finally:
            for c in callers:
                c.kill()
                c.wait(timeout=10)
        assert len(server.requests_to("/chat/completions")) == 6
        assert bool(_overlaps(server)) is overlapping
    assert sorted(p.name for p in (tmp_path / "slots").iterdir())  # the slots are files, one per slot
    assert len(list((tmp_path / "slots").iterdir())) == max_concurrency
