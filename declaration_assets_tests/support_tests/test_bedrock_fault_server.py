"""The Bedrock Runtime fault server, driven by litellm, by botocore's own bedrock-runtime client and by raw HTTP.

litellm leaves a Bedrock stream's HTTP response unclosed when decoding the stream raises (an exception event, a
broken event); finalized by the garbage collector while httpcore holds its pool lock, it deadlocks the process
(declaration_assets_tests/llm/test_bedrock_route.py shows it). Garbage is therefore collected between tests only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import boto3  # noqa: E402
import botocore.exceptions  # noqa: E402
import httpx  # noqa: E402
import litellm  # noqa: E402
import pytest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer  # noqa: E402
from litellm.exceptions import MidStreamFallbackError  # noqa: E402

from declaration_assets_tests.support.fault_servers import (  # noqa: E402
    EVENTSTREAM_CONTENT_TYPE,
    BedrockFaultServer,
    Latency,
    Mode,
    collector_paused,
    bedrock_prompt_tokens,
    count_tokens,
    eventstream_message,
    parse_sigv4,
)

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
MODEL = f"bedrock/converse/{MODEL_ID}"
ACCESS_KEY = "AKIAFAKEFAKEFAKE0001"
SECRET_KEY = "fake-secret-key-for-local-tests-only"
MESSAGES = [{"role": "system", "content": "You write declarations."}, {"role": "user", "content": "Say hello please"}]
FAST = Latency(first_token_s=0.02, gap_s=0.005, tokens=6)
# What litellm sends for MESSAGES: the system message becomes a `system` block, the rest Converse messages.
CONVERSE_BODY = {"system": [{"text": "You write declarations."}],
                 "messages": [{"role": "user", "content": [{"text": "Say hello please"}]}]}
PROMPT_TOKENS = bedrock_prompt_tokens(CONVERSE_BODY)


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests() -> Iterator[None]:
    with collector_paused():  # see its docstring
        yield


@pytest.fixture(autouse=True)
def _no_aws_metadata_probe(monkeypatch) -> None:
    """Credentials are always passed explicitly; botocore must never look for others on the network."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with BedrockFaultServer(latency=FAST) as srv:
        yield srv


def _complete(server: BedrockFaultServer, **kwargs):
    params = dict(model=MODEL, api_base=server.base_url, aws_region_name="us-east-1",
                  aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                  messages=MESSAGES, max_retries=0, timeout=5)
    params.update(kwargs)
    return litellm.completion(**params)


def _stream(server: BedrockFaultServer, **kwargs) -> list:
    return list(_complete(server, stream=True, **kwargs))


def _text(chunks: list) -> str:
    return "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)


def _runtime(server: BedrockFaultServer):
    """botocore's bedrock-runtime client, pointed at the server; no retries, so each call is one request."""
    return boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=server.base_url,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=5))


def _decode(data: bytes, split: int = 7) -> list:
    """Feed bytes to botocore's decoder in small pieces, as a network would, and collect the messages."""
    buffer, out = EventStreamBuffer(), []
    for i in range(0, len(data), split):
        buffer.add_data(data[i : i + split])
        out.extend(buffer)
    return out


# --- the event-stream framing ------------------------------------------------------------------------------------

def test_eventstream_messages_round_trip_through_botocores_decoder():
    headers = {":event-type": "contentBlockDelta", ":content-type": "application/json", ":message-type": "event"}
    payloads = [b'{"contentBlockIndex":0,"delta":{"text":"Hola"}}', b"{}", "é ü 漢字".encode(), b"x" * 70_000]
    data = b"".join(eventstream_message(headers, p) for p in payloads)
    messages = _decode(data, split=997)
    assert [m.payload for m in messages] == payloads
    for m, p in zip(messages, payloads):
        assert m.headers == headers
        assert m.prelude.total_length == 12 + m.prelude.headers_length + len(p) + 4
        assert m.to_response_dict() == {"status_code": 200, "headers": headers, "body": p}
    # both checksums are real CRC32s: any flipped byte is caught
    one = eventstream_message(headers, payloads[0])
    for position in (2, 20, len(one) - 10):
        broken = bytearray(one)
        broken[position] ^= 0x01
        with pytest.raises(ChecksumMismatch):
            _decode(bytes(broken))


