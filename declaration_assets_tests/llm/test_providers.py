"""Each provider family's adapter: what it adds to a request, how it counts tokens, what it reads from a stream."""

from __future__ import annotations

import pytest

from declaration_assets.llm.models import PromptSpec
from declaration_assets.llm.providers import adapter_for
from declaration_assets.llm.providers.base import ProviderAdapter
from declaration_assets.llm.providers.bedrock import BedrockAdapter
from declaration_assets.llm.providers.ollama import OllamaAdapter
from declaration_assets.llm.providers.openai_compatible import (LOCAL_PLACEHOLDER_KEY, TEMPLATE_TOKENS_PER_MESSAGE,
                                                                 OpenAICompatibleAdapter)
from declaration_assets.llm.providers.openrouter import OpenRouterAdapter
from declaration_assets.llm.providers.vllm import VLLMAdapter
from declaration_assets.llm.routing import Deployment
from declaration_assets.llm.tokens import TokenCounter
from declaration_assets.llm.transport import StreamResult
from declaration_assets_tests.support.fault_servers import OpenAIFaultServer, count_tokens

MESSAGES = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What happened in March?"}]
JSON_PROMPT = PromptSpec(system="s", user="u", json_mode=True, json_schema={"type": "object"})


def dep(model: str, **kw) -> Deployment:
    kw.setdefault("privacy", "local")
    if kw["privacy"] != "local":
        kw.setdefault("free", True)
    return Deployment(name="d", model=model, context_window=8192, **kw)


@pytest.mark.parametrize(("model", "extra", "family"), [
    ("ollama_chat/qwen3:8b", {}, OllamaAdapter), ("ollama/llama3", {}, OllamaAdapter),
    ("bedrock/converse/anthropic.claude", {"privacy": "private_cloud"}, BedrockAdapter),
    ("openrouter/acme/m", {"privacy": "external"}, OpenRouterAdapter),
    ("hosted_vllm/qwen", {}, VLLMAdapter), ("openai/qwen", {"tokenizer": "vllm"}, VLLMAdapter),
    ("openai/smollm2", {"tokenizer": "llamacpp"}, OpenAICompatibleAdapter),
    ("anthropic/claude", {"privacy": "external"}, ProviderAdapter),
])
def test_each_deployment_gets_its_familys_adapter(model, extra, family):
    assert type(adapter_for(dep(model, **extra))) is family


def test_ollama_sets_its_own_fields_and_a_num_ctx_sized_from_the_prompt():
    d = dep("ollama_chat/qwen3:8b", ollama={"options": {"num_gpu": 1}, "keep_alive": "5m", "min_num_ctx": 2048})
    adapter = adapter_for(d)
    num_ctx = adapter.num_ctx(3000, 512, d)
    assert num_ctx == 4096  # prompt plus answer, rounded up to 1024
    kw = adapter.request(d, MESSAGES, JSON_PROMPT, 512, num_ctx)
    assert (kw["num_ctx"], kw["num_gpu"], kw["think"], kw["keep_alive"]) == (4096, 1, False, "5m")
    assert kw["format"] == {"type": "object"}
    assert "response_format" not in kw and "stream_options" not in kw and "api_key" not in kw


def test_ollama_reads_its_final_object_for_timings_and_a_cut_prompt():
    d = dep("ollama_chat/qwen3:8b")
    final = {"prompt_eval_count": 3900, "eval_count": 40, "load_duration": 2e9, "prompt_eval_duration": 1e9,
             "eval_duration": 4e9}
    result = StreamResult(text="x", ttft_s=0.5, latency_s=5.0, server={"final": final})
    report = adapter_for(d).server_report(result)
    assert report.timing == {"load_s": 2.0, "prompt_eval_s": 1.0, "generation_s": 4.0, "tokens_per_s": 10.0}
    assert (report.prompt_tokens, report.completion_tokens) == (3900, 40)
    cut = adapter_for(d).prompt_cut(d, result, 4096, 512)  # 3900 + 512 > 4096: the prompt may have been cut
    assert (cut.evaluated, cut.grown) == (3900, 8192)
    assert adapter_for(d).prompt_cut(d, result, 8192, 512) is None


def test_openai_compatible_local_server_gets_a_placeholder_key_usage_and_llamacpp_json():
    d = dep("openai/smollm2", tokenizer="llamacpp", api_base="http://127.0.0.1:9/v1")
    kw = adapter_for(d).request(d, MESSAGES, JSON_PROMPT, 64, None)
    assert kw["api_key"] == LOCAL_PLACEHOLDER_KEY and kw["stream_options"] == {"include_usage": True}
    assert kw["response_format"] == {"type": "json_object", "schema": {"type": "object"}}
    assert "num_ctx" not in kw and "think" not in kw
    other = dep("anthropic/claude", privacy="external")
    kw = adapter_for(other).request(other, MESSAGES, JSON_PROMPT, 64, None)
    assert "api_key" not in kw and "stream_options" not in kw
    assert kw["response_format"]["type"] == "json_schema"


def test_llamacpp_timings_come_from_the_last_chunk():
    d = dep("openai/smollm2", tokenizer="llamacpp")
    result = StreamResult(text="x", ttft_s=0.1, latency_s=1.0,
                          server={"timings": {"prompt_ms": 250.0, "predicted_ms": 500.0, "predicted_per_second": 40.0}})
    assert adapter_for(d).server_report(result).timing == {"prompt_eval_s": 0.25, "generation_s": 0.5,
                                                            "tokens_per_s": 40.0}


def test_llamacpp_and_vllm_count_through_their_own_tokenizer_endpoints():
    counter = TokenCounter()
    with OpenAIFaultServer(flavor="llamacpp") as server:
        llama = dep("openai/fault-model", tokenizer="llamacpp", api_base=f"{server.base_url}/v1")
        count = counter.count_messages(llama, MESSAGES)
        assert count.exact
        assert count.tokens == sum(count_tokens(m["content"]) + TEMPLATE_TOKENS_PER_MESSAGE for m in MESSAGES)
        assert len(server.requests_to("/extras/tokenize")) == len(MESSAGES)
        vllm = dep("hosted_vllm/fault-model", tokenizer="vllm", api_base=f"{server.base_url}/v1")
        assert counter.count_messages(vllm, MESSAGES).exact
        (req,) = [r for r in server.requests if r.path == "/tokenize"]  # beside /v1, not under it
        assert req.body == {"model": "fault-model", "messages": MESSAGES}  # the chat template is applied there
    counter.close()


def test_families_without_a_tokenizer_estimate_with_their_margin():
    d = dep("ollama_chat/qwen3:8b", estimate_margin=0.5)
    count = TokenCounter().count_messages(d, MESSAGES)
    assert not count.exact and count.tokens > 0


def test_bedrock_and_openrouter():
    bedrock = dep("bedrock/converse/anthropic.claude", privacy="private_cloud")
    kw = adapter_for(bedrock).request(bedrock, MESSAGES, PromptSpec(system="s", user="u"), 64, None)
    assert kw["stream_options"] == {"include_usage": True} and "api_key" not in kw
    warm = adapter_for(bedrock).warm_up_request("bedrock")
    assert warm["aws_access_key_id"] == "warm-up" and warm["api_base"] == "http://127.0.0.1:9"  # never real creds
    router = dep("openrouter/acme/m", privacy="external")
    kw = adapter_for(router).request(router, MESSAGES, PromptSpec(system="s", user="u"), 64, None)
    assert kw["extra_body"] == {"provider": {"data_collection": "deny"}}
    assert adapter_for(router).warm_up_request("openrouter") is None
