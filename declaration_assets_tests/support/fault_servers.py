"""Real HTTP model servers that misbehave on purpose.

Each server listens on 127.0.0.1 (port 0, the bound port is reported), runs in a daemon thread and speaks a
provider's wire protocol closely enough for litellm to drive it: an OpenAI-compatible server (llama.cpp,
OpenAI and OpenRouter flavours), an Ollama server and a Bedrock Converse endpoint. A fault mode is chosen per
request from a schedule that can be changed while the server runs:

    with OpenAIFaultServer(latency=Latency(first_token_s=0.05, gap_s=0.01, tokens=20)) as server:
        server.set_schedule(Weighted({Mode.HANG: 0.4, Mode.STALL: 0.1}, seed=7))
        ...  # call f"{server.base_url}/v1"
        assert server.requests[-1].outcome == "client_disconnected"

Every request is recorded (path, headers, JSON body, time received, mode, how it ended). Every wait inside a
handler is bounded: it ends when the server closes or the client goes away, so `close()` never blocks on a
hung client.

The servers are built on the standard library's `ThreadingHTTPServer` rather than an ASGI stack on purpose:
the faults (drop the socket without a response, stall mid-body, notice a client disconnect while silent) need
direct control of the socket, which ASGI servers hide.
"""

from __future__ import annotations

import contextlib
import enum
import gc
import json
import random
import re
import select
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Protocol
from urllib.parse import unquote, urlsplit

__all__ = [
    "collector_paused",
    "Mode",
    "Latency",
    "Always",
    "InOrder",
    "Weighted",
    "RequestRecord",
    "FaultServer",
    "OpenAIFaultServer",
    "OllamaFaultServer",
    "BedrockFaultServer",
    "EVENTSTREAM_CONTENT_TYPE",
    "eventstream_message",
    "parse_sigv4",
    "bedrock_prompt_tokens",
    "tokenize",
    "count_tokens",
    "prompt_tokens",
]


# --------------------------------------------------------------------------------------------------------------
# Fault modes and schedules


class Mode(str, enum.Enum):
    HEALTHY = "healthy"  # answer with the configured latency
    HANG = "hang"  # read the request, never send a byte until the server closes or the client leaves
    STALL = "stall"  # send headers and a few chunks, then go silent
    TRICKLE = "trickle"  # one token every `trickle_interval_s`
    HTTP_429 = "http_429"  # rate limited, with Retry-After
    HTTP_500 = "http_500"
    HTTP_503 = "http_503"
    DROP = "drop"  # close the socket without any response
    MALFORMED = "malformed"  # 200 with a broken JSON body / a broken SSE or NDJSON chunk
    CONTEXT_OVERFLOW = "context_overflow"  # the provider's real "prompt exceeds the context" answer


class Schedule(Protocol):
    def next_mode(self) -> Mode: ...


@dataclass
class Always:
    mode: Mode = Mode.HEALTHY

    def next_mode(self) -> Mode:
        return self.mode


@dataclass
class InOrder:
    """Modes consumed one per request, in order; `then` once the list is used up."""

    modes: list[Mode]
    then: Mode = Mode.HEALTHY

    def __post_init__(self) -> None:
        self._pending = list(self.modes)

    def next_mode(self) -> Mode:
        return self._pending.pop(0) if self._pending else self.then


@dataclass
class Weighted:
    """Each request independently: `mode` with its probability (e.g. {HANG: 0.4, STALL: 0.1}), else `otherwise`.

    Seeded, so a run is reproducible.
    """

    weights: dict[Mode, float]
    seed: int = 0
    otherwise: Mode = Mode.HEALTHY

    def __post_init__(self) -> None:
        if sum(self.weights.values()) > 1.0 + 1e-9:
            raise ValueError("fault probabilities add up to more than 1")
        self._rng = random.Random(self.seed)

    def next_mode(self) -> Mode:
        draw = self._rng.random()
        acc = 0.0
        for mode, p in self.weights.items():
            acc += p
            if draw < acc:
                return mode
        return self.otherwise


@dataclass(frozen=True)
class Latency:
    """Healthy timing: delay before the first token, gap between tokens, answer length (default reply)."""

    first_token_s: float = 0.0
    gap_s: float = 0.0
    tokens: int = 8
    jitter_s: float = 0.0  # uniform [0, jitter_s) added to each delay (seeded per server)


# --------------------------------------------------------------------------------------------------------------
# A deterministic toy tokenizer: every whitespace-separated word is split into pieces of at most 4 characters.
# Streams send exactly these pieces, so streamed chunks, usage counts and /tokenize always agree.

_WORD = re.compile(r"\s*\S+")


def tokenize(text: str) -> list[str]:
    pieces: list[str] = []
    for match in _WORD.finditer(text):
        segment = match.group(0)
        stripped = segment.lstrip()
        lead = segment[: len(segment) - len(stripped)]
        parts = [stripped[i : i + 4] for i in range(0, len(stripped), 4)]
        parts[0] = lead + parts[0]
        pieces.extend(parts)
    return pieces


def token_ids(text: str) -> list[int]:
    return [zlib.crc32(p.encode("utf-8")) % 50_000 for p in tokenize(text)]


def count_tokens(text: str) -> int:
    return len(tokenize(text))


MESSAGE_OVERHEAD_TOKENS = 4  # per chat message, like a chat template's role markers


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts / Bedrock content blocks
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def prompt_tokens(messages: Iterable[dict[str, Any]]) -> int:
    """The prompt size the servers assume for a list of chat messages."""
    return sum(count_tokens(_content_text(m.get("content"))) + MESSAGE_OVERHEAD_TOKENS for m in messages)


# --------------------------------------------------------------------------------------------------------------
# Records


