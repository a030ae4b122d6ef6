"""The single gate every outbound LLM request passes before it leaves the process.

`protect_outbound(messages, deployment, ctx)` returns the messages to send and a function that restores the
answer. Today it allows `local` deployments and `private_cloud` deployments that do not require redaction, and
refuses the rest: the redaction engine (placeholders from `case.yaml` parties, re-identification of the answer)
plugs in here, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import CallContext
    from .routing import Deployment

Messages = list[dict[str, str]]
Restore = Callable[[str], str]


class PrivacyRefusal(RuntimeError):
    """Case data would go to a deployment whose privacy class does not allow it (unredacted)."""

    def __init__(self, deployment: str, rule: str):
        super().__init__(f"privacy gate refused deployment {deployment!r}: {rule}")
        self.deployment = deployment
        self.rule = rule


def _identity(text: str) -> str:
    return text


def protect_outbound(messages: Messages, deployment: "Deployment", ctx: "CallContext") -> tuple[Messages, Restore]:
    if deployment.privacy == "external":
        raise PrivacyRefusal(
            deployment.name,
            "privacy 'external' requires redaction of case data, and no redaction engine is installed",
        )
    if deployment.privacy == "private_cloud" and deployment.require_redaction:
        raise PrivacyRefusal(
            deployment.name,
            "privacy 'private_cloud' with require_redaction: true, and no redaction engine is installed",
        )
    return messages, _identity
