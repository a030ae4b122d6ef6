"""`make demo`'s driver: every sample case through both runs, skipped when nothing changed, stopped by Ctrl-C."""

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.demo import run_demo

from ..support.fault_servers import Latency, Mode, OpenAIFaultServer
from .casefiles import write_case
from .real_defs import REPLY, ctrl_c_once_a_call_waits, isolate, project_defs, wait_for_chat

pytestmark = pytest.mark.integration


@pytest.mark.timeout(600)
def test_demo_runs_skips_when_unchanged_and_stops_on_ctrl_c(tmp_path, monkeypatch, capsys):
    cases = tmp_path / "cases"
    write_case(cases, "vawa-0001")
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    settings.configure(cases_dir=cases)
    with OpenAIFaultServer(latency=Latency(tokens=12), reply=REPLY) as server:
        isolate(monkeypatch, tmp_path, tmp_path / "inbox", f"{server.base_url}/v1")
        defs = project_defs(tmp_path, cases)

        assert run_demo(defs=defs) == 0
        out = capsys.readouterr().out
        assert "1 sample cases" in out and "vawa-0001: done" in out
        latest = settings.current().outputs_dir / "vawa-0001" / "default" / "latest"
        assert (latest / "declaration.md").is_file() and (latest / "declaration.docx").is_file()
        assert (latest / "eval_report.md").is_file()
        with dg.DagsterInstance.get() as instance:
            runs = len(instance.get_runs())
        assert runs == 3  # ingest, declaration, model comparison

        assert run_demo(defs=defs) == 0  # nothing changed: the case is not run again
        assert "vawa-0001: unchanged since its last demo run" in capsys.readouterr().out
        with dg.DagsterInstance.get() as instance:
            assert len(instance.get_runs()) == runs + 1  # only the comparison

        server.set_mode(Mode.HANG)
        asked = len(server.requests_to("/chat/completions"))

        watcher = ctrl_c_once_a_call_waits(server, more_than=asked)
        assert run_demo(force=True, defs=defs) == 130
        watcher.join(timeout=5)
        assert "vawa-0001: interrupted" in capsys.readouterr().err


@pytest.mark.timeout(600)
def test_a_demo_killed_mid_step_does_not_block_the_next_one(tmp_path, monkeypatch, capsys):
    """kill -9 while the draft step holds the LLM pool's only slot: the next demo frees it and finishes."""
    import subprocess
    import sys

    from declaration_assets.demo import DEMO_PID_TAG

    from .services import REPO, service_env

    cases = tmp_path / "cases"
    write_case(cases, "vawa-0001")
    home = tmp_path / "home"
    with OpenAIFaultServer(mode=Mode.HANG, latency=Latency(tokens=12), reply=REPLY) as server:
        env = service_env(home, DECLARATION_CASES_DIR=str(cases), DECLARATION_INBOX_DIR=str(tmp_path / "inbox"),
                          DECLARATION_OUTPUTS_DIR=str(tmp_path / "outputs"), DECLARATION_CACHE_DIR=str(tmp_path / "cache"),
                          DECLARATION_RUN_DIR=str(tmp_path / "run"),
                          DECLARATION_EMBEDDED_API_BASE=f"{server.base_url}/v1")
        first = subprocess.Popen([sys.executable, "-c", "from declaration_assets.demo import run_demo; run_demo()"],
                                 env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert wait_for_chat(server, timeout=240, keep_waiting=lambda: first.poll() is None), \
                "the first demo never reached its draft step"
        finally:
            first.kill()
            first.wait(timeout=30)

        monkeypatch.setenv("DAGSTER_HOME", str(home))
        settings.configure(cases_dir=cases)
        isolate(monkeypatch, tmp_path, tmp_path / "inbox", f"{server.base_url}/v1")
        with dg.DagsterInstance.get() as instance:
            [stale] = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED]
            assert stale.tags[DEMO_PID_TAG] == str(first.pid)
            assert instance.event_log_storage.get_concurrency_run_ids() == {stale.run_id}  # it holds the slot

        server.set_mode(Mode.HEALTHY)
        assert run_demo(defs=project_defs(tmp_path, cases)) == 0
        assert f"run {stale.run_id} of an earlier demo that was killed" in capsys.readouterr().out
        with dg.DagsterInstance.get() as instance:
            assert instance.get_run_by_id(stale.run_id).status == dg.DagsterRunStatus.FAILURE
