"""The OpenAI-compatible fault server, driven by litellm itself and by raw HTTP."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx  # noqa: E402
import litellm  # noqa: E402
import pytest  # noqa: E402
from litellm.exceptions import MidStreamFallbackError  # noqa: E402

from declaration_assets_tests.support.fault_servers import (  # noqa: E402
    InOrder,
    Latency,
    Mode,
    OpenAIFaultServer,
    Weighted,
    count_tokens,
    prompt_tokens,
    token_ids,
    tokenize,
)

MESSAGES = [{"role": "system", "content": "You write declarations."}, {"role": "user", "content": "Say hello please"}]
FAST = Latency(first_token_s=0.02, gap_s=0.005, tokens=6)


def _complete(server: OpenAIFaultServer, **kwargs):
    params = dict(model="openai/fault-model", api_base=f"{server.base_url}/v1", api_key="none",
                  messages=MESSAGES, max_retries=0, timeout=5)
    params.update(kwargs)
    return litellm.completion(**params)


def _stream_text(server: OpenAIFaultServer, **kwargs) -> str:
    return "".join((c.choices[0].delta.content or "") for c in _complete(server, stream=True, **kwargs))


@pytest.fixture
def server():
    with OpenAIFaultServer(latency=FAST) as srv:
        yield srv


def test_tokenizer_is_deterministic_and_splits_long_words():
    assert tokenize("a declaration") == ["a", " decl", "arat", "ion"]
    assert count_tokens("a declaration") == 4
    assert token_ids("same text") == token_ids("same text")
    assert token_ids("same text") != token_ids("other text")
    assert prompt_tokens(MESSAGES) == count_tokens(MESSAGES[0]["content"]) + count_tokens(MESSAGES[1]["content"]) + 8


def test_healthy_non_stream_and_stream_through_litellm(server):
    response = _complete(server)
    assert response.choices[0].message.content == "w0 w1 w2 w3 w4 w5"
    assert response.usage.prompt_tokens == prompt_tokens(MESSAGES)
    assert response.usage.completion_tokens == 6
    assert _stream_text(server, stream_timeout=2) == "w0 w1 w2 w3 w4 w5"
    first, second = server.requests_to("/chat/completions")
    assert (first.stream, second.stream) == (False, True)
    assert first.body["messages"][1]["content"] == "Say hello please"
    # The client may hold the last bytes before the server's thread has counted the last chunk and recorded the
    # outcome: wait for the server to finish before reading either.
    assert first.wait_done(5.0) and second.wait_done(5.0)
    assert second.chunks_sent == 6 + 2  # six tokens, the final chunk, [DONE]
    assert {first.outcome, second.outcome} == {"completed"}


def test_max_tokens_cuts_the_answer_with_finish_reason_length(server):
    response = _complete(server, max_tokens=3)
    assert response.choices[0].message.content == "w0 w1 w2"
    assert response.choices[0].finish_reason == "length"


def test_raw_sse_stream_has_final_chunk_with_usage_timings_then_done(server):
    with httpx.stream("POST", f"{server.base_url}/v1/chat/completions", timeout=5,
                      json={"model": "m", "messages": MESSAGES, "stream": True}) as response:
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["transfer-encoding"] == "chunked"
        events = [line[len("data: "):] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    final = json.loads(events[-2])
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["usage"] == {"prompt_tokens": prompt_tokens(MESSAGES), "completion_tokens": 6,
                              "total_tokens": prompt_tokens(MESSAGES) + 6}
    assert final["timings"]["predicted_n"] == 6 and final["timings"]["predicted_ms"] > 0
    deltas = [json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-2]]
    assert "".join(deltas) == "w0 w1 w2 w3 w4 w5"


def test_models_and_tokenize_endpoints(server):
    assert httpx.get(f"{server.base_url}/v1/models").json()["data"][0]["id"] == "fault-model"
    tokens = httpx.post(f"{server.base_url}/extras/tokenize", json={"input": "Say hello please"}).json()["tokens"]
    assert tokens == token_ids("Say hello please") and len(tokens) == 5
    assert httpx.post(f"{server.base_url}/tokenize", json={"content": "Say hello"}).json()["tokens"] == token_ids("Say hello")


@pytest.mark.parametrize("mode, chunks_before_silence", [(Mode.HANG, 0), (Mode.STALL, 2)])
def test_stream_timeout_trips_on_hang_and_stall_within_deadline_plus_one_second(server, mode, chunks_before_silence):
    server.set_mode(mode)
    deadline = 0.6
    started = time.monotonic()
    with pytest.raises(litellm.Timeout):
        _stream_text(server, stream_timeout=deadline)
    elapsed = time.monotonic() - started
    assert deadline - 0.05 <= elapsed <= deadline + 2.0  # a hang without the timeout lasts until the server closes
    record = server.requests_to("/chat/completions")[-1]
    assert record.wait_done(2.0), "the server never noticed the client going away"
    assert record.mode is mode
    assert record.outcome == "client_disconnected"
    assert record.chunks_sent == chunks_before_silence


def test_non_stream_stall_sends_half_a_body_then_times_out(server):
    server.set_mode(Mode.STALL)
    started = time.monotonic()
    with pytest.raises(litellm.Timeout):
        _complete(server, timeout=0.6)
    assert time.monotonic() - started < 0.6 + 2.0
    record = server.requests_to("/chat/completions")[-1]
    assert record.first_byte_at is not None and record.wait_done(2.0)


def test_trickle_never_trips_the_stream_timeout():
    with OpenAIFaultServer(latency=Latency(tokens=3), mode=Mode.TRICKLE, trickle_interval_s=0.3) as srv:
        started = time.monotonic()
        assert _stream_text(srv, stream_timeout=0.6) == "w0 w1 w2"
        assert time.monotonic() - started >= 0.85  # three tokens, 0.3 s apart: longer than the stream timeout


@pytest.mark.parametrize(
    "mode, stream, error",
    [
        (Mode.HTTP_429, False, litellm.RateLimitError),
        (Mode.HTTP_500, True, litellm.InternalServerError),
        (Mode.HTTP_503, False, litellm.ServiceUnavailableError),
        (Mode.DROP, False, litellm.InternalServerError),  # litellm reports "Connection error."
        (Mode.DROP, True, litellm.InternalServerError),
        (Mode.MALFORMED, False, litellm.InternalServerError),
        (Mode.MALFORMED, True, MidStreamFallbackError),
        (Mode.CONTEXT_OVERFLOW, False, litellm.ContextWindowExceededError),
    ],
)
def test_fault_modes_surface_as_litellm_errors(server, mode, stream, error):
    server.set_mode(mode)
    with pytest.raises(error):
        if stream:
            _stream_text(server, stream_timeout=2)
        else:
            _complete(server)
    record = server.requests_to("/chat/completions")[-1]
    assert record.wait_done(2.0)
    expected = {Mode.DROP: "dropped", Mode.MALFORMED: "malformed"}.get(mode, "http_error")
    assert record.outcome == expected


def test_429_and_503_carry_retry_after(server):
    server.retry_after_s = 7
    server.queue_modes(Mode.HTTP_429, Mode.HTTP_503)
    for status in (429, 503):
        response = httpx.post(f"{server.base_url}/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
        assert response.status_code == status and response.headers["retry-after"] == "7"
    assert httpx.post(f"{server.base_url}/v1/chat/completions", json={"model": "m", "messages": MESSAGES}).status_code == 200


@pytest.mark.parametrize("flavor, marker", [("llamacpp", "exceed_context_size_error"), ("openai", "context_length_exceeded")])
def test_prompt_beyond_the_context_window_gets_the_real_400(flavor, marker):
    long_prompt = [{"role": "user", "content": "evidence " * 60}]
    with OpenAIFaultServer(flavor=flavor, context_window=50, latency=FAST) as srv:
        assert _complete(srv, messages=[{"role": "user", "content": "short"}]).choices[0].message.content
        with pytest.raises(litellm.ContextWindowExceededError):
            _complete(srv, messages=long_prompt)
        raw = httpx.post(f"{srv.base_url}/v1/chat/completions", json={"model": "m", "messages": long_prompt})
        assert raw.status_code == 400
        assert marker in raw.text


def test_schedules_in_order_and_seeded_weighted():
    order = InOrder([Mode.HANG, Mode.HTTP_500])
    assert [order.next_mode() for _ in range(4)] == [Mode.HANG, Mode.HTTP_500, Mode.HEALTHY, Mode.HEALTHY]
    draws = [Weighted({Mode.HANG: 0.4, Mode.STALL: 0.1}, seed=3).next_mode() for _ in range(1)]
    a = Weighted({Mode.HANG: 0.4, Mode.STALL: 0.1}, seed=3)
    b = Weighted({Mode.HANG: 0.4, Mode.STALL: 0.1}, seed=3)
    seq_a = [a.next_mode() for _ in range(1000)]
    assert seq_a == [b.next_mode() for _ in range(1000)] and draws[0] == seq_a[0]
    assert 0.35 < seq_a.count(Mode.HANG) / 1000 < 0.45
    assert 0.07 < seq_a.count(Mode.STALL) / 1000 < 0.13
    with pytest.raises(ValueError):
        Weighted({Mode.HANG: 0.8, Mode.STALL: 0.3})


def test_requests_are_served_concurrently_while_others_hang(server):
    server.queue_modes(Mode.HANG, Mode.HANG, Mode.HANG)
    errors: list[BaseException] = []

    def hung_call() -> None:
        try:
            httpx.post(f"{server.base_url}/v1/chat/completions", json={"model": "m", "messages": MESSAGES}, timeout=3)
        except BaseException as exc:  # noqa: BLE001 - the timeout is the expected end
            errors.append(exc)

    threads = [threading.Thread(target=hung_call, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    server.wait_for_requests(3, timeout=2)
    started = time.monotonic()
    assert _complete(server).choices[0].message.content == "w0 w1 w2 w3 w4 w5"
    assert time.monotonic() - started < 2.5  # not queued behind the hung handlers (they wait until close)
    server.close()  # wakes the hung handlers
    for t in threads:
        t.join(timeout=5)
    assert len(errors) == 3
    hung = [r for r in server.requests if r.mode is Mode.HANG]
    assert len(hung) == 3 and all(r.outcome == "server_closed" for r in hung)


def test_close_returns_promptly_with_a_hung_client_still_connected():
    srv = OpenAIFaultServer(mode=Mode.HANG).start()
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        body = json.dumps({"model": "m", "messages": MESSAGES}).encode()
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        srv.wait_for_requests(1, timeout=2)
        started = time.monotonic()
        srv.close()
        assert time.monotonic() - started < 2.5  # the hung client would otherwise hold it for ever
        assert sock.recv(100) == b""  # the server closed the connection without answering
        record = srv.requests[0]
        assert record.wait_done(2.0) and record.outcome == "server_closed" and record.status is None
    finally:
        sock.close()


def test_openrouter_flavor_records_provider_preferences():
    with OpenAIFaultServer(flavor="openrouter", latency=FAST) as srv:
        response = litellm.completion(
            model="openrouter/meta-llama/llama-3.1-8b-instruct", api_base=f"{srv.base_url}/api/v1",
            api_key="sk-or-test", messages=MESSAGES, max_retries=0, timeout=5,
            extra_body={"provider": {"data_collection": "deny", "allow_fallbacks": False}},
        )
        assert response.choices[0].message.content == "w0 w1 w2 w3 w4 w5"
        record = srv.requests_to("/chat/completions")[-1]
        assert record.path == "/api/v1/chat/completions"
        assert record.body["provider"] == {"data_collection": "deny", "allow_fallbacks": False}
        assert record.headers["authorization"] == "Bearer sk-or-test"
