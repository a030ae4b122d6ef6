"""The Ollama fault server, driven by litellm (`ollama_chat/...`, `ollama/...`) and by raw HTTP."""

from __future__ import annotations

import json
import os
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx  # noqa: E402
import litellm  # noqa: E402
import pytest  # noqa: E402

from declaration_assets_tests.support.fault_servers import Latency, Mode, OllamaFaultServer, prompt_tokens  # noqa: E402

MODEL = "llama3.2:3b"
MESSAGES = [{"role": "user", "content": "Say hello please"}]
FAST = Latency(first_token_s=0.02, gap_s=0.005, tokens=6)
GIB = 1024**3


def _chat(server: OllamaFaultServer, **kwargs):
    params = dict(model=f"ollama_chat/{MODEL}", api_base=server.base_url, messages=MESSAGES, timeout=5)
    params.update(kwargs)
    return litellm.completion(**params)


def _stream_text(server: OllamaFaultServer, **kwargs) -> str:
    return "".join((c.choices[0].delta.content or "") for c in _chat(server, stream=True, **kwargs))


def _wait_until(predicate, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def server():
    with OllamaFaultServer(latency=FAST, load_s=0.15) as srv:
        yield srv


def test_chat_non_stream_and_stream_through_litellm_record_num_ctx(server):
    response = _chat(server, num_ctx=4096)
    assert response.choices[0].message.content == "w0 w1 w2 w3 w4 w5"
    assert response.usage.prompt_tokens == prompt_tokens(MESSAGES)
    assert response.usage.completion_tokens == 6
    assert _stream_text(server, stream_timeout=2) == "w0 w1 w2 w3 w4 w5"
    first, second = server.requests_to("/api/chat")
    assert first.num_ctx == 4096 and first.stream is False
    assert second.num_ctx is None and second.stream is True  # litellm sends no num_ctx unless asked
    assert second.wait_done(5.0)  # the client may hold the last object before the server has counted it
    assert second.chunks_sent == 6 + 1  # six tokens and the final stats object


def test_final_object_reports_load_prompt_and_eval_durations(server):
    def final(stream: bool) -> dict:
        with httpx.stream("POST", f"{server.base_url}/api/chat", timeout=5,
                          json={"model": MODEL, "messages": MESSAGES, "stream": stream}) as response:
            lines = [json.loads(line) for line in response.iter_lines() if line]
        assert lines[-1]["done"] is True and all(not line["done"] for line in lines[:-1])
        return lines[-1]

    cold = final(stream=True)
    warm = final(stream=False)
    assert cold["load_duration"] >= 0.14e9  # the first call loaded the model
    assert warm["load_duration"] < 0.05e9
    for stats in (cold, warm):
        assert stats["prompt_eval_count"] == prompt_tokens(MESSAGES)
        assert stats["eval_count"] == 6
        assert stats["total_duration"] >= stats["load_duration"] + stats["prompt_eval_duration"] + stats["eval_duration"] * 0.9
        assert stats["prompt_eval_duration"] >= 0.015e9  # first_token_s
    assert warm["message"]["content"] == "w0 w1 w2 w3 w4 w5"


def test_prompt_beyond_num_ctx_is_truncated_unless_num_ctx_is_sized(server):
    long_messages = [{"role": "user", "content": "evidence " * 3000}]
    assert _chat(server, messages=long_messages).choices[0].message.content == OllamaFaultServer.TRUNCATED
    assert server.requests_to("/api/chat")[-1].truncated
    sized = _chat(server, messages=long_messages, num_ctx=prompt_tokens(long_messages) + 512)
    assert sized.choices[0].message.content == "w0 w1 w2 w3 w4 w5"
    record = server.requests_to("/api/chat")[-1]
    assert not record.truncated and record.num_ctx == prompt_tokens(long_messages) + 512


def test_ps_lists_loaded_model_and_keep_alive_zero_unloads_after_a_delay():
    with OllamaFaultServer(latency=FAST, unload_delay_s=0.3, vram_fraction=0.5) as srv:
        assert httpx.get(f"{srv.base_url}/api/ps").json() == {"models": []}
        _chat(srv)
        (loaded,) = httpx.get(f"{srv.base_url}/api/ps").json()["models"]
        assert loaded["name"] == MODEL and loaded["size_vram"] == loaded["size"] // 2
        answer = httpx.post(f"{srv.base_url}/api/generate", json={"model": MODEL, "keep_alive": 0}).json()
        assert answer["done_reason"] == "unload"
        asked = time.monotonic()
        assert [m["name"] for m in httpx.get(f"{srv.base_url}/api/ps").json()["models"]] == [MODEL]  # not yet
        assert _wait_until(lambda: httpx.get(f"{srv.base_url}/api/ps").json()["models"] == [])
        assert time.monotonic() - asked >= 0.28
        assert srv.requests_to("/api/generate")[0].mode is None  # an unload is not a generation: no fault applies


def test_memory_bound_server_refuses_a_second_model_until_the_first_is_released():
    models = {"qwen3:8b": 5 * GIB, "llama3.2:3b": 2 * GIB}
    with OllamaFaultServer(models=models, memory_bytes=6 * GIB, latency=FAST) as srv:
        _chat(srv, model="ollama_chat/qwen3:8b")
        with pytest.raises(litellm.InternalServerError, match="more system memory"):
            _chat(srv)
        httpx.post(f"{srv.base_url}/api/generate", json={"model": "qwen3:8b", "keep_alive": "0s"})
        assert _wait_until(lambda: srv.loaded_models() == [])
        assert _chat(srv).choices[0].message.content == "w0 w1 w2 w3 w4 w5"
        assert srv.loaded_models() == [MODEL]


@pytest.mark.parametrize("mode, chunks_before_silence", [(Mode.HANG, 0), (Mode.STALL, 2)])
def test_stream_timeout_trips_on_hang_and_stall_and_closes_the_connection(server, mode, chunks_before_silence):
    server.set_mode(mode)
    deadline = 0.6
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        _stream_text(server, stream_timeout=deadline)
    elapsed = time.monotonic() - started
    assert deadline - 0.05 <= elapsed <= deadline + 2.0
    error = caught.value
    # A stall after the first chunk surfaces as MidStreamFallbackError wrapping the Timeout.
    assert isinstance(error, litellm.Timeout) or isinstance(getattr(error, "original_exception", None), litellm.Timeout)
    record = server.requests_to("/api/chat")[-1]
    assert record.wait_done(2.0) and record.outcome == "client_disconnected"
    assert record.chunks_sent == chunks_before_silence


@pytest.mark.parametrize(
    "mode, stream, error",
    [
        (Mode.HTTP_429, False, litellm.RateLimitError),
        (Mode.HTTP_500, True, litellm.InternalServerError),
        (Mode.HTTP_503, False, litellm.ServiceUnavailableError),
        (Mode.DROP, False, litellm.APIConnectionError),
        (Mode.DROP, True, litellm.APIConnectionError),
        (Mode.MALFORMED, False, litellm.APIConnectionError),
    ],
)
def test_fault_modes_surface_as_litellm_errors(server, mode, stream, error):
    server.set_mode(mode)
    with pytest.raises(error):
        if stream:
            _stream_text(server, stream_timeout=2)
        else:
            _chat(server)
    record = server.requests_to("/api/chat")[-1]
    assert record.wait_done(2.0)
    assert record.outcome == {Mode.DROP: "dropped", Mode.MALFORMED: "malformed"}.get(mode, "http_error")


def test_litellm_skips_a_broken_ndjson_line_silently(server):
    """Canary: litellm 1.110 drops an unparseable stream line without an error, so a stream's text can lose
    content unnoticed; the server's record is the only trace."""
    server.set_mode(Mode.MALFORMED)
    assert _stream_text(server, stream_timeout=2) == "w0 w1 w2 w3 w4 w5"
    assert server.requests_to("/api/chat")[-1].outcome == "malformed"


def test_thinking_follows_the_think_flag():
    with OllamaFaultServer(latency=FAST, think_text="let me ponder") as srv:
        inline = httpx.post(f"{srv.base_url}/api/chat", json={"model": MODEL, "messages": MESSAGES, "stream": False})
        assert inline.json()["message"]["content"] == "<think>let me ponder</think> w0 w1 w2 w3 w4 w5"
        parsed = _chat(srv).choices[0].message  # litellm moves an inline <think> block to reasoning_content
        assert "think" not in srv.requests_to("/api/chat")[-1].body and "<think>" not in parsed.content
        assert parsed.reasoning_content == "let me ponder"
        off = _chat(srv, reasoning_effort="none").choices[0].message.content
        assert srv.requests_to("/api/chat")[-1].body["think"] is False and off == "w0 w1 w2 w3 w4 w5"
        raw = httpx.post(f"{srv.base_url}/api/chat", json={"model": MODEL, "messages": MESSAGES, "stream": False,
                                                          "think": True}).json()
        assert raw["message"] == {"role": "assistant", "content": "w0 w1 w2 w3 w4 w5", "thinking": "let me ponder"}


def test_generate_tags_show_and_unknown_model(server):
    response = litellm.completion(model=f"ollama/{MODEL}", api_base=server.base_url, messages=MESSAGES, timeout=5)
    assert response.choices[0].message.content == "w0 w1 w2 w3 w4 w5"
    assert server.requests_to("/api/generate")[-1].body["prompt"]
    assert [m["name"] for m in httpx.get(f"{server.base_url}/api/tags").json()["models"]] == [MODEL]
    show = httpx.post(f"{server.base_url}/api/show", json={"model": MODEL}).json()
    assert show["model_info"]["llama.context_length"] == 8192
    with pytest.raises(litellm.NotFoundError, match="not found"):
        _chat(server, model="ollama_chat/missing:1b")
