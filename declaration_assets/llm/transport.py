"""One streamed request to one deployment, bounded by deadlines, with the connection closed on breach.

`litellm.completion(stream=True, stream_timeout=...)` makes the HTTP client's read timeout cover the wait for
the response headers and every gap between chunks. That alone cannot express three deadlines (first token,
stall, total): a server that trickles a token every few seconds never trips a read timeout. So the read timeout
is set to the time left before the first-token or total deadline, and a watchdog thread re-armed at every chunk
shuts the socket down when the first-token, stall or total deadline passes. Shutting the socket (rather than
only closing the response object) wakes the blocked read at once and tells the server the client has gone, so
a server such as Ollama stops generating. No subprocess is involved.
"""

from __future__ import annotations

import json
import re
import inspect
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from ._litellm import litellm



@dataclass
class StreamResult:
    text: str
    ttft_s: float | None
    latency_s: float
    usage: dict[str, Any] = field(default_factory=dict)
    # What the provider reported beside the text, as its adapter kept it (llama.cpp's `timings`, Ollama's final
    # object); read back by the same adapter (`providers/`).
    server: dict[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None


class StreamHooks(Protocol):
    """What a provider adapter may watch in a stream (`providers/base.py`)."""

    def watch_stream(self, wrapper: Any, server: dict[str, Any]) -> None: ...

    def observe_chunk(self, chunk: Any, server: dict[str, Any]) -> None: ...


class AttemptError(Exception):
    """An attempt failed; `outcome` is a call-record outcome, `error_class` the exception's class name."""

    def __init__(self, outcome: str, error_class: str, message: str, *, ttft_s: float | None = None,
                 latency_s: float | None = None, retry_after_s: float | None = None):
        super().__init__(message)
        self.outcome = outcome
        self.error_class = error_class
        self.message = message
        self.ttft_s = ttft_s
        self.latency_s = latency_s
        self.retry_after_s = retry_after_s


class _Watchdog:
    """Shuts a socket down when the current deadline passes. One thread per attempt, ended in `stop()`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._reason = ""
        self._sock: socket.socket | None = None
        self._stopped = False
        self.fired: str | None = None
        self._thread = threading.Thread(target=self._run, name="llm-deadline-watchdog", daemon=True)
        self._thread.start()

    def arm(self, deadline: float, reason: str, sock: socket.socket | None = None) -> None:
        with self._cond:
            self._deadline, self._reason = deadline, reason
            if sock is not None:
                self._sock = sock
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(timeout=left)
                    continue
                self.fired = self._reason
                if self._sock is not None:
                    try:
                        self._sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return


def _response_in_generators(gen: Any, depth: int = 4) -> httpx.Response | None:
    """The httpx.Response under a chain of not-yet-started generators. litellm's Bedrock stream is
    `decoder.iter_bytes(response.iter_bytes())`, with no attribute pointing at the response; the response must
    still be found, to watch its socket and to close it. An unclosed response left to the garbage collector can
    be finalised while httpcore holds its connection-pool lock, in the next request of the same thread, and that
    thread then waits on itself for ever (encode/httpcore#996)."""
    for _ in range(depth):
        frame = getattr(gen, "gi_frame", None)
        if not inspect.isgenerator(gen) or frame is None:
            return None
        local = frame.f_locals
        if isinstance(local.get("self"), httpx.Response):
            return local["self"]
        gen = next((v for v in local.values() if inspect.isgenerator(v)), None)
    return None


def _http_response(wrapper: Any) -> httpx.Response | None:
    stream = getattr(wrapper, "completion_stream", None)
    for attr in ("response", "http_response"):
        resp = getattr(stream, attr, None)
        if isinstance(resp, httpx.Response):
            return resp
    return _response_in_generators(stream)


def _socket_of(resp: httpx.Response | None) -> socket.socket | None:
    if resp is None:
        return None
    net = resp.extensions.get("network_stream")
    try:
        sock = net.get_extra_info("socket") if net is not None else None
    except Exception:  # noqa: BLE001 - transport-specific; without a socket the read timeout still bounds the wait
        return None
    return sock if isinstance(sock, socket.socket) else None


def _widen_read_timeout(resp: httpx.Response | None, seconds: float) -> None:
    """Let every later read of the body wait up to `seconds`.

    `stream_timeout` is one HTTP read timeout for the wait for the headers *and* every gap between chunks. Set to
    the first-token deadline, it would cut a healthy stream whose gaps exceed that but are within `stall_s`. Once
    the headers are in, the watchdog holds the socket and enforces the stall and total deadlines exactly, so the
    read timeout of the body becomes a backstop at the longer of the two waits. httpcore reads the timeout from
    the request's `timeout` extension when the body iteration starts, which has not happened yet here."""
    timeouts = resp.request.extensions.get("timeout") if resp is not None else None
    if isinstance(timeouts, dict) and timeouts.get("read") is not None and timeouts["read"] < seconds:
        timeouts["read"] = seconds


def _close(wrapper: Any, resp: httpx.Response | None) -> None:
    for closer in (getattr(getattr(wrapper, "completion_stream", None), "close", None), getattr(resp, "close", None)):
        if closer is not None:
            try:
                closer()
            except Exception:  # noqa: BLE001 - closing a broken stream may raise; the socket is gone either way
                pass


def _retry_after(exc: BaseException) -> float | None:
    resp = getattr(exc, "response", None)
    headers = getattr(resp, "headers", None) or getattr(exc, "headers", None) or {}
    try:
        value = headers.get("retry-after") if hasattr(headers, "get") else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and all(cur is not e for e in out) and len(out) < 20:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


_TIMEOUTS = (litellm.Timeout, httpx.TimeoutException, TimeoutError, socket.timeout)
_CONTEXT_TEXT = re.compile(
    r"context (length|window)|too many tokens|maximum context|exceeds? the (available )?context", re.I)
_NO_CREDENTIALS = re.compile(r"Missing credentials|No API key|api[_ ]key (is )?(not set|missing|required)", re.I)
_MALFORMED_TEXT = re.compile(
    r"JSONDecodeError|Expecting value|Unterminated string|Extra data|Invalid control character|not valid JSON|"
    r"Expecting ',' delimiter|Expecting property name")


def classify(exc: BaseException) -> tuple[str, str]:
    """Map an exception raised by litellm (or the HTTP stack under it) to a call-record outcome.

    litellm wraps errors in layers (a malformed stream chunk surfaces as MidStreamFallbackError, a dropped
    connection as InternalServerError), so the whole cause chain is examined, most specific cause first.
    """
    name = type(exc).__name__
    chain = _chain(exc)
    if any(isinstance(e, litellm.ContextWindowExceededError) for e in chain):
        return "context_overflow", name
    if any(isinstance(e, _TIMEOUTS) for e in chain):
        return "timeout", name
    if any(isinstance(e, (json.JSONDecodeError, UnicodeDecodeError)) or _MALFORMED_TEXT.search(str(e)) for e in chain):
        return "bad_response", name
    status = getattr(exc, "status_code", None)
    if isinstance(exc, litellm.RateLimitError) or status == 429:
        return "rate_limited", name
    if isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError, litellm.NotFoundError)) or status in (
        401, 403, 404) or _NO_CREDENTIALS.search(str(exc)):
        return "permanent_error", name
    if isinstance(exc, litellm.BadRequestError) or status in (400, 413, 422):
        if _CONTEXT_TEXT.search(str(exc)):
            return "context_overflow", name
        return "permanent_error", name
    if any(isinstance(e, (httpx.TransportError, ConnectionError)) for e in chain) or any(
        type(e).__module__.startswith("httpcore") for e in chain
    ):
        return "connection_error", name
    if isinstance(exc, (litellm.InternalServerError, litellm.ServiceUnavailableError)) or (
        isinstance(status, int) and status >= 500
    ):
        return "server_error", name
    if isinstance(exc, (litellm.APIConnectionError, OSError)):
        return "connection_error", name
    return "bad_response", name


