"""Against the real embedded llama.cpp server (SmolLM2-135M): exact counts, records, evidence fitting."""

from __future__ import annotations

import pytest

from declaration_assets.llm.models import CallContext, PromptSpec
from declaration_assets.llm.resources import LLMRouter
from declaration_assets.llm.routing_file import PACKAGED_ROUTES

from .conftest import deployment, routes

pytestmark = pytest.mark.embedded

EVIDENCE = tuple(
    f"[Ex. {chr(65 + i)}, p. {i + 1}] On March {i + 1}, 2021 my husband shouted at me and took my passport." * 3
    for i in range(12)
)


def test_packaged_routes_answer_with_exact_counts_and_a_full_record(embedded_api_base, tmp_path):
    router = LLMRouter(routes_file=str(PACKAGED_ROUTES), call_log_path=str(tmp_path / "calls.jsonl"), use_cache=False)
    ctx = CallContext(case_id="vawa-0001", asset="draft", model_config="default", run_id="emb")
    c = router.complete("drafter", PromptSpec(system="You are brief.", user="Say hello in five words.", max_tokens=24), ctx)
    assert c.text.strip() and c.deployment == "embedded"
    rec = c.records[-1]
    assert rec.outcome == "ok" and rec.token_count == "exact"
    # our count (tokenizer + template allowance) never undercounts what the server evaluated
    assert rec.prompt_tokens_counted >= rec.prompt_tokens > 0
    assert rec.prompt_tokens_counted - rec.prompt_tokens <= 16
    assert rec.ttft_s > 0 and rec.tokens_per_s > 0 and 0 < rec.completion_tokens <= 24


def test_small_window_drops_evidence_and_the_server_never_overflows(embedded_api_base, make_router):
    dep = deployment(embedded_api_base, model="openai/smollm2-135m-instruct", window=700, tokenizer="llamacpp",
                     total=120, first=60, stall=20)
    router = make_router(routes({"embedded": dep}, drafter=["embedded"]))
    prompt = PromptSpec(system="Summarize.", user="Evidence:\n{evidence}\nOne sentence.", evidence=EVIDENCE, max_tokens=32)
    c = router.complete("drafter", prompt, CallContext(case_id="vawa-0001", asset="draft", model_config="default"))
    rec = c.records[-1]
    assert rec.outcome == "ok"
    assert 0 < c.evidence_used < len(EVIDENCE) and c.evidence_dropped == len(EVIDENCE) - c.evidence_used
    assert rec.prompt_tokens + 32 <= 700  # the real server's count: the prompt fit