@dataclass
class RequestRecord:
    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or None
    received_at: float  # time.monotonic()
    mode: Mode | None = None  # None: a path the schedule does not apply to
    stream: bool = False
    status: int | None = None
    chunks_sent: int = 0
    outcome: str | None = None  # completed | http_error | dropped | malformed | client_disconnected | server_closed
    ended_at: float | None = None
    prompt_tokens: int = 0
    truncated: bool = False  # Ollama: the prompt exceeded num_ctx
    first_byte_at: float | None = None
    last_byte_at: float | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.received_at

    @property
    def silent_wait_s(self) -> float | None:
        """How long the server had been silent when the request ended (a hung client's wait, seen by the server)."""
        if self.ended_at is None:
            return None
        return self.ended_at - (self.last_byte_at if self.last_byte_at is not None else self.received_at)

    @property
    def options(self) -> dict[str, Any]:
        """Ollama request options (num_ctx, num_predict, temperature...)."""
        return dict((self.body or {}).get("options") or {}) if isinstance(self.body, dict) else {}

    @property
    def num_ctx(self) -> int | None:
        value = self.options.get("num_ctx")
        return None if value is None else int(value)

    def wait_done(self, timeout: float) -> bool:
        return self._done.wait(timeout)


# Outcomes
COMPLETED = "completed"
HTTP_ERROR = "http_error"
DROPPED = "dropped"
MALFORMED = "malformed"
CLIENT_DISCONNECTED = "client_disconnected"
SERVER_CLOSED = "server_closed"


