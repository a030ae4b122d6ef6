"""OpenAI-compatible servers (`openai/` models): llama.cpp's server (the embedded one included), LM Studio, any
server speaking OpenAI's chat API.

- A local server ignores the key, but the OpenAI client insists on one: a placeholder is sent.
- With `tokenizer: llamacpp`, prompts are counted exactly through llama.cpp's `/extras/tokenize`, and a JSON schema
  goes inside `json_object` (llama.cpp compiles it to a grammar).
- llama.cpp puts its `timings` (prompt and generation times) in the last chunk; they become the record's timings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .base import Check, Messages, ProviderAdapter, ServerReport

if TYPE_CHECKING:
    from ..routing import Deployment
    from ..tokens import TokenCounter
    from ..transport import StreamResult

LOCAL_PLACEHOLDER_KEY = "not-needed"
# llama.cpp's `/extras/tokenize` tokenizes raw text, not the chat template. ChatML-style templates add at most
# 5 tokens per message plus 3 to open the answer; 8 per message covers them with room to spare.
TEMPLATE_TOKENS_PER_MESSAGE = 8


def server_root(api_base: str | None) -> str:
    """The server's root URL (tokenizer endpoints sit beside `/v1`, not under it)."""
    base = (api_base or "").rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


class OpenAICompatibleAdapter(ProviderAdapter):
    family: ClassVar[str] = "openai-compatible"
    stream_usage: ClassVar[bool] = True

    def api_key(self, dep: Deployment) -> str | None:
        key = super().api_key(dep)
        if key is None and dep.privacy == "local":
            return LOCAL_PLACEHOLDER_KEY  # the OpenAI client insists on a key; local servers ignore it
        return key

    def response_format(self, dep: Deployment, schema: dict[str, Any] | None) -> dict[str, Any]:
        if schema is not None and dep.tokenizer == "llamacpp":
            return {"type": "json_object", "schema": schema}  # llama.cpp's server compiles it to a grammar
        return super().response_format(dep, schema)

    # --- llama.cpp's tokenizer ----------------------------------------------------------------------------------
    def count_messages(self, dep: Deployment, messages: Messages, check: Check, counter: TokenCounter) -> int | None:
        if dep.tokenizer != "llamacpp":
            return None
        return sum(self._llamacpp_tokens(dep, m["content"], check, counter) + TEMPLATE_TOKENS_PER_MESSAGE
                   for m in messages)

    def count_text(self, dep: Deployment, text: str, check: Check, counter: TokenCounter) -> int | None:
        if dep.tokenizer != "llamacpp":
            return None
        return self._llamacpp_tokens(dep, text, check, counter)

    @staticmethod
    def _llamacpp_tokens(dep: Deployment, text: str, check: Check, counter: TokenCounter) -> int:
        def call() -> int:
            check(text)
            r = counter.client.post(f"{server_root(dep.api_base)}/extras/tokenize", json={"input": text})
            r.raise_for_status()
            return len(r.json()["tokens"])

        return counter.remember((dep.server_key, "llamacpp", text), call)

    # --- llama.cpp's timings ------------------------------------------------------------------------------------
    def observe_chunk(self, chunk: Any, server: dict[str, Any]) -> None:
        timings = getattr(chunk, "timings", None)
        if isinstance(timings, dict):
            server["timings"] = timings

    def server_report(self, result: StreamResult) -> ServerReport:
        tm = result.server.get("timings")
        if not tm:
            return ServerReport()
        return ServerReport(timing={
            "prompt_eval_s": tm["prompt_ms"] / 1000 if tm.get("prompt_ms") is not None else None,
            "generation_s": tm["predicted_ms"] / 1000 if tm.get("predicted_ms") is not None else None,
            "tokens_per_s": tm.get("predicted_per_second"),
        })

    def warm_up_request(self, provider: str) -> dict[str, Any] | None:
        return {"model": f"{provider}/warm-up", "api_base": "http://127.0.0.1:9/v1", "api_key": "warm-up"}
