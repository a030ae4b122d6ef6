"""Faults that once slipped through the call path: each test here failed before its fix.

- A stall deadline longer than the first-token deadline is honoured (the HTTP read timeout once cut every gap
  between chunks at the first-token deadline).
- Calls queued behind a hung single-slot server move on to the next deployment of their chain.
- A JSON-mode answer that is not valid JSON (or not of the schema) is a `bad_response` of that deployment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from declaration_assets.llm.models import LLMFailure, PromptSpec
from declaration_assets_tests.support.fault_servers import Latency, Mode, OpenAIFaultServer

from .conftest import deployment, routes

PROMPT = PromptSpec(system="You write declarations.", user="Say hello.", max_tokens=32)


def test_stall_deadline_longer_than_first_token_deadline_is_honoured(make_router, ctx):
    # a healthy answer whose chunks come 2 s apart: within stall_s (4 s), longer than first_token_s (1.5 s)
    with OpenAIFaultServer(latency=Latency(first_token_s=0.05, gap_s=2.0, tokens=3), reply="one two three") as s:
        router = make_router(routes({"slow": deployment(f"{s.base_url}/v1", total=8.0, first=1.5, stall=4.0,
                                                        retries=0)}, drafter=["slow"]))
        started = time.monotonic()
        c = router.complete("drafter", PROMPT, ctx)
        elapsed = time.monotonic() - started
    assert c.text == "one two three"
    assert [r.outcome for r in c.records] == ["ok"]
    assert elapsed >= 3.9  # the two 2 s gaps were waited out, not cut at 1.5 s


JSON_PROMPT = PromptSpec(system="You score.", user="Score it.", max_tokens=32, json_mode=True,
                         json_schema={"type": "object", "required": ["score"],
                                      "properties": {"score": {"type": "integer"}}})


def test_non_json_answer_in_json_mode_is_a_bad_response_and_falls_back_without_cooldown(make_router, ctx):
    with OpenAIFaultServer(reply="Sure! The score is four.") as garbage, \
         OpenAIFaultServer(reply='{"score": 4}') as good:
        data = routes({"garbage": deployment(f"{garbage.base_url}/v1", cooldown={"after_failures": 1, "seconds": 60}),
                       "good": deployment(f"{good.base_url}/v1")}, drafter=["garbage", "good"])
        router = make_router(data)
        for _ in range(3):  # a bad answer does not bench the deployment: it is asked every time
            c = router.complete("drafter", JSON_PROMPT, ctx)
            assert c.text == '{"score": 4}' and c.deployment == "good"
            assert [(r.deployment, r.outcome) for r in c.records] == [("garbage", "bad_response"), ("good", "ok")]
            assert c.records[0].error_class == "InvalidJSON" and "Sure" not in c.records[0].error
        assert len(garbage.requests_to("/chat/completions")) == 3


def test_schema_invalid_answer_on_the_last_deployment_is_returned_and_recorded_as_bad(make_router, ctx):
    with OpenAIFaultServer(reply='{"score": "four"}') as only:
        router = make_router(routes({"only": deployment(f"{only.base_url}/v1")}, drafter=["only"]))
        c = router.complete("drafter", JSON_PROMPT, ctx)
    assert c.text == '{"score": "four"}'  # the caller validates and may ask again with a repair prompt
    assert [r.outcome for r in c.records] == ["bad_response"]
    assert "score" in c.records[0].error


def test_calls_do_not_queue_behind_a_hung_server_and_cooldown_is_rechecked_after_the_wait(make_router, ctx):
    with OpenAIFaultServer(mode=Mode.HANG) as hung, \
         OpenAIFaultServer(latency=Latency(first_token_s=0.02, gap_s=0.005, tokens=4), reply="healthy") as healthy:
        data = routes({"hung": deployment(f"{hung.base_url}/v1", total=3.0, first=1.0, stall=1.0, retries=0,
                                          max_concurrency=1, cooldown={"after_failures": 1, "seconds": 60}),
                       "healthy": deployment(f"{healthy.base_url}/v1", max_concurrency=6)},
                      drafter=["hung", "healthy"])
        router = make_router(data)
        results = []
        lock = threading.Lock()

        def call() -> None:
            c = router.complete("drafter", PROMPT, ctx)
            with lock:
                results.append(c)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(results) == 6 and {c.deployment for c in results} == {"healthy"}
        # one call meets the hang; the others wait for its slot at most about the first-token deadline (1 s),
        # then move on, instead of queueing one hang after another (queue times once grew to 5x the deadline)
        queued = [r.queue_s for c in results for r in c.records if r.deployment == "hung" and r.queue_s]
        assert queued and max(queued) <= 1.0 + 1.0, queued
        assert len(hung.requests_to("/chat/completions")) == 1  # not asked again once it began cooling down


def test_last_deployment_of_a_chain_keeps_queueing_up_to_its_total_deadline(make_router, ctx):
    with OpenAIFaultServer(latency=Latency(first_token_s=0.8, gap_s=0.01, tokens=3), reply="slow but fine") as single:
        router = make_router(routes({"single": deployment(f"{single.base_url}/v1", total=8.0, first=1.0, stall=1.0,
                                                          max_concurrency=1)}, drafter=["single"]))
        results: list[str] = []
        threads = [threading.Thread(target=lambda: results.append(router.complete("drafter", PROMPT, ctx).text))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert results == ["slow but fine"] * 3  # the third waited ~1.6 s, longer than first_token_s, and was served
