"""End to end: the three sample cases through `extracted_text`, `chunk_index`, `draft` and `judge_scores` with
the real LLMRouter on a routing file whose every deployment is `external`, served by a local OpenAI-compatible
server that records every request body and echoes placeholders back. Nothing sensitive may reach the server;
the assets must hold the real names again; the call log and the run's log messages must hold no case text.

PDF extraction uses the project's extraction cache (settings.current().cache_dir/extraction): the first run OCRs the
scanned exhibits (about a minute on two cores), later runs read the cache.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import dagster as dg
import pytest
import yaml

from declaration_assets import settings
from declaration_assets.cases.models import CaseRecord
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.drafting.assets import draft
from declaration_assets.drafting.models import Draft
from declaration_assets.cases.assets import case_record
from declaration_assets.extraction.assets import extracted_text
from declaration_assets.judging.assets import judge_scores
from declaration_assets.judging.models import CRITERIA, JudgeScores
from declaration_assets.llm.models import CallContext, PromptSpec
from declaration_assets.llm.resources import LLMRouter
from declaration_assets.llm.routing import load_routes
from declaration_assets.privacy.catalog import dob_strings
from declaration_assets.privacy.text import fold
from declaration_assets.retrieval.assets import chunk_index
from declaration_assets.retrieval.embeddings import Embedder
from declaration_assets_tests.support.fault_servers import Latency, OpenAIFaultServer

from .cases import PLACEHOLDER, SAMPLE_CASES, contains_ci, sample_record

CITATION = re.compile(r"\[Ex\. [A-Z]+, p\. \d+\]")
# Independent of the redaction code: what a reviewer would grep the documents for.
DOC_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
DOC_PHONE = re.compile(r"\(?\b\d{3}\)?[ .-]\d{3}-\d{4}\b")
DOC_A_NUMBER = re.compile(r"\bA-?\d{3}-?\d{3}-?\d{3}\b")


def answer(rec) -> str:
    """Drafter: an echo of the first redacted note of the prompt's evidence (after the prompt's worked example,
    cut at a word boundary, so every name and number in it is grounded), then a first-person sentence naming
    person 2 (one naming the declarant herself would be dropped: her own name marks another writer's voice). Judge (JSON mode): rubric scores whose reasons name the placeholders (slightly altered, as
    models do)."""
    body = rec.body or {}
    messages = body.get("messages") or []
    user = str(messages[-1]["content"]) if messages else ""
    if body.get("response_format"):
        return json.dumps({**{c: 4 for c in CRITERIA}, "reasons": "[Person 1]'s account of PERSON_2 is cited."})
    notes = user.split("Now my notes", 1)[-1]
    label = (CITATION.findall(notes) or ["[Ex. A, p. 1]"])[0]
    echo = ""
    for line in notes.splitlines():
        if PLACEHOLDER.search(line) and len(line) > 40:
            found = CITATION.search(line)
            label = found.group(0) if found else label
            text = " ".join(CITATION.sub(" ", line).removeprefix("Note:").split())
            echo = text if len(text) <= 240 else text[:240].rsplit(" ", 1)[0]
            break
    return f"I recall this: {echo} {label}. I lived with [PERSON_2] {label}."


def routing_file(path: Path, api_base: str, *, redaction: bool | None = None) -> Path:
    dep = {"model": "openai/remote-model", "api_base": api_base, "api_key_env": "PRIVACY_TEST_KEY",
           "context_window": 16384, "privacy": "external", "free": True, "tokenizer": "estimate", "max_concurrency": 4,
           "deadlines": {"total_s": 30, "first_token_s": 10, "stall_s": 10},
           "retry": {"attempts": 0}, "cooldown": {"after_failures": 50, "seconds": 1}}
    if redaction is not None:
        dep["redaction"] = redaction
    routes = {"default": "default", "deployments": {"remote": dep},
              "model_configs": {"default": {"drafter": ["remote"], "judges": [["remote"]] * 3, "guard": ["remote"]}}}
    path.write_text(yaml.safe_dump(routes), encoding="utf-8")
    return path


def sensitive_strings(record: CaseRecord, document_text: str) -> set[str]:
    out = set(record.sensitive_strings())
    out |= {fold(s) for s in out}  # unaccented spellings too
    for p in record.parties:
        if p.date_of_birth:
            out |= set(dob_strings(p.date_of_birth))
    for rx in (DOC_EMAIL, DOC_PHONE, DOC_A_NUMBER):
        out |= set(rx.findall(document_text))
    return {s for s in out if len(s) >= 3}


@pytest.fixture()
def server():
    with OpenAIFaultServer(flavor="openai", latency=Latency(first_token_s=0.0, gap_s=0.0, tokens=1),
                           reply=answer) as s:
        yield s


@pytest.fixture(autouse=True)
def _fresh_router_state(monkeypatch, tmp_path):
    monkeypatch.setenv("PRIVACY_TEST_KEY", "test-key")
    monkeypatch.setattr("declaration_assets.privacy.settings.redaction_dir", lambda: tmp_path / "redaction")
    yield


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()  # the project's embedding cache: unchanged chunks are not embedded twice


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("case_id", SAMPLE_CASES)
def test_sample_case_through_an_external_route_leaks_nothing(case_id, server, tmp_path, embedder):
    record = sample_record(case_id)
    call_log = tmp_path / "calls.jsonl"
    router = LLMRouter(routes_file=str(routing_file(tmp_path / "routes.yaml", f"{server.base_url}/v1")),
                       call_log_path=str(call_log), use_cache=False)
    resources = {
        "io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path / "io")),
        "llm": router,
        "embedder": embedder,
        "case_storage": LocalCaseStorage(roots=[str(settings.current().project_root / "data" / "cases")]),
    }
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cases", [case_id])
    assets = [case_record, extracted_text, chunk_index, draft, judge_scores]
    ingest = dg.materialize(assets, selection=[case_record, extracted_text, chunk_index], partition_key=case_id,
                            instance=instance, resources=resources)
    assert ingest.success
    capture = _Capture()
    logging.getLogger().addHandler(capture)
    try:
        result = dg.materialize(
            assets, selection=[draft, judge_scores], instance=instance, resources=resources,
            partition_key=dg.MultiPartitionKey({"case": case_id, "model": "default"}),
            run_config={"ops": {"draft": {"config": {"evidence_per_element": 2, "evidence_per_call": 2}}}},
        )
    finally:
        logging.getLogger().removeHandler(capture)
    assert result.success

    # 1. Nothing sensitive reached the server, yet it did receive the case's story (as placeholders).
    chats = server.requests_to("/chat/completions")
    assert len(chats) >= 6
    bodies = [json.dumps(r.body, ensure_ascii=False) for r in chats]
    document_text = ingest.output_for_node("extracted_text").all_text()
    needles = sensitive_strings(record, document_text)
    assert len(needles) > 20
    for body in bodies:
        for s in needles:
            assert not contains_ci(body, s), f"{case_id}: a sensitive string of kind-unknown reached the server"
    assert sum("[PERSON_1" in b for b in bodies) >= 3
    assert all(r.body.get("model") == "remote-model" for r in chats)

    # 2. The assets hold the real names again, and no placeholder.
    d: Draft = result.output_for_node("draft")
    md = d.markdown()
    assert not PLACEHOLDER.search(md), PLACEHOLDER.findall(md)[:5]
    declarant, other = record.parties[0].name, record.parties[1].name
    body_sections = "\n".join(s.text() for s in d.element_sections() if not s.gap)
    # The server only ever saw placeholders; what it echoed back is case text again in the drafted sections.
    restored = [x for x in record.sensitive_strings() if contains_ci(body_sections, x)]
    assert restored, body_sections[:400]
    scores: JudgeScores = result.output_for_node("judge_scores")
    scored = [s for s in scores.scores if s.status == "scored"]
    assert scored and all(f"{declarant}'s account of {other}" in s.reasons for s in scored)

    # 3. The call log and the run's log messages carry no case text.
    log_text = call_log.read_text(encoding="utf-8")
    assert log_text.count("\n") >= len(chats)
    event_text = "\n".join(
        str(e.message) for e in instance.all_logs(result.run_id)
    ) + "\n" + "\n".join(capture.messages)
    for s in needles:
        assert not contains_ci(log_text, s), f"{case_id}: case text in the call log"
        assert not contains_ci(event_text, s), f"{case_id}: case text in a log message"
    assert "I recall this" not in log_text and "[PERSON_1]" not in log_text


def _call(router: LLMRouter, record: CaseRecord | None, case_id: str = "vawa-0001") -> None:
    prompt = PromptSpec(system="Write.", user="Ricardo Antonio Ibarra Salgado hit me at 2215 Calloway Street.")
    router.complete("drafter", prompt, CallContext(case_id=case_id, asset="draft", model_config="default",
                                                   case_record=record))


def test_external_route_with_redaction_switched_off_is_refused_before_sending(server, tmp_path):
    """`redaction: false` on an external deployment (the routing schema's own key): refused, with the deployment
    and the rule, nothing sent."""
    path = routing_file(tmp_path / "routes.yaml", f"{server.base_url}/v1", redaction=False)
    assert load_routes(path).deployments["remote"].redaction is False
    router = LLMRouter(routes_file=str(path), call_log_path=str(tmp_path / "calls.jsonl"), use_cache=False)
    with pytest.raises(Exception) as err:
        _call(router, sample_record("vawa-0001"))
    assert "'remote'" in str(err.value) and "redaction: false" in str(err.value)
    assert server.requests == []  # not a byte: neither the chat nor a tokenizer request
    rec = [json.loads(x) for x in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert rec and all(r["outcome"] == "privacy_refused" for r in rec)
    assert "Ricardo" not in (tmp_path / "calls.jsonl").read_text()


@pytest.mark.parametrize("record", [None, CaseRecord(case_id="vawa-0001", case_type="vawa")],
                         ids=["no-case-record", "no-parties"])
def test_external_route_without_parties_is_refused(server, tmp_path, record):
    path = routing_file(tmp_path / "routes.yaml", f"{server.base_url}/v1")
    router = LLMRouter(routes_file=str(path), call_log_path=str(tmp_path / "calls.jsonl"), use_cache=False)
    with pytest.raises(Exception) as err:
        _call(router, record)
    assert "privacy gate refused deployment 'remote'" in str(err.value)
    assert server.requests == []


def test_openrouter_request_asks_for_no_data_collection(tmp_path):
    """The router adds OpenRouter's provider preference; seen in the recorded request body, redacted."""
    with OpenAIFaultServer(flavor="openrouter", latency=Latency(first_token_s=0.0, gap_s=0.0, tokens=1),
                           reply="I, [PERSON_1], remember.") as server:
        routes = {"default": "default", "deployments": {"or": {
            "model": "openrouter/some/model", "api_base": f"{server.base_url}/api/v1", "api_key_env": "PRIVACY_TEST_KEY",
            "context_window": 8192, "privacy": "external", "free": True, "retry": {"attempts": 0}}},
            "model_configs": {"default": {"drafter": ["or"], "judges": [["or"]] * 3, "guard": ["or"]}}}
        path = tmp_path / "routes.yaml"
        path.write_text(yaml.safe_dump(routes), encoding="utf-8")
        load_routes(path)
        router = LLMRouter(routes_file=str(path), call_log_path=str(tmp_path / "calls.jsonl"), use_cache=False)
        record = sample_record("vawa-0001")
        out = router.complete("drafter", PromptSpec(system="Write.", user="Lucía Montoya met Ricardo Ibarra."),
                              CallContext(case_id="vawa-0001", asset="draft", model_config="default",
                                          case_record=record))
        body = server.requests_to("/chat/completions")[0].body
        assert body["provider"]["data_collection"] == "deny"
        sent = json.dumps(body, ensure_ascii=False)
        assert "Montoya" not in sent and "Ricardo" not in sent and "[PERSON_1" in sent
        assert out.text == f"I, {record.parties[0].name}, remember."
