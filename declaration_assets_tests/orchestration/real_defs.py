"""The project's own Definitions for tests that run the real assets in process: every LLM role is served by a
local OpenAI-compatible test server (through DECLARATION_EMBEDDED_API_BASE, as the packaged routes read it), and
every place the project writes to is moved under the test's folder."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.orchestration import jobs

REPLY = "I was recruited with false promises and my passport was taken [Ex. A, p. 1]."


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, inbox: Path, api_base: str, *,
            references: Path | None = None) -> None:
    """Point inbox, outputs, caches and the call log at `tmp_path`, and the embedded route at `api_base`."""
    settings.configure(inbox_dir=inbox, outputs_dir=tmp_path / "outputs", cache_dir=tmp_path / "cache",
                       call_log=tmp_path / "calls.jsonl")
    if settings.current().cases_dir == settings.current().data_dir / "cases":  # not chosen by the test: drops reuse sample case ids,
        settings.configure(cases_dir=tmp_path / "no-samples")  # so no sample root to clash with
    if references is not None:
        settings.configure(references_dir=references)
    monkeypatch.setenv("DECLARATION_EMBEDDED_API_BASE", api_base)  # for the processes a test starts
    settings.configure(environ=os.environ)  # and for this one's routing file


def project_defs(tmp_path: Path, inbox: Path) -> dg.Definitions:
    """The root Definitions' assets and checks with the two jobs, reading cases from `inbox`."""
    from declaration_assets.definitions import defs as root
    from declaration_assets.llm.resources import LLMRouter
    from declaration_assets.retrieval.embeddings import Embedder

    return dg.Definitions(
        assets=list(root.assets),
        asset_checks=list(root.asset_checks or []),
        jobs=[jobs.ingest_job, jobs.declaration_job],
        resources={
            "case_storage": LocalCaseStorage(roots=[str(inbox)]),
            "embedder": Embedder(cache_dir=str(tmp_path / "cache" / "embeddings")),
            "llm": LLMRouter(use_cache=False, call_log_path=str(tmp_path / "calls.jsonl")),
        },
    )


def wait_for_chat(server, more_than: int = 0, timeout: float = 120,
                  keep_waiting: Callable[[], bool] = lambda: True) -> bool:
    """Whether the test server got more than `more_than` chat requests within `timeout` (while `keep_waiting`)."""
    deadline = time.monotonic() + timeout
    while len(server.requests_to("/chat/completions")) <= more_than:
        if time.monotonic() >= deadline or not keep_waiting():
            return False
        time.sleep(0.05)
    return True


def ctrl_c_once_a_call_waits(server, more_than: int = 0) -> threading.Thread:
    """A started thread that sends this process SIGINT (Ctrl-C) once a new chat request is waiting on `server`;
    nothing is sent if none comes."""
    def interrupt() -> None:
        if wait_for_chat(server, more_than):
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    return thread
