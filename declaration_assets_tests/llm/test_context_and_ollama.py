"""Context fitting (exact counts, dropped evidence, larger-window fallback, clear errors) and Ollama care
(num_ctx, thinking off, server timings, unloading on memory-bound servers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from declaration_assets.llm.models import LLMFailure, PromptSpec
from declaration_assets.llm.routing import Deployment
from declaration_assets.llm.providers.ollama import ollama_num_ctx
from declaration_assets.text import strip_thinking
from declaration_assets_tests.support.fault_servers import Latency, OllamaFaultServer, OpenAIFaultServer

from .conftest import deployment, routes

# Ten evidence items of 60 short words each: ~60 toy tokens apiece, best-ranked first.
EVIDENCE = tuple(f"[Ex. {chr(65 + i)}, p. 1] " + " ".join(["the", "abuse", "was", "bad"] * 15) for i in range(10))
PROMPT = PromptSpec(system="Write the section.", user="Evidence:\n{evidence}\nWrite.", evidence=EVIDENCE, max_tokens=64)


@pytest.fixture
def small() -> Iterator[OpenAIFaultServer]:
    with OpenAIFaultServer(context_window=400, latency=Latency(tokens=5)) as s:
        yield s


@pytest.fixture
def large() -> Iterator[OpenAIFaultServer]:
    with OpenAIFaultServer(context_window=4000, latency=Latency(tokens=5), reply="from the large one") as s:
        yield s


def _sent_evidence(server: OpenAIFaultServer) -> list[str]:
    (req,) = server.requests_to("/chat/completions")
    user = req.body["messages"][1]["content"]
    return [e for e in EVIDENCE if e in user]


def test_evidence_is_dropped_lowest_ranked_first_and_recorded(make_router, ctx, small):
    router = make_router(routes({"s": deployment(f"{small.base_url}/v1", window=400, tokenizer="llamacpp")}, drafter=["s"]))
    c = router.complete("drafter", PROMPT, ctx)
    sent = _sent_evidence(small)
    assert 1 <= len(sent) < len(EVIDENCE)
    assert sent == list(EVIDENCE[: len(sent)])  # a best-first prefix
    assert (c.evidence_used, c.evidence_dropped) == (len(sent), len(EVIDENCE) - len(sent))
    rec = c.records[-1]
    assert rec.token_count == "exact" and rec.evidence_dropped == len(EVIDENCE) - len(sent)
    (req,) = small.requests_to("/chat/completions")
    # the server's own count agrees that it fits: nothing was cut on the server side
    assert req.prompt_tokens + PROMPT.max_tokens <= 400
    assert rec.prompt_tokens_counted >= req.prompt_tokens


def test_estimated_counts_carry_a_margin_and_say_so(make_router, ctx, large):
    router = make_router(routes({"l": deployment(f"{large.base_url}/v1", window=4000, estimate_margin=0.2)}, drafter=["l"]))
    c = router.complete("drafter", PROMPT, ctx)
    rec = c.records[-1]
    assert rec.token_count == "estimate"
    assert rec.evidence_dropped == 0


def test_prompt_that_fits_nowhere_small_goes_to_the_larger_window(make_router, ctx, small, large):
    big_first = PromptSpec(system="s", user="{evidence}", evidence=(" ".join(["word"] * 500), *EVIDENCE[:2]), max_tokens=64)
    data = routes({"s": deployment(f"{small.base_url}/v1", window=400, tokenizer="llamacpp"),
                   "l": deployment(f"{large.base_url}/v1", window=4000, tokenizer="llamacpp")}, drafter=["s", "l"])
    c = make_router(data).complete("drafter", big_first, ctx)
    assert c.text == "from the large one" and c.evidence_dropped == 0
    assert [r.outcome for r in c.records] == ["context_too_small", "ok"]
    assert small.requests_to("/chat/completions") == []  # never sent to be cut


def test_prompt_that_fits_nowhere_is_a_clear_error(make_router, ctx, small):
    too_big = PromptSpec(system="s", user=" ".join(["word"] * 800), max_tokens=64)
    router = make_router(routes({"s": deployment(f"{small.base_url}/v1", window=400, tokenizer="llamacpp")}, drafter=["s"]))
    with pytest.raises(LLMFailure, match=r"context_too_small .*does not fit 400 tokens"):
        router.complete("drafter", too_big, ctx)


def test_num_ctx_rounding_and_cap() -> None:
    dep = Deployment(name="o", model="ollama_chat/x", context_window=8192, privacy="local")
    assert ollama_num_ctx(100, 200, dep) == 2048  # the minimum
    assert ollama_num_ctx(2000, 512, dep) == 3072  # rounded up to 1024
    assert ollama_num_ctx(9000, 512, dep) == 8192  # capped at the window


def test_think_blocks_are_stripped() -> None:
    assert strip_thinking("<think>hmm\nmore</think>\nAnswer.") == "Answer."
    assert strip_thinking("Answer.<think>never closed") == "Answer."
    assert strip_thinking("Plain answer.") == "Plain answer."


# --- Ollama -----------------------------------------------------------------------------------------------------

def _ollama_dep(server: OllamaFaultServer, model: str, **ollama: object) -> dict:
    return deployment(server.base_url, model=f"ollama_chat/{model}", window=8192, total=10, first=5, stall=2,
                      ollama={"unload_wait_s": 3, **ollama})


def test_ollama_num_ctx_fits_prompt_thinking_off_and_timings_recorded(make_router, ctx):
    with OllamaFaultServer(models={"qwen3:8b": 5_000_000_000}, load_s=0.2, think_text="long musing",
                           latency=Latency(tokens=5)) as server:
        router = make_router(routes({"q": _ollama_dep(server, "qwen3:8b")}, drafter=["q"]))
        long_prompt = PromptSpec(system="s", user="{evidence}", evidence=EVIDENCE * 5, max_tokens=128)
        c = router.complete("drafter", long_prompt, ctx)
        (req,) = server.requests_to("/api/chat")
        assert req.body["think"] is False
        assert req.num_ctx is not None and req.num_ctx >= req.prompt_tokens + 128
        assert not req.truncated and c.text != OllamaFaultServer.TRUNCATED
        assert "<think>" not in c.text and "musing" not in c.text
        rec = c.records[-1]
        assert rec.num_ctx == req.num_ctx
        assert rec.load_s == pytest.approx(0.2, abs=0.15)
        assert rec.prompt_eval_s is not None and rec.generation_s is not None
        assert rec.server_timings == "server"
        assert rec.server_memory_bytes == 5_000_000_000  # size_vram from /api/ps


def test_ollama_prompt_cut_is_detected_and_asked_again_with_more_context(make_router, ctx):
    # Long words: the estimate (tiktoken-like) is far below what this server's tokenizer counts.
    words = PromptSpec(system="s", user=" ".join(["extraordinarily"] * 700), max_tokens=64)
    with OllamaFaultServer(models={"m:1b": 10**9}, latency=Latency(tokens=5)) as server:
        router = make_router(routes({"o": _ollama_dep(server, "m:1b")}, drafter=["o"]))
        c = router.complete("drafter", words, ctx)
        first, second = server.requests_to("/api/chat")
        assert first.truncated and not second.truncated
        assert second.num_ctx > first.num_ctx
        assert [r.outcome for r in c.records] == ["context_overflow", "ok"]
        assert c.text != OllamaFaultServer.TRUNCATED


def test_memory_bound_server_unloads_the_previous_model_first(make_router, ctx):
    models = {"big:8b": 5_000_000_000, "small:3b": 2_000_000_000}
    with OllamaFaultServer(models=models, memory_bytes=6_000_000_000, unload_delay_s=0.3,
                           latency=Latency(tokens=3)) as server:
        data = routes({"big": _ollama_dep(server, "big:8b", memory_bound=True),
                       "small": _ollama_dep(server, "small:3b", memory_bound=True)},
                      drafter=["big"], judges=[["small"]] * 3)
        router = make_router(data)
        router.complete("drafter", PromptSpec(system="s", user="hi"), ctx)
        assert server.loaded_models() == ["big:8b"]
        c = router.complete("judge_1", PromptSpec(system="s", user="hi"), ctx)
        assert c.records[-1].outcome == "ok"
        calls = [r for r in server.requests if r.path != "/api/ps"]
        paths = [(r.path, (r.body or {}).get("model"), (r.body or {}).get("keep_alive")) for r in calls]
        unload = calls[paths.index(("/api/generate", "big:8b", 0))]
        second_chat = server.requests_to("/api/chat")[-1]
        assert unload.index < second_chat.index
        # the second chat was sent only after /api/ps stopped listing the first model
        ps_after_unload = [r for r in server.requests if r.path == "/api/ps" and unload.index < r.index < second_chat.index]
        assert ps_after_unload, "release was not verified through /api/ps"
        assert server.loaded_models() == ["small:3b"]
        assert c.records[-1].server_memory_bytes == 2_000_000_000


def test_without_memory_bound_nothing_is_unloaded(make_router, ctx):
    with OllamaFaultServer(models={"a:1b": 10**9, "b:1b": 10**9}, latency=Latency(tokens=3)) as server:
        data = routes({"a": _ollama_dep(server, "a:1b"), "b": _ollama_dep(server, "b:1b")},
                      drafter=["a"], judges=[["b"]] * 3)
        router = make_router(data)
        router.complete("drafter", PromptSpec(system="s", user="hi"), ctx)
        router.complete("judge_1", PromptSpec(system="s", user="hi"), ctx)
        assert server.loaded_models() == ["a:1b", "b:1b"]
        assert not any(r.path == "/api/generate" for r in server.requests)
