"""Provider families as adapters (`base.ProviderAdapter`); `adapter_for` maps a deployment to its family's.

To add a family: a module here with a `ProviderAdapter` subclass overriding what the family does differently,
and a line in `adapter_for`. A provider LiteLLM speaks with no difference worth an adapter needs nothing here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import PromptCut, ProviderAdapter, ServerReport
from .bedrock import BedrockAdapter
from .ollama import OllamaAdapter
from .openai_compatible import OpenAICompatibleAdapter
from .openrouter import OpenRouterAdapter
from .vllm import VLLMAdapter

if TYPE_CHECKING:
    from ..routing import Deployment

OLLAMA = OllamaAdapter()
BEDROCK = BedrockAdapter()
OPENROUTER = OpenRouterAdapter()
VLLM = VLLMAdapter()
OPENAI_COMPATIBLE = OpenAICompatibleAdapter()
LITELLM = ProviderAdapter()  # any other provider LiteLLM speaks

_BY_PROVIDER: dict[str, ProviderAdapter] = {
    "ollama": OLLAMA, "ollama_chat": OLLAMA, "bedrock": BEDROCK, "openrouter": OPENROUTER, "hosted_vllm": VLLM,
    "openai": OPENAI_COMPATIBLE,
}


def adapter_for(dep: Deployment) -> ProviderAdapter:
    """The adapter of `dep`'s provider family (its LiteLLM model prefix; `openai/` with `tokenizer: vllm` is vLLM)."""
    if dep.provider == "openai" and dep.tokenizer == "vllm":
        return VLLM
    return _BY_PROVIDER.get(dep.provider, LITELLM)


def adapter_for_provider(provider: str) -> ProviderAdapter:
    return _BY_PROVIDER.get(provider, LITELLM)


__all__ = ["ProviderAdapter", "PromptCut", "ServerReport", "adapter_for", "adapter_for_provider"]
