"""The router's Bedrock route, end to end over a local Bedrock Runtime server.

A routing-file deployment `bedrock/converse/<model-id>` with `api_base` at a `BedrockFaultServer`, privacy
`private_cloud` with `require_redaction: true`. Credentials come the standard AWS way, from AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY (the routing file refuses secrets, and a key given through `api_key_env` would reach
litellm as `api_key`, which it sends as a Bedrock API key, `Bearer`, instead of signing); the region from the
deployment's `litellm_params.aws_region_name`.

When decoding Bedrock's event stream raises (an exception event after the 200, a broken event), litellm leaves the
stream's HTTP response unclosed and the engine cannot reach it to close it (see
`test_an_unclosed_bedrock_stream_never_deadlocks_the_next_call`): the garbage collector finalizes it later, and
doing so while httpcore holds its pool lock deadlocks the process. The tests here therefore collect garbage only
between tests, where no pool lock is held.
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from declaration_assets.cases.models import CaseRecord, Party
from declaration_assets.llm.models import CallContext, PromptSpec
from declaration_assets_tests.support.fault_servers import (
    BedrockFaultServer,
    Latency,
    Mode,
    collector_paused,
    OpenAIFaultServer,
    count_tokens,
    parse_sigv4,
)

from .conftest import deployment, routes

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
MODEL = f"bedrock/converse/{MODEL_ID}"
ACCESS_KEY = "AKIAFAKEFAKEFAKE0001"
SECRET_KEY = "fake-secret-key-for-local-tests-only"
MARGIN_S = 2.0  # loose: these machines are loaded
PLACEHOLDER = re.compile(r"\[[A-Z_]+_\d+(?:_\d+)?\]")

DECLARANT = "Marisol Quintero Vega"
ABUSER = "Esteban Rojas Lindqvist"
RECORD = CaseRecord(case_id="vawa-0001", case_type="vawa", parties=(
    Party(role="declarant", name=DECLARANT, aliases=("Marisol Quintero",)),
    Party(role="abuser", name=ABUSER, relationship="husband"),
))
CASE_PROMPT = PromptSpec(system="You write declarations in the first person.",
                         user=f"Write one sentence: {DECLARANT} married {ABUSER} in 2015.", max_tokens=64)
PLAIN_PROMPT = PromptSpec(system="You write declarations.", user="Say hello.", max_tokens=32)


def _echo_placeholders(rec) -> str:
    """The answer a model gives: the placeholders of the last user message, in a sentence."""
    messages = (rec.body or {}).get("messages") or []
    text = " ".join(str(b.get("text", "")) for b in (messages[-1].get("content") or [])) if messages else ""
    found = list(dict.fromkeys(PLACEHOLDER.findall(text)))
    if len(found) < 2:
        return "I have nothing to add."
    return f"I, {found[0]}, was married to {found[1]}."


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests() -> Iterator[None]:
    with collector_paused():  # see its docstring
        yield


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch, tmp_path) -> None:
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_BEARER_TOKEN_BEDROCK",
                 "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # botocore never probes the metadata endpoint
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION_NAME", "us-east-1")
    monkeypatch.setattr("declaration_assets.privacy.settings.redaction_dir", lambda: tmp_path / "redaction")


@pytest.fixture
def bedrock() -> Iterator[BedrockFaultServer]:
    with BedrockFaultServer(models=[MODEL_ID], latency=Latency(first_token_s=0.02, gap_s=0.005, tokens=6),
                            reply=_echo_placeholders) as server:
        yield server


@pytest.fixture
def backup() -> Iterator[OpenAIFaultServer]:
    with OpenAIFaultServer(latency=Latency(first_token_s=0.02, gap_s=0.005, tokens=4), reply="backup answer") as s:
        yield s


def bedrock_deployment(server: BedrockFaultServer, *, total: float = 20.0, first: float = 10.0, stall: float = 5.0,
                       retries: int = 0, **extra) -> dict:
    return deployment(server.base_url, model=MODEL, total=total, first=first, stall=stall, retries=retries,
                      privacy="private_cloud", require_redaction=True,
                      litellm_params={"aws_region_name": "us-east-1"}, **extra)


def case_ctx() -> CallContext:
    return CallContext(case_id="vawa-0001", asset="draft", model_config="default", run_id="run-1", case_record=RECORD)


def _converse_requests(server: BedrockFaultServer):
    return [r for r in server.requests if r.path.endswith(("/converse", "/converse-stream"))]


def _outcomes(completion) -> list[tuple[str, str]]:
    return [(r.deployment, r.outcome) for r in completion.records]


# --- healthy ---------------------------------------------------------------------------------------------------

def test_healthy_call_is_signed_streamed_redacted_and_reidentified(make_router, bedrock):
    router = make_router(routes({"bedrock": bedrock_deployment(bedrock)}, drafter=["bedrock"]))
    c = router.complete("drafter", CASE_PROMPT, case_ctx())

    assert c.text == f"I, {DECLARANT}, was married to {ABUSER}."
    assert c.deployment == "bedrock" and not c.cached
    assert _outcomes(c) == [("bedrock", "ok")]
    rec = c.records[0]
    assert rec.provider == "bedrock" and rec.privacy == "private_cloud"

    (req,) = _converse_requests(bedrock)
    assert req.path == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
    assert BedrockFaultServer.model_id(req) == MODEL_ID
    assert req.wait_done(2.0) and req.stream and req.outcome == "completed"
    # what the server received: Converse's request shape, with no party of the case in it
    sent = json.dumps(req.body, ensure_ascii=False)
    for needle in (DECLARANT, ABUSER, "Marisol", "Quintero", "Esteban", "Rojas", "Lindqvist"):
        assert needle.lower() not in sent.lower()
    assert len(set(PLACEHOLDER.findall(sent))) == 2
    assert req.body["system"] == [{"text": CASE_PROMPT.system}]
    assert req.body["messages"][-1]["role"] == "user"
    assert req.body["inferenceConfig"]["maxTokens"] == CASE_PROMPT.max_tokens
    assert req.body["inferenceConfig"]["temperature"] == 0.0
    # SigV4 with the environment's keys, for the deployment's region and the bedrock service
    auth = req.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 ")
    scope = parse_sigv4(auth)
    assert scope is not None
    assert (scope["access_key"], scope["region"], scope["service"]) == (ACCESS_KEY, "us-east-1", "bedrock")
    assert {"host", "x-amz-date"} <= set(scope["signed_headers"])
    assert SECRET_KEY not in json.dumps(req.headers)
    # the call log holds no case text either
    log_text = Path(router.call_log_path).read_text(encoding="utf-8")
    assert "Marisol" not in log_text and "Rojas" not in log_text


def test_a_case_without_parties_is_refused_before_anything_is_sent(make_router, bedrock):
    router = make_router(routes({"bedrock": bedrock_deployment(bedrock)}, drafter=["bedrock"]))
    bare = CaseRecord(case_id="vawa-0001", case_type="vawa")
    with pytest.raises(Exception, match="privacy gate refused deployment 'bedrock'"):
        router.complete("drafter", CASE_PROMPT, CallContext(case_id="vawa-0001", asset="draft",
                                                            model_config="default", case_record=bare))
    assert bedrock.requests == []


# --- faults ----------------------------------------------------------------------------------------------------

def test_hang_is_cut_at_the_first_token_deadline_and_falls_back(make_router, bedrock, backup):
    bedrock.set_mode(Mode.HANG)
    data = routes({"bedrock": bedrock_deployment(bedrock, total=10.0, first=1.0, stall=1.0, retries=2),
                   "backup": deployment(f"{backup.base_url}/v1")}, drafter=["bedrock", "backup"])
    router = make_router(data)
    started = time.monotonic()
    c = router.complete("drafter", PLAIN_PROMPT, case_ctx())
    assert c.text == "backup answer"
    assert _outcomes(c) == [("bedrock", "deadline_first_token"), ("backup", "ok")]
    assert c.records[0].latency_s <= 1.0 + MARGIN_S
    assert time.monotonic() - started <= 1.0 + MARGIN_S + 1.0
    (req,) = _converse_requests(bedrock)  # a deadline breach is not retried
    assert req.mode is Mode.HANG
    assert req.wait_done(2.0), "the server never saw the client go away"
    assert req.outcome == "client_disconnected"


def test_context_overflow_falls_back_without_retry(make_router, bedrock, backup):
    bedrock.set_mode(Mode.CONTEXT_OVERFLOW)
    data = routes({"bedrock": bedrock_deployment(bedrock, retries=2),
                   "backup": deployment(f"{backup.base_url}/v1")}, drafter=["bedrock", "backup"])
    c = make_router(data).complete("drafter", PLAIN_PROMPT, case_ctx())
    assert c.text == "backup answer"
    assert _outcomes(c) == [("bedrock", "context_overflow"), ("backup", "ok")]
    assert c.records[0].error_class == "ContextWindowExceededError"
    (req,) = _converse_requests(bedrock)
    assert req.wait_done(2.0) and req.status == 400 and req.outcome == "http_error"


def test_prompt_beyond_the_real_window_is_an_overflow_too(make_router, backup):
    # The deployment claims a larger window than the model has: Bedrock's own 400 decides.
    with BedrockFaultServer(context_window=40, latency=Latency(tokens=3)) as small:
        data = routes({"bedrock": bedrock_deployment(small, retries=2),
                       "backup": deployment(f"{backup.base_url}/v1")}, drafter=["bedrock", "backup"])
        c = make_router(data).complete("drafter", PLAIN_PROMPT, case_ctx())
        assert _outcomes(c) == [("bedrock", "context_overflow"), ("backup", "ok")]
        assert len(_converse_requests(small)) == 1


def test_throttling_is_retried_on_the_same_deployment(make_router, bedrock):
    bedrock.queue_modes(Mode.HTTP_429, then=Mode.HEALTHY)
    router = make_router(routes({"bedrock": bedrock_deployment(bedrock, retries=2)}, drafter=["bedrock"]))
    c = router.complete("drafter", CASE_PROMPT, case_ctx())
    assert _outcomes(c) == [("bedrock", "rate_limited"), ("bedrock", "ok")]
    assert c.records[0].error_class == "RateLimitError"
    first, second = _converse_requests(bedrock)
    assert first.status == 429 and second.wait_done(2.0) and second.outcome == "completed"


@pytest.mark.parametrize(("mode", "retries", "bedrock_outcomes"), [
    (Mode.HTTP_500, 1, ["server_error", "server_error"]),  # retried, then the chain moves on
    (Mode.DROP, 1, ["connection_error", "connection_error"]),  # retried, then the chain moves on
    (Mode.MALFORMED, 2, ["bad_response"]),  # not retried
], ids=["server-error", "dropped-connection", "malformed-event"])
def test_failures_are_retried_or_not_then_fall_back(make_router, bedrock, backup, mode, retries, bedrock_outcomes):
    bedrock.set_mode(mode)
    data = routes({"bedrock": bedrock_deployment(bedrock, retries=retries),
                   "backup": deployment(f"{backup.base_url}/v1")}, drafter=["bedrock", "backup"])
    c = make_router(data).complete("drafter", PLAIN_PROMPT, case_ctx())
    assert _outcomes(c) == [("bedrock", o) for o in bedrock_outcomes] + [("backup", "ok")]
    assert len(_converse_requests(bedrock)) == len(bedrock_outcomes)


def test_exceptions_inside_the_event_stream_are_classified_and_retried(make_router):
    """Bedrock can answer 200 and then send a modeled exception event: throttling is still `rate_limited`."""
    with BedrockFaultServer(latency=Latency(tokens=3), errors_mid_stream=True, reply="all good") as server:
        server.queue_modes(Mode.HTTP_429, Mode.HTTP_500, then=Mode.HEALTHY)
        router = make_router(routes({"bedrock": bedrock_deployment(server, retries=2)}, drafter=["bedrock"]))
        c = router.complete("drafter", PLAIN_PROMPT, case_ctx())
        assert c.text == "all good"
        assert _outcomes(c) == [("bedrock", "rate_limited"), ("bedrock", "server_error"), ("bedrock", "ok")]
        assert [r.status for r in _converse_requests(server)] == [200, 200, 200]


def test_stall_is_cut_and_falls_back(make_router, bedrock, backup):
    """A stall on Bedrock's event stream is cut at the stall deadline, well before the first-token deadline (the
    HTTP read timeout): the watchdog finds the response under litellm's generators and shuts its socket."""
    bedrock.set_mode(Mode.STALL)
    first, stall = 4.0, 1.0
    data = routes({"bedrock": bedrock_deployment(bedrock, total=20.0, first=first, stall=stall, retries=2),
                   "backup": deployment(f"{backup.base_url}/v1")}, drafter=["bedrock", "backup"])
    c = make_router(data).complete("drafter", PLAIN_PROMPT, case_ctx())
    assert c.text == "backup answer"
    assert _outcomes(c) == [("bedrock", "deadline_stall"), ("backup", "ok")]
    assert c.records[0].ttft_s is not None  # tokens arrived before the silence
    (req,) = _converse_requests(bedrock)
    assert req.wait_done(2.0) and req.outcome == "client_disconnected"
    assert req.chunks_sent == 3  # messageStart and two deltas
    assert stall - 0.1 <= req.silent_wait_s <= stall + 1.5 < first


