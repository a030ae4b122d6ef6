"""OpenRouter (`openrouter/` models): always external; every request tells OpenRouter to route only to
providers that do not collect data (`provider.data_collection: deny`), whatever else `extra_body` says."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .base import ProviderAdapter

if TYPE_CHECKING:
    from ..routing import Deployment


class OpenRouterAdapter(ProviderAdapter):
    family: ClassVar[str] = "openrouter"
    stream_usage: ClassVar[bool] = True

    def extra_body(self, dep: Deployment) -> dict[str, Any]:
        body = super().extra_body(dep)
        provider = dict(body.get("provider") or {})
        provider["data_collection"] = "deny"
        body["provider"] = provider
        return body
