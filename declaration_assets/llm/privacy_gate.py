"""The single gate every outbound LLM request passes before it leaves the process.

`protect_outbound(messages, deployment, ctx)` returns the messages to send and a function that restores the
answer:

- `local`, and `private_cloud` without `require_redaction`: sent as they are.
- `external`, and `private_cloud` with `require_redaction: true`: every sensitive string of the case (`case.yaml`
  parties, plus pattern recognizers) becomes a case-stable placeholder; the answer is re-identified. Refused,
  before a byte is sent, when the deployment switches redaction off (`redaction: false`), when the call carries no
  case record or the case lists no parties (names that appear only in documents cannot be found without a
  named-entity model), or when the final check still finds a sensitive string after redaction.

Refusal messages name the deployment and the rule, never a sensitive value (they go to the call log).
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


def needs_redaction(deployment: "Deployment") -> bool:
    return deployment.privacy == "external" or (deployment.privacy == "private_cloud" and deployment.require_redaction)


def protect_outbound(messages: Messages, deployment: "Deployment", ctx: "CallContext") -> tuple[Messages, Restore]:
    if not needs_redaction(deployment):
        return messages, _identity
    where = (f"privacy '{deployment.privacy}'" + (" with require_redaction: true" if deployment.privacy == "private_cloud"
                                                  else ""))
    # `redaction: false` on a deployment cannot buy an exception: such a route is refused, not sent in clear.
    if not deployment.redaction:
        raise PrivacyRefusal(deployment.name, f"{where} requires redaction, and the deployment switches it off "
                                              "(redaction: false)")
    record = ctx.case_record
    if record is None:
        raise PrivacyRefusal(deployment.name, f"{where} requires redaction, and the call carries no case record "
                                              f"(CallContext.case_record) for case {ctx.case_id!r}")
    if record.case_id != ctx.case_id:
        raise PrivacyRefusal(deployment.name, f"{where}: the call's case record is for {record.case_id!r}, "
                                              f"not {ctx.case_id!r}")
    if not record.parties:
        raise PrivacyRefusal(deployment.name, f"{where} requires redaction, and case.yaml of {record.case_id} lists "
                                              "no parties: without them names cannot be found (no offline "
                                              "named-entity model), so the case may not use external routes")
    from ..privacy.gate import RedactionLeak, redact_messages  # imported here: local routes never load it

    try:
        return redact_messages(messages, record)
    except RedactionLeak as e:
        raise PrivacyRefusal(deployment.name, f"{where}: {e}") from None
    except (OSError, ValueError) as e:
        # The placeholder map could not be read or written: without it answers cannot be restored consistently.
        raise PrivacyRefusal(deployment.name, f"{where}: redaction unavailable ({type(e).__name__})") from None
