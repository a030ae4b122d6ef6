"""Ctrl-C or SIGTERM stops an LLM step: it fails at once instead of being retried by the retry policy."""

import os
import signal
import threading

import dagster as dg
import pytest

from declaration_assets.orchestration import jobs
from declaration_assets.orchestration.policies import stop_on_interrupt, was_interrupted

from ..support.fault_servers import Mode, OpenAIFaultServer
from .casefiles import write_case
from .real_defs import ctrl_c_once_a_call_waits, isolate, project_defs

RETRY_AT_ONCE = dg.RetryPolicy(max_retries=1, delay=0)


def _interrupt_soon(delay: float = 0.3) -> threading.Timer:
    timer = threading.Timer(delay, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def _retries(result: dg.ExecuteInProcessResult) -> int:
    return sum(1 for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY)


@pytest.mark.parametrize("guarded", [True, False])
def test_an_interrupted_step_is_not_retried(guarded):
    @dg.asset(retry_policy=RETRY_AT_ONCE)
    def slow() -> int:
        _interrupt_soon()
        if guarded:
            with stop_on_interrupt():
                threading.Event().wait(10)
        else:
            threading.Event().wait(10)
        return 1

    result = dg.materialize([slow], raise_on_error=False)
    assert not result.success
    if guarded:
        assert _retries(result) == 0 and was_interrupted(result)
    else:  # what stop_on_interrupt prevents: the interrupted step runs again
        assert _retries(result) == 1


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_ctrl_c_during_a_hung_llm_call_stops_the_draft_step(tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    write_case(inbox, "vawa-0001")
    with OpenAIFaultServer(mode=Mode.HANG) as server:
        isolate(monkeypatch, tmp_path, inbox, f"{server.base_url}/v1")
        defs = project_defs(tmp_path, inbox)
        with dg.instance_for_test() as instance:
            jobs.register_case(instance, "vawa-0001")
            ingest = defs.resolve_job_def(jobs.INGEST_JOB).execute_in_process(instance=instance, partition_key="vawa-0001")
            assert ingest.success

            watcher = ctrl_c_once_a_call_waits(server)  # Ctrl-C while the draft step waits on the hung server
            declaration = defs.resolve_job_def(jobs.DECLARATION_JOB).execute_in_process(
                instance=instance, partition_key="vawa-0001|default", raise_on_error=False)
            watcher.join(timeout=5)
        [call] = server.requests_to("/chat/completions")  # asked once, then the step stopped
        assert call.wait_done(5.0) and call.outcome == "client_disconnected"  # the connection did not linger
    assert not declaration.success and was_interrupted(declaration)
    assert _retries(declaration) == 0
    failed = [e.step_key for e in declaration.all_events if e.is_step_failure]
    assert failed == ["draft"]
