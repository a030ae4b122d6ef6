"""The one interface behind which each provider family keeps its differences.

The engine (`engine.py`, `attempt.py`) is generic: it fits the prompt, waits for a slot, streams, retries, falls
back and records. Whatever depends on the provider family goes through a `ProviderAdapter`: the request's
provider-specific fields and key, exact token counts from the server's tokenizer, a per-call context size, what
to do before a call (freeing a memory-bound server), what the stream carries besides the answer (server timings),
and the provider's warm-up request. `providers/__init__.py` maps a deployment to its adapter.

The base class is also the adapter of any other LiteLLM provider (anthropic/, gemini/, azure/...): LiteLLM speaks
its protocol; nothing here needs to know more.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..litellm_config import resolve_env_refs
from ..transport import AttemptError

if TYPE_CHECKING:
    import threading

    from ..models import PromptSpec
    from ..routing import Deployment
    from ..tokens import TokenCounter
    from ..transport import StreamResult

Messages = list[dict[str, str]]
Check = Callable[[str], None]  # raises when a text must not leave the process (the privacy gate's final check)


@dataclass(frozen=True)
class ServerReport:
    """What the server said about an answer beyond the text: timings (seconds, tokens/s) and token counts that
    take precedence over the usage block. Empty when the server reports nothing of its own."""

    timing: dict[str, float | None] = field(default_factory=dict)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def from_server(self) -> bool:
        return bool(self.timing)


@dataclass(frozen=True)
class PromptCut:
    """The server evaluated `evaluated` prompt tokens in a window too small for them plus the answer: the prompt
    may have been cut without a word. `grown` is the window to ask for next."""

    evaluated: int
    grown: int


class ProviderAdapter:
    """A provider family. Subclasses override only what their family does differently."""

    family: ClassVar[str] = "litellm"
    # Ask for the usage block in the stream's last chunk (`stream_options.include_usage`), or litellm drops the
    # server's token counts.
    stream_usage: ClassVar[bool] = False

    # --- the request ----------------------------------------------------------------------------------------
    def request(self, dep: Deployment, messages: Messages, prompt: PromptSpec, max_tokens: int,
                num_ctx: int | None) -> dict[str, Any]:
        """The keyword arguments for `litellm.completion` (without stream settings)."""
        kw: dict[str, Any] = {
            "model": dep.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": prompt.temperature,
            "num_retries": 0,  # retries are decided by the engine, per error class
        }
        if dep.api_base:
            kw["api_base"] = dep.api_base
        key = self.api_key(dep)
        if key:
            kw["api_key"] = key
        try:
            kw.update(resolve_env_refs(dep.litellm_params, dep.name))  # os.environ/VAR, as a LiteLLM proxy reads it
        except KeyError as e:
            raise AttemptError("permanent_error", "MissingCredential", e.args[0]) from None
        kw.update(self.provider_fields(dep, prompt, num_ctx))
        extra_body = self.extra_body(dep)
        if extra_body:
            kw["extra_body"] = extra_body
        return kw

    def api_key(self, dep: Deployment) -> str | None:
        if dep.api_key_env:
            value = os.environ.get(dep.api_key_env)
            if not value:
                raise AttemptError("permanent_error", "MissingCredential",
                                   f"environment variable {dep.api_key_env} (api_key_env of {dep.name}) is not set")
            return value
        return None

    def provider_fields(self, dep: Deployment, prompt: PromptSpec, num_ctx: int | None) -> dict[str, Any]:
        """Request fields of this family: JSON mode, usage in the stream."""
        kw: dict[str, Any] = {}
        if prompt.json_mode:
            kw["response_format"] = self.response_format(dep, prompt.json_schema)
        if self.stream_usage:
            kw["stream_options"] = {"include_usage": True}
        return kw

    def response_format(self, dep: Deployment, schema: dict[str, Any] | None) -> dict[str, Any]:
        """JSON mode, constrained to `schema` when given (OpenAI's `json_schema`, which litellm maps for others)."""
        if schema is None:
            return {"type": "json_object"}
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}

    def extra_body(self, dep: Deployment) -> dict[str, Any]:
        return dict(dep.extra_body)

    # --- token counting -------------------------------------------------------------------------------------
    def count_messages(self, dep: Deployment, messages: Messages, check: Check, counter: TokenCounter) -> int | None:
        """Exact prompt tokens from the server's tokenizer, or None (the counter then estimates). `check` runs on
        every text before it is sent to a tokenizer."""
        return None

    def count_text(self, dep: Deployment, text: str, check: Check, counter: TokenCounter) -> int | None:
        return None

    # --- the context window of one call ---------------------------------------------------------------------
    def num_ctx(self, prompt_tokens: int, max_tokens: int, dep: Deployment) -> int | None:
        """The window to ask the server for, per call (None: the server's own)."""
        return None

    def prompt_cut(self, dep: Deployment, result: StreamResult, num_ctx: int | None, max_tokens: int) -> PromptCut | None:
        """Whether the server may have cut the prompt to the window it was given (None: it did not, or cannot)."""
        return None

    # --- around the call ------------------------------------------------------------------------------------
    def before_send(self, dep: Deployment, switch_lock: threading.Lock) -> None:
        """Prepare the server (raises TimeoutError when it cannot be made ready in time)."""

    def watch_stream(self, wrapper: Any, server: dict[str, Any]) -> None:
        """Called once the stream is open: hook whatever the family reports outside the chunks into `server`."""

    def observe_chunk(self, chunk: Any, server: dict[str, Any]) -> None:
        """Called for every streamed chunk: keep what the family reports beside the text in `server`."""

    def server_memory(self, dep: Deployment) -> int | None:
        """Bytes the model occupies on the server after the call, where the server says."""
        return None

    def server_report(self, result: StreamResult) -> ServerReport:
        """Timings and token counts the server reported (from what `watch_stream`/`observe_chunk` kept)."""
        return ServerReport()

    # --- warm-up ----------------------------------------------------------------------------------------------
    def warm_up_request(self, provider: str) -> dict[str, Any] | None:
        """A request to a closed local port that walks litellm's code path for `provider` (None: no warm-up)."""
        return None