class _Interrupted(Exception):
    """A bounded wait ended early: the server closed or the client went away."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------------------------
# Server base


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], owner: "FaultServer"):
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that resets its connection (a killed worker, a closed stream) is routine here, not an error.
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def do_GET(self) -> None:
        self.server.owner._dispatch(self, "GET")

    def do_POST(self) -> None:
        self.server.owner._dispatch(self, "POST")

    def do_DELETE(self) -> None:
        self.server.owner._dispatch(self, "DELETE")


class Exchange:
    """One request being answered: bounded waits, status/JSON replies, chunked streaming, faults."""

    def __init__(self, owner: "FaultServer", handler: _Handler, record: RequestRecord):
        self.owner = owner
        self.h = handler
        self.record = record
        self._chunked = False

    # -- waiting
    def pause(self, seconds: float) -> None:
        """Sleep up to `seconds`; raise _Interrupted if the server closes or the client disconnects first."""
        deadline = time.monotonic() + max(0.0, seconds)
        sock = self.h.connection
        while True:
            if self.owner._stopping.is_set():
                raise _Interrupted(SERVER_CLOSED)
            if _peer_gone(sock):
                raise _Interrupted(CLIENT_DISCONNECTED)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.owner._stopping.wait(min(0.02, left))

    def hang(self) -> None:
        self.pause(float("inf"))

    # -- writing
    def _write(self, data: bytes) -> None:
        try:
            self.h.wfile.write(data)
            self.h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise _Interrupted(CLIENT_DISCONNECTED) from exc
        now = time.monotonic()
        if self.record.first_byte_at is None:
            self.record.first_byte_at = now
        self.record.last_byte_at = now

    def start(self, status: int, content_type: str, headers: dict[str, str] | None = None, length: int | None = None) -> None:
        self.record.status = status
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"Content-Type: {content_type}"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if length is None:
            lines.append("Transfer-Encoding: chunked")
            self._chunked = True
        else:
            lines.append(f"Content-Length: {length}")
        self._write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def chunk(self, data: bytes) -> None:
        # Hand-written chunked framing: http.server has none, and we need to stop between chunks.
        if data:
            self._write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.record.chunks_sent += 1

    def end_chunks(self) -> None:
        self._write(b"0\r\n\r\n")

    def json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.start(status, "application/json", headers, length=len(body))
        self._write(body)

    def raw(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.start(status, content_type, length=len(body))
        self._write(body)

    def drop(self) -> None:
        """Close the connection without a byte of response (RST, like a crashed server)."""
        sock = self.h.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.h.close_connection = True
        self.record.outcome = DROPPED

    def hang_or_drop(self, mode: Mode) -> bool:
        """The two faults that come before any response: HANG waits until the client or the server gives up;
        DROP closes the connection and returns True (the handler has nothing more to do)."""
        if mode is Mode.HANG:
            self.hang()
        if mode is Mode.DROP:
            self.drop()
            return True
        return False

    def delay(self, base: float) -> float:
        return base + self.owner._jitter()


def _peer_gone(sock: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (ConnectionResetError, OSError, ValueError):
        return True


_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}

Route = Callable[[Exchange], None]


class FaultServer:
    """Base: lifecycle, schedule, records, dispatch. Subclasses register routes in `_routes()`."""

    #: paths (exact or regex) whose requests take a mode from the schedule; others always answer healthily
    faulty_paths: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        latency: Latency = Latency(),
        mode: Mode | Schedule = Mode.HEALTHY,
        reply: str | Callable[[RequestRecord], str] | None = None,
        stall_after_chunks: int = 2,
        trickle_interval_s: float = 2.0,
        retry_after_s: int = 1,
        think_text: str | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
    ):
        self.latency = latency
        self.reply = reply
        self.stall_after_chunks = stall_after_chunks
        self.trickle_interval_s = trickle_interval_s
        self.retry_after_s = retry_after_s
        self.think_text = think_text
        self._host = host
        self._lock = threading.Lock()
        self._schedule: Schedule = Always(mode) if isinstance(mode, Mode) else mode
        self._records: list[RequestRecord] = []
        self._rng = random.Random(seed)
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._route_table = self._routes()

    # -- lifecycle
    def start(self) -> "FaultServer":
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self._host, 0), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; every handler still waiting (hang, stall, trickle) ends within ~50 ms."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # wake handlers blocked on reading an idle keep-alive connection
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- faults
    def set_mode(self, mode: Mode) -> None:
        self.set_schedule(Always(mode))

    def set_schedule(self, schedule: Schedule) -> None:
        with self._lock:
            self._schedule = schedule

    def queue_modes(self, *modes: Mode, then: Mode = Mode.HEALTHY) -> None:
        self.set_schedule(InOrder(list(modes), then=then))

    def _next_mode(self) -> Mode:
        with self._lock:
            return self._schedule.next_mode()

    def _jitter(self) -> float:
        if self.latency.jitter_s <= 0:
            return 0.0
        with self._lock:
            return self._rng.uniform(0, self.latency.jitter_s)

    # -- records
    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def requests_to(self, path_suffix: str) -> list[RequestRecord]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RequestRecord]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= n:
                break
            time.sleep(0.01)
        return self.requests

    def clear_requests(self) -> None:
        with self._lock:
            self._records.clear()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # -- dispatch
    def _routes(self) -> list[tuple[str, re.Pattern[str], Route]]:
        raise NotImplementedError

    def _dispatch(self, handler: _Handler, method: str) -> None:
        path = urlsplit(handler.path).path
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            record = RequestRecord(
                index=len(self._records), method=method, path=path,
                headers={k.lower(): v for k, v in handler.headers.items()}, body=body,
                received_at=time.monotonic(),
            )
            self._records.append(record)
        ex = Exchange(self, handler, record)
        try:
            for route_method, pattern, route in self._route_table:
                match = pattern.fullmatch(path)
                if route_method == method and match:
                    handler.match = match  # type: ignore[attr-defined]
                    if self._takes_fault(record):
                        record.mode = self._next_mode()
                    route(ex)
                    break
            else:
                ex.json(404, {"error": f"no route for {method} {path}"})
                record.outcome = HTTP_ERROR
            if record.outcome is None:
                record.outcome = COMPLETED
        except _Interrupted as stop:
            record.outcome = record.outcome or stop.reason  # a malformed answer stays "malformed"
            handler.close_connection = True
        finally:
            record.ended_at = time.monotonic()
            record._done.set()

    def _takes_fault(self, record: RequestRecord) -> bool:
        return any(re.fullmatch(p, record.path) for p in self.faulty_paths)

    # -- shared helpers for generation routes
    def reply_text(self, record: RequestRecord) -> str:
        if callable(self.reply):
            return self.reply(record)
        if self.reply is not None:
            return self.reply
        return " ".join(f"w{i}" for i in range(self.latency.tokens))

    def pieces_for(self, record: RequestRecord, max_tokens: int | None, think: bool = True) -> tuple[list[str], bool]:
        """The answer as token pieces, and whether it was cut at max_tokens."""
        text = self.reply_text(record)
        if think and self.think_text:
            text = f"<think>{self.think_text}</think> {text}"
        pieces = tokenize(text)
        if max_tokens is not None and 0 <= max_tokens < len(pieces):
            return pieces[:max_tokens], True
        return pieces, False

    def stream_pieces(self, ex: Exchange, pieces: list[str], emit: Callable[[str], None]) -> None:
        """Send pieces with the healthy or trickle timing (the mode decides), stalling if asked."""
        mode = ex.record.mode or Mode.HEALTHY
        for i, piece in enumerate(pieces):
            if mode is Mode.STALL and i >= self.stall_after_chunks:
                ex.hang()
            if mode is Mode.TRICKLE:
                ex.pause(self.trickle_interval_s)
            else:
                ex.pause(ex.delay(self.latency.first_token_s if i == 0 else self.latency.gap_s))
            emit(piece)
        if mode is Mode.STALL:
            ex.hang()

    def wait_like_generation(self, ex: Exchange, n_pieces: int) -> None:
        """Non-streaming: the whole generation time passes before the answer."""
        mode = ex.record.mode or Mode.HEALTHY
        if mode is Mode.TRICKLE:
            ex.pause(self.trickle_interval_s * max(1, n_pieces))
        else:
            ex.pause(ex.delay(self.latency.first_token_s) + self.latency.gap_s * max(0, n_pieces - 1))


# --------------------------------------------------------------------------------------------------------------
# OpenAI-compatible (llama.cpp / OpenAI / OpenRouter flavours)


class OpenAIFaultServer(FaultServer):
    """POST /v1/chat/completions (any path ending in /chat/completions, so OpenRouter's /api/v1 works too),
    GET /v1/models, POST /extras/tokenize {"input"} and /tokenize {"content"} -> {"tokens"}.

    flavor: "llamacpp" (timings in the final chunk, llama.cpp error bodies), "openai" or "openrouter"
    (OpenAI error bodies). With `context_window` set, a prompt that does not fit is refused with the
    provider's real 400 answer, as is every request in Mode.CONTEXT_OVERFLOW.
    """

    faulty_paths = (r".*/chat/completions",)

    def __init__(self, *, flavor: str = "llamacpp", model: str = "fault-model", context_window: int | None = None,
                 timings: bool | None = None, **kwargs: Any):
        if flavor not in ("llamacpp", "openai", "openrouter"):
            raise ValueError(f"unknown flavor {flavor!r}")
        self.flavor = flavor
        self.model = model
        self.context_window = context_window
        self.timings = flavor == "llamacpp" if timings is None else timings
        super().__init__(**kwargs)

    def _routes(self) -> list[tuple[str, re.Pattern[str], Route]]:
        return [
            ("POST", re.compile(r".*/chat/completions"), self._chat),
            ("GET", re.compile(r"(/v1|/api/v1)?/models"), self._models),
            ("POST", re.compile(r"/extras/tokenize"), self._tokenize_extras),
            ("POST", re.compile(r"/extras/tokenize/count"), self._tokenize_count),
            ("POST", re.compile(r"/tokenize"), self._tokenize_llamacpp),
            ("GET", re.compile(r"/health"), lambda ex: ex.json(200, {"status": "ok"})),
        ]

    # -- simple endpoints
    def _models(self, ex: Exchange) -> None:
        ex.json(200, {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0,
                                                  "owned_by": "fault-server"}]})

    def _tokenize_extras(self, ex: Exchange) -> None:
        ex.json(200, {"tokens": token_ids(str((ex.record.body or {}).get("input", "")))})

    def _tokenize_count(self, ex: Exchange) -> None:
        ex.json(200, {"count": count_tokens(str((ex.record.body or {}).get("input", "")))})

    def _tokenize_llamacpp(self, ex: Exchange) -> None:
        ex.json(200, {"tokens": token_ids(str((ex.record.body or {}).get("content", "")))})

    # -- errors in each flavour's shape
    def _error(self, ex: Exchange, status: int, headers: dict[str, str] | None = None) -> None:
        if self.flavor == "llamacpp":
            kind = {429: "unavailable_error", 500: "server_error", 503: "unavailable_error"}[status]
            message = {429: "too many requests", 500: "internal server error", 503: "Loading model"}[status]
            body: dict[str, Any] = {"error": {"code": status, "message": message, "type": kind}}
        else:
            kind = {429: "rate_limit_error", 500: "server_error", 503: "service_unavailable"}[status]
            message = {429: "Rate limit reached for requests", 500: "The server had an error while processing your request.",
                       503: "The engine is currently overloaded, please try again later"}[status]
            body = {"error": {"message": message, "type": kind, "param": None,
                              "code": "rate_limit_exceeded" if status == 429 else None}}
        ex.json(status, body, headers)
        ex.record.outcome = HTTP_ERROR

    def _context_error(self, ex: Exchange, n_prompt: int) -> None:
        n_ctx = self.context_window or max(1, n_prompt - 1)
        if self.flavor == "llamacpp":
            body: dict[str, Any] = {"error": {
                "code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": n_prompt, "n_ctx": n_ctx,
                "message": "the request exceeds the available context size, try increasing it"}}
        else:
            body = {"error": {
                "message": (f"This model's maximum context length is {n_ctx} tokens. However, your messages "
                            f"resulted in {n_prompt} tokens. Please reduce the length of the messages."),
                "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}
        ex.json(400, body)
        ex.record.outcome = HTTP_ERROR

    # -- chat
    def _chat(self, ex: Exchange) -> None:
        rec = ex.record
        body = rec.body if isinstance(rec.body, dict) else {}
        rec.stream = bool(body.get("stream"))
        rec.prompt_tokens = prompt_tokens(body.get("messages") or [])
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        mode = rec.mode or Mode.HEALTHY

        if ex.hang_or_drop(mode):
            return
        if mode in (Mode.HTTP_429, Mode.HTTP_500, Mode.HTTP_503):
            status = int(mode.value.split("_")[1])
            headers = {"Retry-After": str(self.retry_after_s)} if status in (429, 503) else None
            return self._error(ex, status, headers)
        too_long = self.context_window is not None and (
            rec.prompt_tokens >= self.context_window if self.flavor == "llamacpp"
            else rec.prompt_tokens + int(max_tokens or 0) > self.context_window)
        if mode is Mode.CONTEXT_OVERFLOW or too_long:
            return self._context_error(ex, rec.prompt_tokens)

        pieces, cut = self.pieces_for(rec, None if max_tokens is None else int(max_tokens))
        finish = "length" if cut else "stop"
        usage = {"prompt_tokens": rec.prompt_tokens, "completion_tokens": len(pieces),
                 "total_tokens": rec.prompt_tokens + len(pieces)}
        cid = f"chatcmpl-fault-{rec.index}"
        created = int(time.time())
        model = str(body.get("model") or self.model)
        started = time.monotonic()

        if not rec.stream:
            self.wait_like_generation(ex, len(pieces))
            payload: dict[str, Any] = {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(pieces)},
                             "finish_reason": finish}],
                "usage": usage,
            }
            if self.timings:
                payload["timings"] = _timings(rec.prompt_tokens, len(pieces), started)
            if mode is Mode.MALFORMED:
                ex.raw(200, json.dumps(payload).encode()[:40])
                rec.outcome = MALFORMED
                return
            if mode is Mode.STALL:  # headers and half the body, then silence
                data = json.dumps(payload).encode()
                ex.start(200, "application/json", length=len(data))
                ex._write(data[: len(data) // 2])
                ex.hang()
            ex.json(200, payload)
            return

        ex.start(200, "text/event-stream", {"Cache-Control": "no-cache"})
        first = [True]

        def emit(piece: str) -> None:
            delta: dict[str, Any] = {"content": piece}
            if first[0]:
                delta["role"] = "assistant"
                first[0] = False
            ex.chunk(_sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                           "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}))
            if mode is Mode.MALFORMED and rec.chunks_sent == 1:
                ex.chunk(b'data: {"id": "' + cid.encode() + b'", "choices": [{"delta": {"content": "\n\n')
                rec.outcome = MALFORMED

        self.stream_pieces(ex, pieces, emit)
        final: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                                 "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": usage}
        if self.timings:
            final["timings"] = _timings(rec.prompt_tokens, len(pieces), started)
        ex.chunk(_sse(final))
        ex.chunk(b"data: [DONE]\n\n")
        ex.end_chunks()


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _timings(n_prompt: int, n_predicted: int, started: float) -> dict[str, float]:
    """llama.cpp server `timings`; prompt processing is taken as a fixed small share of the elapsed time."""
    elapsed_ms = (time.monotonic() - started) * 1000
    prompt_ms = min(elapsed_ms, 0.1 * elapsed_ms + 0.01 * n_prompt)
    predicted_ms = max(0.001, elapsed_ms - prompt_ms)
    return {
        "prompt_n": n_prompt, "prompt_ms": prompt_ms,
        "prompt_per_token_ms": prompt_ms / max(1, n_prompt),
        "prompt_per_second": 1000 * n_prompt / max(0.001, prompt_ms),
        "predicted_n": n_predicted, "predicted_ms": predicted_ms,
        "predicted_per_token_ms": predicted_ms / max(1, n_predicted),
        "predicted_per_second": 1000 * n_predicted / predicted_ms,
    }


# --------------------------------------------------------------------------------------------------------------
# Ollama


@dataclass
class _Loaded:
    size: int
    unload_at: float | None = None  # monotonic time the model leaves /api/ps (after keep_alive: 0)
    expires_at: str = "2099-01-01T00:00:00Z"


def _is_zero_keep_alive(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return value == 0
    return bool(re.fullmatch(r"0+(\.0+)?[smh]?", str(value).strip()))


class OllamaFaultServer(FaultServer):
    """POST /api/chat and /api/generate (NDJSON streams, or one JSON object with stream: false), GET /api/ps,
    /api/tags, /api/version, POST /api/show.

    Behaves like Ollama where it matters to a client:
    - a model is loaded on first use (`load_s`, reported as `load_duration`) and listed by /api/ps with
      size and size_vram; `keep_alive: 0` (on /api/generate without a prompt, or on a chat) unloads it,
      but it only leaves /api/ps `unload_delay_s` later, as a real GPU release does;
    - with `memory_bytes` set, loading a model that does not fit beside the loaded ones fails with a 500;
    - the context window is `options.num_ctx` (default `default_num_ctx`, 2048): a longer prompt is truncated
      silently, which this server makes visible by answering "TRUNCATED" (Mode.CONTEXT_OVERFLOW forces it);
    - final objects carry total_duration, load_duration, prompt_eval_count, prompt_eval_duration, eval_count
      and eval_duration in nanoseconds, measured from what the server really did.
    `think_text` models a reasoning model: with `think: true` it arrives in `message.thinking`, with `think`
    unset inline as `<think>...</think>`, with `think: false` not at all.
    """

    faulty_paths = (r"/api/chat", r"/api/generate")
    TRUNCATED = "TRUNCATED"

    def __init__(self, *, models: dict[str, int] | None = None, load_s: float = 0.0, unload_delay_s: float = 0.0,
                 default_num_ctx: int = 2048, context_length: int = 8192, memory_bytes: int | None = None,
                 vram_fraction: float = 1.0, **kwargs: Any):
        self.models = dict(models) if models is not None else {"llama3.2:3b": 2_019_393_189}
        self.load_s = load_s
        self.unload_delay_s = unload_delay_s
        self.default_num_ctx = default_num_ctx
        self.context_length = context_length
        self.memory_bytes = memory_bytes
        self.vram_fraction = vram_fraction
        self._loaded: dict[str, _Loaded] = {}
        super().__init__(**kwargs)

    def _routes(self) -> list[tuple[str, re.Pattern[str], Route]]:
        return [
            ("POST", re.compile(r"/api/chat"), self._chat),
            ("POST", re.compile(r"/api/generate"), self._generate),
            ("GET", re.compile(r"/api/ps"), self._ps),
            ("GET", re.compile(r"/api/tags"), self._tags),
            ("POST", re.compile(r"/api/show"), self._show),
            ("GET", re.compile(r"/api/version"), lambda ex: ex.json(200, {"version": "0.9.0"})),
            ("GET", re.compile(r"/"), lambda ex: ex.raw(200, b"Ollama is running", "text/plain")),
        ]

    def _takes_fault(self, record: RequestRecord) -> bool:
        body = record.body if isinstance(record.body, dict) else {}
        if record.path == "/api/generate" and not body.get("prompt"):
            return False  # load / unload requests are not generations
        return super()._takes_fault(record)

    # -- model state
    def loaded_models(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            for name in [n for n, m in self._loaded.items() if m.unload_at is not None and m.unload_at <= now]:
                del self._loaded[name]
            return sorted(self._loaded)

    def _resolve(self, name: str) -> str | None:
        if name in self.models:
            return name
        if ":" not in name and f"{name}:latest" in self.models:
            return f"{name}:latest"
        return None

    def _ensure_loaded(self, ex: Exchange, name: str) -> float | None:
        """Load the model if needed; returns the load time in seconds, or None after answering an error."""
        self.loaded_models()  # expire pending unloads
        with self._lock:
            current = self._loaded.get(name)
            if current is not None and current.unload_at is None:
                return 0.0
            size = self.models[name]
            others = sum(m.size for n, m in self._loaded.items() if n != name)
            if self.memory_bytes is not None and others + size > self.memory_bytes:
                gib = 1024 ** 3
                message = (f"model requires more system memory ({size / gib:.1f} GiB) than is available "
                           f"({max(0, self.memory_bytes - others) / gib:.1f} GiB)")
                fits = False
            else:
                fits = True
                self._loaded[name] = _Loaded(size=size)
        if not fits:
            ex.json(500, {"error": message})
            ex.record.outcome = HTTP_ERROR
            return None
        started = time.monotonic()
        if current is None or current.unload_at is not None:
            ex.pause(self.load_s)
        return time.monotonic() - started

    def _schedule_unload(self, name: str) -> None:
        with self._lock:
            if name in self._loaded:
                self._loaded[name].unload_at = time.monotonic() + self.unload_delay_s

    # -- endpoints
    def _ps(self, ex: Exchange) -> None:
        names = self.loaded_models()
        with self._lock:
            entries = [(n, self._loaded[n]) for n in names if n in self._loaded]
        ex.json(200, {"models": [{
            "name": n, "model": n, "size": m.size, "digest": _digest(n), "details": _details(),
            "expires_at": m.expires_at, "size_vram": int(m.size * self.vram_fraction)} for n, m in entries]})

    def _tags(self, ex: Exchange) -> None:
        ex.json(200, {"models": [{"name": n, "model": n, "modified_at": "2025-01-01T00:00:00Z", "size": size,
                                  "digest": _digest(n), "details": _details()} for n, size in self.models.items()]})

    def _show(self, ex: Exchange) -> None:
        body = ex.record.body if isinstance(ex.record.body, dict) else {}
        name = self._resolve(str(body.get("model") or body.get("name") or ""))
        if name is None:
            ex.json(404, {"error": f"model '{body.get('model') or body.get('name')}' not found"})
            ex.record.outcome = HTTP_ERROR
            return
        ex.json(200, {"modelfile": f"FROM {name}\n", "parameters": "", "template": "{{ .Prompt }}",
                      "details": _details(), "capabilities": ["completion"],
                      "model_info": {"general.architecture": "llama", "llama.context_length": self.context_length}})

    def _error(self, ex: Exchange, status: int) -> None:
        message = {429: "server busy, please try again.  maximum pending requests exceeded",
                   500: "llama runner process has terminated: signal: killed",
                   503: "server busy, please try again.  maximum pending requests exceeded"}[status]
        ex.json(status, {"error": message}, {"Retry-After": str(self.retry_after_s)} if status != 500 else None)
        ex.record.outcome = HTTP_ERROR

    def _chat(self, ex: Exchange) -> None:
        self._answer(ex, chat=True)

    def _generate(self, ex: Exchange) -> None:
        body = ex.record.body if isinstance(ex.record.body, dict) else {}
        if body.get("prompt"):
            return self._answer(ex, chat=False)
        name = self._resolve(str(body.get("model") or ""))
        if name is None:
            ex.json(404, {"error": f"model '{body.get('model')}' not found"})
            ex.record.outcome = HTTP_ERROR
            return
        now = _iso_now()
        if _is_zero_keep_alive(body.get("keep_alive")):
            self._schedule_unload(name)
            ex.json(200, {"model": name, "created_at": now, "response": "", "done": True, "done_reason": "unload"})
            return
        load = self._ensure_loaded(ex, name)
        if load is None:
            return
        ex.json(200, {"model": name, "created_at": now, "response": "", "done": True, "done_reason": "load"})

    def _answer(self, ex: Exchange, chat: bool) -> None:
        rec = ex.record
        body = rec.body if isinstance(rec.body, dict) else {}
        rec.stream = bool(body.get("stream", True))  # Ollama streams unless told not to
        requested = str(body.get("model") or "")
        name = self._resolve(requested)
        if name is None:
            ex.json(404, {"error": f"model \"{requested}\" not found, try pulling it first"})
            rec.outcome = HTTP_ERROR
            return
        messages = (body.get("messages") or []) if chat else [{"role": "user", "content": body.get("prompt", "")}]
        if not chat and body.get("system"):
            messages = [{"role": "system", "content": body["system"]}, *messages]
        rec.prompt_tokens = prompt_tokens(messages)
        options = rec.options
        num_ctx = int(options.get("num_ctx") or self.default_num_ctx)
        mode = rec.mode or Mode.HEALTHY

        if ex.hang_or_drop(mode):
            return
        if mode in (Mode.HTTP_429, Mode.HTTP_500, Mode.HTTP_503):
            return self._error(ex, int(mode.value.split("_")[1]))

        load_s = self._ensure_loaded(ex, name)
        if load_s is None:
            return
        rec.truncated = mode is Mode.CONTEXT_OVERFLOW or rec.prompt_tokens > num_ctx
        think = body.get("think")
        num_predict = options.get("num_predict")
        if rec.truncated:
            pieces, cut = [self.TRUNCATED], False
        else:
            pieces, cut = self.pieces_for(rec, None if num_predict in (None, -1) else int(num_predict),
                                          think=think is None)
        thinking = self.think_text if (think is True and self.think_text and not rec.truncated) else None
        prompt_eval_count = min(rec.prompt_tokens, num_ctx)
        created = _iso_now()
        after_load = time.monotonic()
        first_at: list[float] = []

        def frame(content: str) -> dict[str, Any]:
            if chat:
                message: dict[str, Any] = {"role": "assistant", "content": content}
                if thinking and not first_at:
                    message["thinking"] = thinking
                return {"model": name, "created_at": created, "message": message, "done": False}
            return {"model": name, "created_at": created, "response": content, "done": False}

        def final() -> dict[str, Any]:
            end = time.monotonic()
            first = first_at[0] if first_at else end
            out = frame("")
            out.update({
                "done": True, "done_reason": "length" if cut else "stop",
                "total_duration": int((end - rec.received_at) * 1e9), "load_duration": int(load_s * 1e9),
                "prompt_eval_count": prompt_eval_count, "prompt_eval_duration": int((first - after_load) * 1e9),
                "eval_count": len(pieces), "eval_duration": int((end - first) * 1e9),
            })
            if not chat:
                out["context"] = []
            return out

        if not rec.stream:
            self.wait_like_generation(ex, len(pieces))
            first_at.append(min(time.monotonic(), after_load + self.latency.first_token_s))
            payload = final()
            if chat:
                payload["message"]["content"] = "".join(pieces)
                if thinking:
                    payload["message"]["thinking"] = thinking
            else:
                payload["response"] = "".join(pieces)
            if mode is Mode.MALFORMED:
                ex.raw(200, json.dumps(payload).encode()[:30])
                rec.outcome = MALFORMED
                return
            if mode is Mode.STALL:
                data = json.dumps(payload).encode()
                ex.start(200, "application/json", length=len(data))
                ex._write(data[: len(data) // 2])
                ex.hang()
            ex.json(200, payload)
        else:
            ex.start(200, "application/x-ndjson")

            def emit(piece: str) -> None:
                line = frame(piece)
                if not first_at:
                    first_at.append(time.monotonic())
                ex.chunk(json.dumps(line).encode() + b"\n")
                if mode is Mode.MALFORMED and rec.chunks_sent == 1:
                    ex.chunk(b'{"model": "' + name.encode() + b'", "message": {"content": "\n')
                    rec.outcome = MALFORMED

            self.stream_pieces(ex, pieces, emit)
            ex.chunk(json.dumps(final()).encode() + b"\n")
            ex.end_chunks()
        if _is_zero_keep_alive(body.get("keep_alive")):
            self._schedule_unload(name)


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"


def _digest(name: str) -> str:
    return f"{zlib.crc32(name.encode()):08x}" * 8


def _details() -> dict[str, Any]:
    return {"format": "gguf", "family": "llama", "families": ["llama"], "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M"}


# --------------------------------------------------------------------------------------------------------------
# Bedrock Runtime (Converse API)

EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
_EVENTSTREAM_STRING = 7  # event-stream header value type: UTF-8 string


def eventstream_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message, the framing of every Bedrock streaming response.

    Prelude: total length (u32), headers length (u32), CRC32 of those eight bytes. Headers: name length (u8),
    name, value type (7, a string), value length (u16), value. Then the payload, then the CRC32 of everything
    before it. Integers are big-endian.
    """
    encoded = b"".join(_eventstream_header(name, value) for name, value in headers.items())
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _eventstream_header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
    return (struct.pack(">B", len(raw_name)) + raw_name
            + struct.pack(">BH", _EVENTSTREAM_STRING, len(raw_value)) + raw_value)


def _padding(n: int) -> str:
    """Bedrock pads event payloads with a `p` field of varying length, so sizes do not reveal the text."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return alphabet[: 1 + (n * 7) % len(alphabet)]


def _bedrock_event(event_type: str, payload: dict[str, Any], n: int) -> bytes:
    body = json.dumps({**payload, "p": _padding(n)}, separators=(",", ":")).encode()
    return eventstream_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}, body)


def _bedrock_exception_event(exception_type: str, message: str) -> bytes:
    """A modeled error inside an event stream (`:message-type: exception`), as Bedrock sends after a 200."""
    return eventstream_message(
        {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"},
        json.dumps({"message": message}).encode())


_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<access_key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request,"
    r"\s*SignedHeaders=(?P<signed_headers>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$")


def parse_sigv4(authorization: str | None) -> dict[str, Any] | None:
    """The parts of a SigV4 `Authorization` header (access key, date, region, service, signed headers as a list,
    signature), or None when the header is absent or not a SigV4 signature."""
    match = _SIGV4.match((authorization or "").strip())
    if match is None:
        return None
    parts: dict[str, Any] = match.groupdict()
    parts["signed_headers"] = parts["signed_headers"].split(";")
    return parts


def bedrock_prompt_tokens(body: dict[str, Any]) -> int:
    """The prompt size of a Converse request: its messages plus its system blocks, as `prompt_tokens` counts them."""
    system = body.get("system") or []
    system_tokens = sum(count_tokens(_content_text([block])) for block in system if isinstance(block, dict))
    return prompt_tokens(body.get("messages") or []) + (system_tokens + MESSAGE_OVERHEAD_TOKENS if system else 0)


class BedrockFaultServer(FaultServer):
    """Bedrock Runtime's Converse API: POST /model/{modelId}/converse (one JSON answer) and
    POST /model/{modelId}/converse-stream (an `application/vnd.amazon.eventstream` body of binary event-stream
    messages: messageStart, one contentBlockDelta per token, contentBlockStop, messageStop, metadata).

    Pointed at with `api_base=server.base_url` (litellm) or `endpoint_url=server.base_url` (boto3). Behaves like
    Bedrock where a client can tell:
    - requests must carry an `Authorization` header, a SigV4 signature or a Bedrock API key (`Bearer`): without
      one the answer is 403 MissingAuthenticationTokenException (`require_auth=False` lifts that). Signatures
      are not verified; `parse_sigv4(record.headers["authorization"])` shows what was signed for which region;
    - errors are JSON `{"message": ...}` with the error's name in `x-amzn-ErrorType`: 429 ThrottlingException,
      500 InternalServerException, 503 ServiceUnavailableException, 400 ValidationException "Input is too long
      for requested model." for a prompt beyond `context_window` (with the requested maxTokens) or in
      Mode.CONTEXT_OVERFLOW, 400 ValidationException for a model id not in `models` (when given);
    - with `errors_mid_stream=True` a converse-stream request in an error mode gets a 200 event stream whose
      only message is the modeled exception event (throttlingException, ...), as Bedrock sends mid-stream;
    - usage counts the system blocks and messages with the toy tokenizer; stopReason is max_tokens when
      inferenceConfig.maxTokens cut the answer, else end_turn; metrics.latencyMs is measured.
    HANG, STALL, TRICKLE, DROP and MALFORMED mean what they mean for the other servers (MALFORMED on a stream
    is a well-framed contentBlockDelta event whose JSON payload is cut off). `think_text` is not used.
    """

    faulty_paths = (r"/model/[^/]+/converse(-stream)?",)

    ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
    ERRORS: dict[int, tuple[str, str]] = {
        400: ("ValidationException", "Input is too long for requested model."),
        403: ("MissingAuthenticationTokenException", "Missing Authentication Token"),
        429: ("ThrottlingException", "Too many requests, please wait before trying again."),
        500: ("InternalServerException",
              "The system encountered an unexpected error during processing. Try your request again."),
        503: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
    }

    def __init__(self, *, models: Iterable[str] | None = None, context_window: int | None = None,
                 require_auth: bool = True, errors_mid_stream: bool = False, **kwargs: Any):
        self.models = None if models is None else set(models)
        self.context_window = context_window
        self.require_auth = require_auth
        self.errors_mid_stream = errors_mid_stream
        super().__init__(**kwargs)

    def _routes(self) -> list[tuple[str, re.Pattern[str], Route]]:
        return [
            ("POST", re.compile(r"/model/(?P<model>[^/]+)/converse"), self._converse_once),
            ("POST", re.compile(r"/model/(?P<model>[^/]+)/converse-stream"), self._converse_stream),
        ]

    @staticmethod
    def model_id(record: RequestRecord) -> str:
        """The model id of a recorded request, decoded (clients percent-encode the `:` of `...-v1:0`)."""
        match = re.fullmatch(r"/model/([^/]+)/converse(-stream)?", record.path)
        return unquote(match.group(1)) if match else ""

    @staticmethod
    def _request_id(record: RequestRecord) -> str:
        return f"00000000-0000-4000-8000-{record.index:012d}"

    # -- errors in Bedrock's shape
    def _error(self, ex: Exchange, status: int, message: str | None = None) -> None:
        error_type, default = self.ERRORS[status]
        ex.json(status, {"message": message or default}, {
            "x-amzn-ErrorType": error_type + self.ERROR_TYPE_SUFFIX,
            "x-amzn-RequestId": self._request_id(ex.record)})
        ex.record.outcome = HTTP_ERROR

    def _error_in_stream(self, ex: Exchange, status: int) -> None:
        error_type, message = self.ERRORS[status]
        ex.start(200, EVENTSTREAM_CONTENT_TYPE, {"x-amzn-RequestId": self._request_id(ex.record)})
        ex.pause(ex.delay(self.latency.first_token_s))
        ex.chunk(_bedrock_exception_event(error_type[0].lower() + error_type[1:], message))
        ex.end_chunks()
        ex.record.outcome = HTTP_ERROR

    def _authorized(self, record: RequestRecord) -> bool:
        auth = record.headers.get("authorization", "")
        return not self.require_auth or parse_sigv4(auth) is not None or auth.startswith("Bearer ")

    # -- converse / converse-stream
    def _converse_once(self, ex: Exchange) -> None:
        self._converse(ex, stream=False)

    def _converse_stream(self, ex: Exchange) -> None:
        self._converse(ex, stream=True)

    def _converse(self, ex: Exchange, stream: bool) -> None:
        rec = ex.record
        rec.stream = stream
        body = rec.body if isinstance(rec.body, dict) else {}
        rec.prompt_tokens = bedrock_prompt_tokens(body)
        max_tokens = (body.get("inferenceConfig") or {}).get("maxTokens")
        mode = rec.mode or Mode.HEALTHY

        if not self._authorized(rec):
            return self._error(ex, 403)
        if ex.hang_or_drop(mode):
            return
        if self.models is not None and self.model_id(rec) not in self.models:
            return self._error(ex, 400, "The provided model identifier is invalid.")
        too_long = self.context_window is not None and rec.prompt_tokens + int(max_tokens or 0) > self.context_window
        status = {Mode.HTTP_429: 429, Mode.HTTP_500: 500, Mode.HTTP_503: 503}.get(mode)
        if status is None and (mode is Mode.CONTEXT_OVERFLOW or too_long):
            status = 400
        if status is not None:
            return self._error_in_stream(ex, status) if stream and self.errors_mid_stream else self._error(ex, status)

        pieces, cut = self.pieces_for(rec, None if max_tokens is None else int(max_tokens), think=False)
        stop_reason = "max_tokens" if cut else "end_turn"
        usage = {"inputTokens": rec.prompt_tokens, "outputTokens": len(pieces),
                 "totalTokens": rec.prompt_tokens + len(pieces)}
        headers = {"x-amzn-RequestId": self._request_id(rec)}

        def latency_ms() -> int:
            return int((time.monotonic() - rec.received_at) * 1000)

        if not stream:
            self.wait_like_generation(ex, len(pieces))
            payload = {"output": {"message": {"role": "assistant", "content": [{"text": "".join(pieces)}]}},
                       "stopReason": stop_reason, "usage": usage, "metrics": {"latencyMs": latency_ms()}}
            if mode is Mode.MALFORMED:
                ex.raw(200, json.dumps(payload).encode()[:40])
                rec.outcome = MALFORMED
                return
            if mode is Mode.STALL:  # headers and half the body, then silence
                data = json.dumps(payload).encode()
                ex.start(200, "application/json", headers, length=len(data))
                ex._write(data[: len(data) // 2])
                ex.hang()
            ex.json(200, payload, headers)
            return

        ex.start(200, EVENTSTREAM_CONTENT_TYPE, headers)
        ex.chunk(_bedrock_event("messageStart", {"role": "assistant"}, 0))

        def emit(piece: str) -> None:
            ex.chunk(_bedrock_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}},
                                    rec.chunks_sent))
            if mode is Mode.MALFORMED and rec.outcome is None:
                ex.chunk(eventstream_message(
                    {":event-type": "contentBlockDelta", ":content-type": "application/json", ":message-type": "event"},
                    b'{"contentBlockIndex":0,"delta":{"text":"'))
                rec.outcome = MALFORMED

        self.stream_pieces(ex, pieces, emit)
        ex.chunk(_bedrock_event("contentBlockStop", {"contentBlockIndex": 0}, rec.chunks_sent))
        ex.chunk(_bedrock_event("messageStop", {"stopReason": stop_reason}, rec.chunks_sent))
        ex.chunk(_bedrock_event("metadata", {"usage": usage, "metrics": {"latencyMs": latency_ms()}}, rec.chunks_sent))
        ex.end_chunks()


@contextlib.contextmanager
def collector_paused():
    """No automatic garbage collection inside the block, one collection after it. A streamed response that litellm
    leaves unclosed (raw litellm calls in tests; the engine closes its own) finalised inside httpcore's
    connection-pool lock would freeze the thread for good (encode/httpcore#996); Bedrock's stream is one."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        if enabled:
            gc.enable()