def test_trickle_past_the_total_deadline_is_cut(make_router, backup):
    with BedrockFaultServer(latency=Latency(tokens=40), mode=Mode.TRICKLE, trickle_interval_s=0.3) as server:
        total = 2.0
        data = routes({"bedrock": bedrock_deployment(server, total=total, first=1.0, stall=1.0),
                       "backup": deployment(f"{backup.base_url}/v1")}, drafter=["bedrock", "backup"])
        c = make_router(data).complete("drafter", PLAIN_PROMPT, case_ctx())
        assert _outcomes(c) == [("bedrock", "deadline_total"), ("backup", "ok")]
        assert total - 0.1 <= c.records[0].latency_s <= total + MARGIN_S
        (req,) = _converse_requests(server)
        assert req.wait_done(MARGIN_S), "the server never saw the client go away"
        assert req.outcome == "client_disconnected"
        assert req.chunks_sent < 40


# --- Bedrock's own pitfalls: usage counts, the first call's imports, the stream's unclosed response ---------------

def test_paid_bedrock_call_records_the_servers_token_counts_and_cost(make_router, bedrock):
    price = {"input_per_1k": 1.0, "output_per_1k": 2.0}
    router = make_router(routes({"bedrock": bedrock_deployment(bedrock, cost=price)}, drafter=["bedrock"]))
    c = router.complete("drafter", CASE_PROMPT, case_ctx())
    (req,) = _converse_requests(bedrock)
    output_tokens = count_tokens(_echo_placeholders(req))  # what the server reported in the metadata event
    rec = c.records[-1]
    assert rec.outcome == "ok"
    assert rec.completion_tokens == output_tokens
    assert rec.prompt_tokens == req.prompt_tokens
    assert rec.cost_usd == pytest.approx(req.prompt_tokens / 1000 * 1.0 + output_tokens / 1000 * 2.0)
    assert c.completion_tokens == output_tokens