def test_raw_converse_stream_sends_events_in_bedrocks_order(server):
    body = {**CONVERSE_BODY, "inferenceConfig": {"maxTokens": 100}}
    with httpx.stream("POST", f"{server.base_url}/model/{MODEL_ID}/converse-stream", json=body, timeout=5,
                      headers={"Authorization": "Bearer bedrock-api-key"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == EVENTSTREAM_CONTENT_TYPE
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.headers["x-amzn-requestid"]
        messages = _decode(response.read())
    kinds = [m.headers[":event-type"] for m in messages]
    assert kinds == ["messageStart"] + ["contentBlockDelta"] * 6 + ["contentBlockStop", "messageStop", "metadata"]
    assert all(m.headers[":message-type"] == "event" and m.headers[":content-type"] == "application/json"
               for m in messages)
    events = [json.loads(m.payload) for m in messages]
    assert all("p" in e for e in events)  # Bedrock's length padding
    events = [{k: v for k, v in e.items() if k != "p"} for e in events]
    assert events[0] == {"role": "assistant"}
    assert "".join(e["delta"]["text"] for e in events[1:7]) == "w0 w1 w2 w3 w4 w5"
    assert all(e["contentBlockIndex"] == 0 for e in events[1:8])
    assert events[8] == {"stopReason": "end_turn"}
    assert events[9]["usage"] == {"inputTokens": PROMPT_TOKENS, "outputTokens": 6, "totalTokens": PROMPT_TOKENS + 6}
    assert events[9]["metrics"]["latencyMs"] >= 0
    record = server.requests[-1]
    assert record.wait_done(2.0)
    assert record.stream and record.outcome == "completed" and record.chunks_sent == 10


# --- through litellm ---------------------------------------------------------------------------------------------

def test_healthy_converse_and_stream_through_litellm(server):
    response = _complete(server, max_tokens=50, temperature=0.2)
    assert response.choices[0].message.content == "w0 w1 w2 w3 w4 w5"
    assert response.choices[0].finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (
        PROMPT_TOKENS, 6, PROMPT_TOKENS + 6)

    chunks = _stream(server, stream_timeout=2, stream_options={"include_usage": True})
    assert _text(chunks) == "w0 w1 w2 w3 w4 w5"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage = [c.usage for c in chunks if getattr(c, "usage", None) is not None]
    assert (usage[-1].prompt_tokens, usage[-1].completion_tokens) == (PROMPT_TOKENS, 6)

    first, second = server.requests
    assert first.path == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    assert second.path == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
    assert BedrockFaultServer.model_id(first) == MODEL_ID == BedrockFaultServer.model_id(second)
    assert (first.stream, second.stream) == (False, True)
    # the JSON body litellm sent: Converse messages, system blocks, inferenceConfig
    assert first.body["messages"] == CONVERSE_BODY["messages"]
    assert first.body["system"] == CONVERSE_BODY["system"]
    assert first.body["inferenceConfig"] == {"maxTokens": 50, "temperature": 0.2}
    assert first.prompt_tokens == PROMPT_TOKENS == count_tokens("You write declarations.") + count_tokens(
        "Say hello please") + 8
    assert first.wait_done(2.0) and second.wait_done(2.0)  # the server has counted its last chunk
    assert second.chunks_sent == 10  # messageStart, six deltas, contentBlockStop, messageStop, metadata
    assert {first.outcome, second.outcome} == {"completed"}


def test_streamed_usage_needs_include_usage(server):
    """litellm keeps the metadata event's usage only when asked to (stream_options.include_usage)."""
    chunks = _stream(server, stream_timeout=2)
    assert _text(chunks) == "w0 w1 w2 w3 w4 w5"
    assert all(getattr(c, "usage", None) is None for c in chunks)


def test_requests_are_sigv4_signed_with_the_given_keys(server):
    _complete(server, aws_region_name="eu-west-1")
    record = server.requests[-1]
    auth = record.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 ")
    scope = parse_sigv4(auth)
    assert scope is not None
    assert (scope["access_key"], scope["region"], scope["service"]) == (ACCESS_KEY, "eu-west-1", "bedrock")
    assert {"host", "x-amz-date", "content-type"} <= set(scope["signed_headers"])
    assert scope["date"] == record.headers["x-amz-date"][:8]
    assert SECRET_KEY not in json.dumps(record.headers)
    assert parse_sigv4("Bearer abc") is None and parse_sigv4(None) is None


def test_max_tokens_cuts_the_answer_with_stop_reason_max_tokens(server):
    response = _complete(server, max_tokens=3)
    assert response.choices[0].message.content == "w0 w1 w2"
    assert response.choices[0].finish_reason == "length"
    raw = httpx.post(f"{server.base_url}/model/{MODEL_ID}/converse", timeout=5,
                     json={**CONVERSE_BODY, "inferenceConfig": {"maxTokens": 2}},
                     headers={"Authorization": "Bearer k"}).json()
    assert raw["stopReason"] == "max_tokens"
    assert raw["output"]["message"] == {"role": "assistant", "content": [{"text": "w0 w1"}]}
    assert raw["usage"] == {"inputTokens": PROMPT_TOKENS, "outputTokens": 2, "totalTokens": PROMPT_TOKENS + 2}
    assert raw["metrics"]["latencyMs"] >= 0


# What litellm 1.110 raises for each of Bedrock's answers (checked against this server, not assumed).
@pytest.mark.parametrize(
    "mode, stream, error",
    [
        (Mode.HTTP_429, False, litellm.RateLimitError),
        (Mode.HTTP_429, True, litellm.RateLimitError),
        (Mode.HTTP_500, False, litellm.ServiceUnavailableError),  # litellm maps Bedrock's 500 to 503's class
        (Mode.HTTP_500, True, litellm.ServiceUnavailableError),
        (Mode.HTTP_503, False, litellm.ServiceUnavailableError),
        (Mode.CONTEXT_OVERFLOW, False, litellm.ContextWindowExceededError),
        (Mode.CONTEXT_OVERFLOW, True, litellm.ContextWindowExceededError),
        (Mode.DROP, False, litellm.APIConnectionError),  # "Server disconnected without sending a response."
        (Mode.DROP, True, litellm.APIConnectionError),
        (Mode.MALFORMED, False, litellm.BadRequestError),  # litellm's 422 "Error converting to valid response block"
        (Mode.MALFORMED, True, MidStreamFallbackError),  # the cut JSON payload of one event
    ],
)
def test_fault_modes_surface_as_litellm_errors(server, mode, stream, error):
    server.set_mode(mode)
    with pytest.raises(error) as caught:
        if stream:
            _stream(server, stream_timeout=2)
        else:
            _complete(server)
    if mode is Mode.CONTEXT_OVERFLOW:
        assert "Input is too long for requested model." in str(caught.value)
    if mode is Mode.HTTP_500:  # Bedrock's 500 comes back relabelled: ServiceUnavailableError, status_code 503
        assert not isinstance(caught.value, litellm.InternalServerError) and caught.value.status_code == 503
    record = server.requests[-1]
    assert record.wait_done(2.0)
    assert record.outcome == {Mode.DROP: "dropped", Mode.MALFORMED: "malformed"}.get(mode, "http_error")


@pytest.mark.parametrize(
    "mode, status, error_type, message",
    [
        (Mode.HTTP_429, 429, "ThrottlingException", "Too many requests, please wait before trying again."),
        (Mode.HTTP_500, 500, "InternalServerException",
         "The system encountered an unexpected error during processing. Try your request again."),
        (Mode.HTTP_503, 503, "ServiceUnavailableException", "Bedrock is unable to process your request."),
        (Mode.CONTEXT_OVERFLOW, 400, "ValidationException", "Input is too long for requested model."),
    ],
)
def test_errors_have_bedrocks_status_header_and_body(server, mode, status, error_type, message):
    server.set_mode(mode)
    raw = httpx.post(f"{server.base_url}/model/{MODEL_ID}/converse", json=CONVERSE_BODY, timeout=5,
                     headers={"Authorization": "Bearer k"})
    assert raw.status_code == status
    assert raw.headers["x-amzn-errortype"].split(":")[0] == error_type
    assert raw.headers["content-type"] == "application/json"
    assert raw.json() == {"message": message}
    # botocore's own client reads the same answer as that modeled exception
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        _runtime(server).converse(modelId=MODEL_ID, messages=CONVERSE_BODY["messages"])
    assert caught.value.response["Error"]["Code"] == error_type
    assert caught.value.response["Error"]["Message"] == message
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


@pytest.mark.parametrize(
    "mode, error, status",
    [
        (Mode.HTTP_429, MidStreamFallbackError, 429),  # wraps litellm.RateLimitError
        (Mode.HTTP_500, MidStreamFallbackError, 503),  # wraps litellm.ServiceUnavailableError (503)
        (Mode.CONTEXT_OVERFLOW, litellm.ContextWindowExceededError, 400),
    ],
)
def test_exceptions_inside_a_200_stream(mode, error, status):
    with BedrockFaultServer(latency=FAST, errors_mid_stream=True) as srv:
        srv.set_mode(mode)
        with pytest.raises(error) as caught:
            _stream(srv, stream_timeout=2)
        assert caught.value.status_code == status
        with pytest.raises(botocore.exceptions.EventStreamError) as raised:
            for _ in _runtime(srv).converse_stream(modelId=MODEL_ID, messages=CONVERSE_BODY["messages"])["stream"]:
                pass
        assert raised.value.response["Error"]["Code"][0].islower()  # throttlingException, validationException...
        assert len(srv.requests) == 2 and all(r.wait_done(2.0) for r in srv.requests)
        assert all(r.status == 200 and r.outcome == "http_error" for r in srv.requests)


@pytest.mark.parametrize("mode, chunks_before_silence", [(Mode.HANG, 0), (Mode.STALL, 3)])
def test_stream_timeout_trips_on_hang_and_stall(server, mode, chunks_before_silence):
    server.set_mode(mode)
    deadline = 0.6
    started = time.monotonic()
    with pytest.raises((litellm.Timeout, MidStreamFallbackError)) as caught:
        _stream(server, stream_timeout=deadline)
    elapsed = time.monotonic() - started
    assert deadline - 0.05 <= elapsed <= deadline + 2.0
    if mode is Mode.HANG:
        assert isinstance(caught.value, litellm.Timeout)
    else:  # after the first events the timeout arrives wrapped
        assert isinstance(caught.value.original_exception, litellm.Timeout)
    record = server.requests[-1]
    assert record.wait_done(2.0), "the server never noticed the client going away"
    assert record.mode is mode and record.outcome == "client_disconnected"
    assert record.chunks_sent == chunks_before_silence  # messageStart and two deltas before a stall


@pytest.mark.parametrize("mode", [Mode.HANG, Mode.STALL])
def test_non_stream_timeout_trips_on_hang_and_stall(server, mode):
    server.set_mode(mode)
    started = time.monotonic()
    with pytest.raises(litellm.Timeout):
        _complete(server, timeout=0.6)
    assert time.monotonic() - started <= 0.6 + 2.0
    record = server.requests[-1]
    assert record.wait_done(2.0) and record.outcome == "client_disconnected"
    assert (record.first_byte_at is not None) == (mode is Mode.STALL)  # a stall sends half a body first


def test_trickle_never_trips_the_stream_timeout():
    with BedrockFaultServer(latency=Latency(tokens=3), mode=Mode.TRICKLE, trickle_interval_s=0.3) as srv:
        started = time.monotonic()
        assert _text(_stream(srv, stream_timeout=0.6)) == "w0 w1 w2"
        assert time.monotonic() - started >= 0.85


# --- botocore's client: the wire protocol as AWS's SDK reads it ----------------------------------------------------

def test_botocore_client_reads_converse_and_converse_stream(server):
    client = _runtime(server)
    answer = client.converse(modelId=MODEL_ID, messages=CONVERSE_BODY["messages"], system=CONVERSE_BODY["system"],
                             inferenceConfig={"maxTokens": 4})
    assert answer["output"]["message"] == {"role": "assistant", "content": [{"text": "w0 w1 w2 w3"}]}
    assert answer["stopReason"] == "max_tokens"
    assert answer["usage"] == {"inputTokens": PROMPT_TOKENS, "outputTokens": 4, "totalTokens": PROMPT_TOKENS + 4}
    assert answer["ResponseMetadata"]["RequestId"]

    events = list(client.converse_stream(modelId=MODEL_ID, messages=CONVERSE_BODY["messages"],
                                         system=CONVERSE_BODY["system"])["stream"])
    assert [next(iter(e)) for e in events] == (
        ["messageStart"] + ["contentBlockDelta"] * 6 + ["contentBlockStop", "messageStop", "metadata"])
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in events[1:7]) == "w0 w1 w2 w3 w4 w5"
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 6
    signed = [parse_sigv4(r.headers.get("authorization")) for r in server.requests]
    assert all(s is not None and s["service"] == "bedrock" and s["access_key"] == ACCESS_KEY for s in signed)


def test_unknown_model_and_missing_credentials_are_refused():
    with BedrockFaultServer(models=[MODEL_ID], latency=FAST) as srv:
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            _runtime(srv).converse(modelId="meta.llama-unknown-v1:0", messages=CONVERSE_BODY["messages"])
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert caught.value.response["Error"]["Message"] == "The provided model identifier is invalid."
        unsigned = httpx.post(f"{srv.base_url}/model/{MODEL_ID}/converse", json=CONVERSE_BODY, timeout=5)
        assert unsigned.status_code == 403
        assert unsigned.headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException")
        assert unsigned.json() == {"message": "Missing Authentication Token"}
    with BedrockFaultServer(require_auth=False, latency=FAST) as open_server:
        assert httpx.post(f"{open_server.base_url}/model/{MODEL_ID}/converse", json=CONVERSE_BODY,
                          timeout=5).status_code == 200


def test_prompt_beyond_the_context_window_gets_the_real_400():
    with BedrockFaultServer(context_window=40, latency=FAST) as srv:
        assert _complete(srv, messages=[{"role": "user", "content": "short"}], max_tokens=8).choices[0].message.content
        with pytest.raises(litellm.ContextWindowExceededError):
            _complete(srv, messages=[{"role": "user", "content": "evidence " * 30}], max_tokens=8)
        # the answer's room counts: a short prompt with a large maxTokens does not fit either
        with pytest.raises(litellm.ContextWindowExceededError):
            _complete(srv, messages=[{"role": "user", "content": "short"}], max_tokens=64)
        assert [r.status for r in srv.requests] == [200, 400, 400]
