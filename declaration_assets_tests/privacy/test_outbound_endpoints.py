"""An external deployment with a server tokenizer: no endpoint of it, the tokenizer included, ever sees case text.

The router counts tokens before sending. For `tokenizer: llamacpp` (`/extras/tokenize`) or `vllm` (`/tokenize`)
counting is itself a request to the deployment's server, so the prompt must be redacted before it is counted and
fitted, and evidence must still be droppable when the redacted prompt does not fit. The local fault server records
every request on every path.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from declaration_assets.llm.models import CallContext, PromptSpec
from declaration_assets.llm.resources import LLMRouter
from declaration_assets.privacy import gate as privacy_gate
from declaration_assets_tests.support.fault_servers import Latency, OpenAIFaultServer

from .cases import PLACEHOLDER, contains_ci, sample_record
from .test_external_route import sensitive_strings

CASE = "vawa-0001"


def _evidence(record) -> tuple[str, ...]:
    """Eight exhibits, each naming parties with their identifiers, in the order a retriever might rank them."""
    declarant, abuser = record.parties[0], record.parties[1]
    items = []
    for i in range(8):
        items.append(
            f"[Ex. {chr(65 + i)}, p. {i + 1}] On the night of March {i + 3}, 2019, {abuser.name} shouted at "
            f"{declarant.name} in the kitchen of {declarant.addresses[i % 2].street}, Houston. She called "
            f"{declarant.phones[i % 2]} and wrote to {declarant.emails[0]}; her A-number is {declarant.a_number} "
            f"and she was born on {declarant.date_of_birth.isoformat()}. Neighbours heard him say the visa "
            f"papers of {declarant.aliases[i % len(declarant.aliases)]} would never be signed."
        )
    return tuple(items)


def _routes(tmp_path, api_base: str, tokenizer: str, window: int):
    import yaml

    model = "hosted_vllm/fault-model" if tokenizer == "vllm" else "openai/fault-model"
    dep = {"model": model, "api_base": api_base, "api_key_env": "PRIVACY_TEST_KEY", "context_window": window,
           "privacy": "external", "free": True, "tokenizer": tokenizer, "retry": {"attempts": 0},
           "deadlines": {"total_s": 20, "first_token_s": 10, "stall_s": 10}}
    data = {"default": "default", "deployments": {"remote": dep},
            "model_configs": {"default": {"drafter": ["remote"], "judges": [["remote"]] * 3, "guard": ["remote"]}}}
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _state(monkeypatch, tmp_path):
    monkeypatch.setenv("PRIVACY_TEST_KEY", "test-key")
    monkeypatch.setattr("declaration_assets.privacy.settings.redaction_dir", lambda: tmp_path / "redaction")
    yield


@pytest.mark.parametrize(("tokenizer", "tokenize_path"), [("llamacpp", "/extras/tokenize"), ("vllm", "/tokenize")])
def test_no_sensitive_string_reaches_any_endpoint_tokenizer_included(tmp_path, monkeypatch, tokenizer, tokenize_path):
    record = sample_record(CASE)
    evidence = _evidence(record)
    prompt = PromptSpec(system=f"You write the declaration of {record.parties[0].name}.",
                        user=f"Write what {record.parties[1].name} did, citing:\n{{evidence}}", evidence=evidence,
                        max_tokens=32)
    needles = sensitive_strings(record, "\n".join(evidence))
    assert len(needles) > 20

    # Spies: how often the gate opens the case map and which texts its final check examines.
    opened: list[str] = []
    real_locked_map = privacy_gate.locked_map
    monkeypatch.setattr(privacy_gate, "locked_map", lambda *a, **k: (opened.append(a[0]), real_locked_map(*a, **k))[1])
    examined: list[str] = []
    real_find_leaks = privacy_gate.find_leaks
    monkeypatch.setattr(privacy_gate, "find_leaks", lambda text, rec: (examined.append(text), real_find_leaks(text, rec))[1])

    with OpenAIFaultServer(flavor="llamacpp", latency=Latency(first_token_s=0.0, gap_s=0.0, tokens=1),
                           reply="I, [PERSON_1], remember what [PERSON_2] did.") as server:
        # A window the whole prompt does not fit (llama.cpp: counted through the server), so evidence is dropped.
        window = 400 if tokenizer == "llamacpp" else 8192
        router = LLMRouter(routes_file=str(_routes(tmp_path, f"{server.base_url}/v1", tokenizer, window)),
                           call_log_path=str(tmp_path / "calls.jsonl"), use_cache=False)
        out = router.complete("drafter", prompt, CallContext(case_id=CASE, asset="draft", model_config="default",
                                                             case_record=record))

        paths = Counter(r.path for r in server.requests)
        tokenize = server.requests_to(tokenize_path)
        chats = server.requests_to("/chat/completions")
        assert tokenize and len(chats) == 1, paths
        for r in server.requests:  # every endpoint, every request
            body = json.dumps(r.body, ensure_ascii=False)
            for s in needles:
                assert not contains_ci(body, s), f"case text reached {r.path}"
        # The server did get the story, as placeholders, on the tokenizer as on the chat endpoint.
        assert any(PLACEHOLDER.search(json.dumps(r.body)) for r in tokenize)
        assert "[PERSON_2]" in json.dumps(chats[0].body)

    if tokenizer == "llamacpp":  # fitted as redacted: the lowest-ranked exhibits were dropped, the best kept
        assert out.evidence_used >= 1 and out.evidence_dropped >= 1
        assert out.evidence_used + out.evidence_dropped == len(evidence)
        sent = json.dumps(chats[0].body)
        assert "[Ex. A, p. 1]" in sent and f"[Ex. H, p. 8]" not in sent
    assert out.text == f"I, {record.parties[0].name}, remember what {record.parties[1].name} did."
    assert out.records[-1].outcome == "ok"
    # The gate ran once for the call: one map opening, and no text examined twice by the final check.
    assert opened == [CASE]
    assert examined and max(Counter(examined).values()) == 1