_FIRST_CALL = textwrap.dedent("""
    import json, sys
    from declaration_assets.llm.models import CallContext, PromptSpec
    from declaration_assets.llm.resources import LLMRouter

    router = LLMRouter(routes_file=sys.argv[1], call_log_path=sys.argv[2], use_cache=False)
    router.routing()  # builds the engine, which warms up the routing file's providers
    before = set(sys.modules)
    c = router.complete("drafter", PromptSpec(system="s", user="Say hello.", max_tokens=8),
                        CallContext(case_id="vawa-0001", asset="draft", model_config="default"))
    loaded = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("boto3", "botocore"))
    print(json.dumps({"outcomes": [r.outcome for r in c.records], "loaded_during_call": loaded}))
""")


def test_first_bedrock_call_of_a_process_pays_no_import_time(bedrock, tmp_path):
    path = tmp_path / "routes.yaml"
    dep = deployment(bedrock.base_url, model=MODEL, total=20.0, first=10.0, stall=5.0, retries=0,
                     privacy="private_cloud", litellm_params={"aws_region_name": "us-east-1"})
    path.write_text(json.dumps(routes({"bedrock": dep}, drafter=["bedrock"])), encoding="utf-8")  # JSON is YAML
    done = subprocess.run([sys.executable, "-c", _FIRST_CALL, str(path), str(tmp_path / "calls.jsonl")],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ),
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcomes"] == ["ok"]
    assert result["loaded_during_call"] == []