@dataclass
class _Collected:
    """What a stream has delivered so far."""

    start: float
    ttft: float | None = None
    got_chunk: bool = False
    parts: list[str] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    finish: str | None = None
    server: dict[str, Any] = field(default_factory=dict)

    def take(self, chunk: Any, now: float) -> None:
        self.got_chunk = True
        for ch in getattr(chunk, "choices", None) or []:
            delta = getattr(ch, "delta", None)
            content = getattr(delta, "content", None) if delta is not None else None
            if content:
                if self.ttft is None:
                    self.ttft = now - self.start
                self.parts.append(content)
            if getattr(ch, "finish_reason", None):
                self.finish = ch.finish_reason
        u = getattr(chunk, "usage", None)
        if u is not None:
            self.usage = u.model_dump() if hasattr(u, "model_dump") else dict(u)


def stream_completion(
    kwargs: dict[str, Any],
    *,
    first_token_s: float,
    stall_s: float,
    total_deadline: float,
    total_reason: str = "deadline_total",
    hooks: StreamHooks | None = None,
) -> StreamResult:
    """Stream one completion. Raises `AttemptError` on any failure, with the outcome already classified.

    `total_deadline` is a `time.monotonic()` instant (the earlier of the deployment's total deadline and any
    time budget); `total_reason` is the outcome reported when it is the deadline that ends the attempt. `hooks`
    (the deployment's provider adapter) keeps what the provider reports beside the text.
    """
    start = time.monotonic()
    first_deadline = min(start + first_token_s, total_deadline)
    first_reason = "deadline_first_token" if start + first_token_s <= total_deadline else total_reason
    dog = _Watchdog()
    dog.arm(first_deadline, first_reason)
    got = _Collected(start)
    wrapper: Any = None
    resp: httpx.Response | None = None
    try:
        try:
            wrapper = litellm.completion(**kwargs, stream=True, stream_timeout=max(0.05, first_deadline - start))
            resp = _http_response(wrapper)
            dog.arm(first_deadline, first_reason, _socket_of(resp))
            _widen_read_timeout(resp, min(max(first_token_s, stall_s), max(0.05, total_deadline - start)))
            if hooks is not None:
                hooks.watch_stream(wrapper, got.server)
            _read(wrapper, got, dog, hooks, stall_s, total_deadline, total_reason)
        except Exception as exc:  # noqa: BLE001 - every failure is classified into a record
            raise _attempt_error(exc, got, dog, total_deadline, total_reason) from exc
        elapsed = time.monotonic() - start
        if dog.fired:
            raise AttemptError(dog.fired, "DeadlineExceeded", _deadline_message(dog.fired, elapsed),
                               ttft_s=got.ttft, latency_s=elapsed)
        return StreamResult(text="".join(got.parts), ttft_s=got.ttft, latency_s=elapsed, usage=got.usage,
                            server=got.server, finish_reason=got.finish)
    finally:
        dog.stop()
        _close(wrapper, resp)


