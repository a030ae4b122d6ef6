"""vLLM (`hosted_vllm/` models, or `openai/` with `tokenizer: vllm`): OpenAI-compatible, and with
`tokenizer: vllm` prompts are counted exactly through the server's `/tokenize` (chat template applied)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .base import Check, Messages
from .openai_compatible import OpenAICompatibleAdapter, server_root

if TYPE_CHECKING:
    from ..routing import Deployment
    from ..tokens import TokenCounter


class VLLMAdapter(OpenAICompatibleAdapter):
    family: ClassVar[str] = "vllm"

    def count_messages(self, dep: Deployment, messages: Messages, check: Check, counter: TokenCounter) -> int | None:
        if dep.tokenizer != "vllm":
            return super().count_messages(dep, messages, check, counter)
        model = dep.model.split("/", 1)[1]

        def call() -> int:
            for m in messages:
                check(m["content"])
            r = counter.client.post(f"{server_root(dep.api_base)}/tokenize", json={"model": model, "messages": messages})
            r.raise_for_status()
            body = r.json()
            return int(body["count"]) if "count" in body else len(body["tokens"])

        key_text = "\x1e".join(f"{m['role']}\x1f{m['content']}" for m in messages)
        return counter.remember((dep.server_key, "vllm", key_text), call)