_UNCLOSED_THEN_NEXT_CALL = textwrap.dedent("""
    import faulthandler, gc, json, sys
    import httpcore._sync.connection_pool as pool
    from declaration_assets.llm.models import CallContext, LLMFailure, PromptSpec
    from declaration_assets.llm.resources import LLMRouter
    from declaration_assets_tests.support.fault_servers import BedrockFaultServer, Latency, Mode

    # The collector runs at whatever allocation crosses its threshold; here it runs at the one that matters:
    # inside httpcore's pool lock, which the next request on the same pooled client takes.
    assign = pool.ConnectionPool._assign_requests_to_connections
    def assign_after_collecting(self):
        gc.collect()
        return assign(self)
    pool.ConnectionPool._assign_requests_to_connections = assign_after_collecting

    mode, mid_stream, routes_file, call_log = Mode(sys.argv[1]), sys.argv[2] == "1", sys.argv[3], sys.argv[4]
    with BedrockFaultServer(latency=Latency(tokens=4), errors_mid_stream=mid_stream) as server:
        with open(routes_file, encoding="utf-8") as f:
            text = f.read().replace("BEDROCK_URL", server.base_url)
        with open(routes_file, "w", encoding="utf-8") as f:
            f.write(text)
        router = LLMRouter(routes_file=routes_file, call_log_path=call_log, use_cache=False)
        router.routing()
        ctx = CallContext(case_id="vawa-0001", asset="draft", model_config="default")
        prompt = PromptSpec(system="s", user="Say hello.", max_tokens=16)
        outcomes = []
        server.queue_modes(mode, then=Mode.HEALTHY)
        faulthandler.dump_traceback_later(15, exit=True)  # a deadlock: print every stack, exit 1
        for call in range(2):
            try:
                outcomes.append([r.outcome for r in router.complete("drafter", prompt, ctx).records])
            except LLMFailure as e:
                outcomes.append([r.outcome for r in e.records])
        faulthandler.cancel_dump_traceback_later()
        print(json.dumps(outcomes))
""")


