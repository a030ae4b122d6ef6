"""Each fault of a real local server leads to its documented outcome within its deadline, and leaves records.

Documented outcomes (docs/ROUTING.md): a deadline breach (hang, stall, trickle past the total) closes the
connection and goes straight to the next deployment; 429, 5xx and dropped connections are retried with backoff,
then fall back; a malformed answer or a context overflow falls back without retry; a permanent error (404,
401) stops the call at once without trying fallbacks.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from declaration_assets.llm.models import LLMFailure, PromptSpec
from declaration_assets_tests.support.fault_servers import Latency, Mode, OpenAIFaultServer

from .conftest import deployment, routes

MARGIN_S = 1.0  # scheduling slack on a busy 2-core machine; the outcome records tell which deadline tripped
PROMPT = PromptSpec(system="You write declarations.", user="Say hello.", max_tokens=32)


@pytest.fixture
def primary() -> Iterator[OpenAIFaultServer]:
    with OpenAIFaultServer(latency=Latency(first_token_s=0.02, gap_s=0.005, tokens=20), trickle_interval_s=0.15) as s:
        yield s


@pytest.fixture
def backup() -> Iterator[OpenAIFaultServer]:
    with OpenAIFaultServer(latency=Latency(first_token_s=0.02, gap_s=0.005, tokens=6), reply="backup answer") as s:
        yield s


@pytest.fixture
def router(make_router, primary, backup):
    data = routes(
        {
            "primary": deployment(f"{primary.base_url}/v1", total=2.0, first=1.0, stall=1.0),
            "backup": deployment(f"{backup.base_url}/v1"),
        },
        drafter=["primary", "backup"],
    )
    return make_router(data)


def _chat_requests(server: OpenAIFaultServer):
    return server.requests_to("/chat/completions")


@pytest.mark.parametrize(
    ("mode", "outcome", "deadline_s"),
    [
        (Mode.HANG, "deadline_first_token", 1.0),
        (Mode.STALL, "deadline_stall", 1.0 + 0.1),
        (Mode.TRICKLE, "deadline_total", 2.0),  # 20 tokens trickled 0.15 s apart: 3 s, never a 1 s stall
    ],
)
def test_deadline_breach_closes_the_connection_and_falls_back_at_once(router, ctx, primary, backup, mode, outcome, deadline_s):
    primary.set_mode(mode)
    t0 = time.monotonic()
    c = router.complete("drafter", PROMPT, ctx)
    elapsed = time.monotonic() - t0
    assert c.text == "backup answer" and c.deployment == "backup"
    first, last = c.records[0], c.records[-1]
    assert (first.deployment, first.outcome) == ("primary", outcome)
    assert last.outcome == "ok" and last.deployment == "backup"
    # the hung server is asked exactly once, and learns at once that the client left
    reqs = _chat_requests(primary)
    assert len(reqs) == 1
    assert reqs[0].wait_done(2.0)
    assert reqs[0].outcome == "client_disconnected"
    assert first.latency_s <= deadline_s + MARGIN_S
    assert reqs[0].duration_s <= deadline_s + MARGIN_S
    assert elapsed <= deadline_s + 1.0 + MARGIN_S


@pytest.mark.parametrize(("mode", "outcome"), [(Mode.HTTP_429, "rate_limited"), (Mode.HTTP_500, "server_error"),
                                               (Mode.HTTP_503, "server_error"), (Mode.DROP, "connection_error")])
def test_transient_errors_are_retried_then_fall_back(router, ctx, primary, backup, mode, outcome):
    primary.set_mode(mode)
    c = router.complete("drafter", PROMPT, ctx)
    assert c.deployment == "backup"
    outcomes = [(r.deployment, r.outcome, r.try_on_deployment) for r in c.records]
    assert outcomes == [("primary", outcome, 1), ("primary", outcome, 2), ("primary", outcome, 3), ("backup", "ok", 1)]
    assert len(_chat_requests(primary)) == 3


def test_transient_error_recovers_on_retry(router, ctx, primary, backup):
    primary.queue_modes(Mode.HTTP_500, then=Mode.HEALTHY)
    c = router.complete("drafter", PROMPT, ctx)
    assert c.deployment == "primary"
    assert [r.outcome for r in c.records] == ["server_error", "ok"]
    assert _chat_requests(backup) == []


def test_retry_after_is_honoured(make_router, ctx, primary):
    primary.retry_after_s = 1
    primary.queue_modes(Mode.HTTP_429, then=Mode.HEALTHY)
    router = make_router(routes({"p": deployment(f"{primary.base_url}/v1")}, drafter=["p"]))
    router.complete("drafter", PROMPT, ctx)
    first, second = _chat_requests(primary)
    # Retry-After (1 s) is capped by max_backoff_s (0.2 s here) but never ignored in favour of a shorter pause
    assert 0.15 <= second.received_at - first.ended_at <= 1.0


@pytest.mark.parametrize(("mode", "outcome"), [(Mode.MALFORMED, "bad_response"), (Mode.CONTEXT_OVERFLOW, "context_overflow")])
def test_malformed_and_overflow_fall_back_without_retry(router, ctx, primary, backup, mode, outcome):
    primary.set_mode(mode)
    c = router.complete("drafter", PROMPT, ctx)
    assert [(r.deployment, r.outcome) for r in c.records] == [("primary", outcome), ("backup", "ok")]
    assert len(_chat_requests(primary)) == 1


class _StatusHandler(BaseHTTPRequestHandler):
    status = 401

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"error": {"message": "invalid api key", "type": "invalid_request_error",
                                     "code": self.status}}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def _status_server(status: int) -> Iterator[str]:
    handler = type("H", (_StatusHandler,), {"status": status})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(("status", "error"), [(401, "AuthenticationError"), (403, "(PermissionDeniedError|APIError)"),
                                               (404, "NotFoundError"), (400, "BadRequestError")])
def test_permanent_error_fails_fast_without_fallback(make_router, ctx, backup, status, error):
    with _status_server(status) as api_base:
        data = routes({"wrong": deployment(api_base), "backup": deployment(f"{backup.base_url}/v1")},
                      drafter=["wrong", "backup"])
        router = make_router(data)
        t0 = time.monotonic()
        with pytest.raises(LLMFailure, match=rf"failed permanently: {error}") as err:
            router.complete("drafter", PROMPT, ctx)
        assert time.monotonic() - t0 < 3.0
    assert [r.outcome for r in err.value.records] == ["permanent_error"]
    assert _chat_requests(backup) == []


def test_missing_credential_is_a_clear_permanent_error(make_router, ctx, primary, monkeypatch):
    monkeypatch.delenv("FAULT_KEY_UNSET", raising=False)
    router = make_router(routes({"p": deployment(f"{primary.base_url}/v1", api_key_env="FAULT_KEY_UNSET")}, drafter=["p"]))
    with pytest.raises(LLMFailure, match="FAULT_KEY_UNSET"):
        router.complete("drafter", PROMPT, ctx)
    assert primary.requests == []


def test_whole_chain_failing_raises_with_every_record(make_router, ctx, primary, backup):
    primary.set_mode(Mode.HANG)
    backup.set_mode(Mode.MALFORMED)
    data = routes({"primary": deployment(f"{primary.base_url}/v1", first=1.0, total=2),
                   "backup": deployment(f"{backup.base_url}/v1")}, drafter=["primary", "backup"])
    router = make_router(data)
    with pytest.raises(LLMFailure) as err:
        router.complete("drafter", PROMPT, ctx)
    msg = str(err.value)
    assert "primary: deadline_first_token" in msg and "backup: bad_response" in msg and "draft:" in msg
    assert [r.outcome for r in err.value.records] == ["deadline_first_token", "bad_response"]


def test_failing_deployment_cools_down(make_router, ctx, primary, backup):
    primary.set_mode(Mode.HTTP_500)
    dep = deployment(f"{primary.base_url}/v1", retries=0, cooldown={"after_failures": 2, "seconds": 30})
    router = make_router(routes({"primary": dep, "backup": deployment(f"{backup.base_url}/v1")}, drafter=["primary", "backup"]))
    for _ in range(2):
        router.complete("drafter", PROMPT, ctx)
    assert len(_chat_requests(primary)) == 2
    c = router.complete("drafter", PROMPT, ctx)
    assert [(r.deployment, r.outcome) for r in c.records] == [("primary", "cooldown_skip"), ("backup", "ok")]
    assert len(_chat_requests(primary)) == 2  # skipped: not asked again while cooling down
    # Cooldowns belong to the router resource's state, not to the process: a new resource starts fresh.
    fresh = make_router(routes({"primary": dep, "backup": deployment(f"{backup.base_url}/v1")}, drafter=["primary", "backup"]))
    c = fresh.complete("drafter", PROMPT, ctx)
    assert [(r.deployment, r.outcome) for r in c.records][0] == ("primary", "server_error")
    assert len(_chat_requests(primary)) == 3


def test_records_go_to_the_call_log_without_content(router, ctx, primary, tmp_path):
    primary.queue_modes(Mode.HTTP_500, then=Mode.HEALTHY)
    c = router.complete("drafter", PromptSpec(system="SECRET-SYSTEM", user="SECRET-USER"), ctx)
    lines = (tmp_path / "calls.jsonl").read_text().splitlines()
    logged = [json.loads(line) for line in lines]
    assert [r["outcome"] for r in logged] == ["server_error", "ok"]
    ok = logged[-1]
    for key in ("case_id", "asset", "role", "model_config", "deployment", "provider", "attempt", "ttft_s",
                "prompt_eval_s", "generation_s", "tokens_per_s", "prompt_tokens", "completion_tokens",
                "context_used", "cost_usd"):
        assert key in ok, key
    assert ok["server_timings"] == "server"  # llama.cpp `timings` survived litellm's stream
    assert ok["model_config"] == "default" and ok["run_id"] == "run-1"
    text = "\n".join(lines)
    assert "SECRET" not in text and c.text not in text


def test_log_content_switch_puts_prompt_and_answer_in_records(make_router, ctx, primary):
    router = make_router(routes({"p": deployment(f"{primary.base_url}/v1")}, drafter=["p"]), log_content=True)
    c = router.complete("drafter", PromptSpec(system="S", user="VISIBLE"), ctx)
    assert c.records[-1].answer == c.text
    assert any("VISIBLE" in m["content"] for m in c.records[-1].prompt)


def test_concurrency_pool_per_server_serializes_calls(make_router, ctx):
    with OpenAIFaultServer(latency=Latency(first_token_s=0.2, gap_s=0.01, tokens=4)) as server:
        base = f"{server.base_url}/v1"
        # two deployments on one server share its pool (size 1)
        data = routes({"a": deployment(base, max_concurrency=1), "b": deployment(base, max_concurrency=1)},
                      drafter=["a"], judges=[["b"]] * 3)
        router = make_router(data)
        results: list[str] = []
        threads = [threading.Thread(target=lambda r=role: results.append(router.complete(r, PROMPT, ctx).deployment))
                   for role in ("drafter", "judge_1", "judge_2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert sorted(results) == ["a", "b", "b"]
        chats = sorted(server.requests_to("/chat/completions"), key=lambda r: r.received_at)
        for earlier, later in zip(chats, chats[1:]):
            assert later.received_at >= earlier.ended_at - 0.01  # never two at once on this server