def _read(wrapper: Any, got: _Collected, dog: _Watchdog, hooks: StreamHooks | None, stall_s: float,
          total_deadline: float, total_reason: str) -> None:
    """Read the stream into `got`, re-arming the watchdog at every chunk (stall deadline, capped by the total)."""
    for chunk in wrapper:
        now = time.monotonic()
        stall_deadline = now + stall_s
        if stall_deadline < total_deadline:
            dog.arm(stall_deadline, "deadline_stall")
        else:
            dog.arm(total_deadline, total_reason)
        got.take(chunk, now)
        if hooks is not None:
            hooks.observe_chunk(chunk, got.server)
        if dog.fired:
            break
        if now >= total_deadline:
            dog.fired = total_reason
            break


def _attempt_error(exc: Exception, got: _Collected, dog: _Watchdog, total_deadline: float,
                   total_reason: str) -> AttemptError:
    """The classified failure of an attempt: a deadline the watchdog enforced, a read timeout told apart by when
    it happened, or the provider's error."""
    elapsed = time.monotonic() - got.start
    if dog.fired:
        return AttemptError(dog.fired, type(exc).__name__, _deadline_message(dog.fired, elapsed),
                            ttft_s=got.ttft, latency_s=elapsed)
    outcome, name = classify(exc)
    if outcome == "timeout":
        if time.monotonic() >= total_deadline - 0.05:
            outcome = total_reason
        else:
            outcome = "deadline_stall" if got.got_chunk else "deadline_first_token"
        return AttemptError(outcome, name, _deadline_message(outcome, elapsed), ttft_s=got.ttft, latency_s=elapsed)
    return AttemptError(outcome, name, _short(exc), ttft_s=got.ttft, latency_s=elapsed,
                        retry_after_s=_retry_after(exc))


def _deadline_message(outcome: str, elapsed: float) -> str:
    what = {
        "deadline_first_token": "no first token before the first-token deadline",
        "deadline_stall": "the stream stalled longer than the stall deadline",
        "deadline_total": "the answer did not finish before the total deadline",
        "budget_exhausted": "the asset's time budget ran out",
    }.get(outcome, outcome)
    return f"{what} (after {elapsed:.2f} s); connection closed"


def _short(exc: BaseException, limit: int = 300) -> str:
    """An error message for records: the first line, bounded (provider errors can echo the request)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:limit]


_WARM: set[str] = set()
_WARM_LOCK = threading.Lock()


def warm_up(requests: dict[str, dict[str, Any] | None]) -> None:
    """Load litellm's provider code paths once per process, so the first call's deadlines measure the server.

    litellm imports its HTTP stack and provider modules on first use (1-3 s on a busy 2-core machine, longer
    than a tight first-token deadline). `requests` gives, per provider, a request to a closed local port (the
    discard port; each provider adapter writes its own) that walks that path without reaching any server; a
    provider without one (None) is not warmed.
    """
    with _WARM_LOCK:
        todo = sorted(p for p, kw in requests.items() if p not in _WARM and kw is not None)
        for provider in todo:
            try:
                wrapper = litellm.completion(**requests[provider], stream=True, stream_timeout=2, num_retries=0,
                                             messages=[{"role": "user", "content": "."}], max_tokens=1)
                for _ in wrapper:
                    break
            except Exception:  # noqa: BLE001 - the request is meant to fail; only the imports matter
                pass
            _WARM.add(provider)