@pytest.mark.parametrize(("mode", "mid_stream", "first_outcomes"), [
    (Mode.HTTP_429, True, ["rate_limited", "ok"]),  # a throttlingException event after the 200, then the retry
    (Mode.MALFORMED, False, ["bad_response"]),  # an event whose JSON is cut, then the next call
], ids=["exception-event-then-retry", "malformed-event-then-next-call"])
def test_an_unclosed_bedrock_stream_never_deadlocks_the_next_call(tmp_path, mode, mid_stream, first_outcomes):
    """In a fresh process: one Bedrock attempt whose stream decoding fails, then another request. The collector is
    made to run where it does in the deadlocks seen in the wild (inside httpcore's pool lock) rather than left to
    chance; a process that hangs dumps its stacks after 15 s and exits."""
    path = tmp_path / "routes.yaml"
    dep = deployment("BEDROCK_URL", model=MODEL, total=20.0, first=10.0, stall=5.0,
                     retries=1 if mode is Mode.HTTP_429 else 0, privacy="private_cloud",
                     litellm_params={"aws_region_name": "us-east-1"})
    path.write_text(json.dumps(routes({"bedrock": dep}, drafter=["bedrock"])), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _UNCLOSED_THEN_NEXT_CALL, mode.value, "1" if mid_stream else "0", str(path),
         str(tmp_path / "calls.jsonl")],
        capture_output=True, text=True, timeout=300, env=dict(os.environ), cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, "deadlocked:\n" + done.stderr[-3000:]
    first, second = json.loads(done.stdout.strip().splitlines()[-1])
    assert first == first_outcomes and second == ["ok"]
