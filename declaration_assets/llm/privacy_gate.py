"""The single gate every outbound LLM request passes before it leaves the process.

`protect_prompt(prompt, deployment, ctx)` runs once per deployment of a call, before anything is counted or sent,
and returns an `Outbound`: the prompt that may be counted, fitted and sent, a `check` that every text must pass
just before it leaves (chat and tokenizer requests alike), and a function that restores the answer:

- `local`, and `private_cloud` without `require_redaction`: sent as they are.
- `external`, and `private_cloud` with `require_redaction: true`: every sensitive string of the case (`case.yaml`
  parties, plus pattern recognizers) becomes a case-stable placeholder; the answer is re-identified. The system
  text, the user template and each evidence item are redacted separately with one case map, so the redacted
  prompt can still be fitted by dropping whole evidence items, and a server tokenizer only ever sees redacted
  text. Refused, before a byte is sent, when the deployment switches redaction off (`redaction: false`), when the
  call carries no case record or the case lists no parties (names that appear only in documents cannot be found
  without a named-entity model), or when the final check still finds a sensitive string in a text about to leave.

`protect_outbound(messages, deployment, ctx)` is the same gate for ready-made messages.

Refusal messages name the deployment and the rule, never a sensitive value (they go to the call log).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .models import EVIDENCE_SLOT, PromptSpec

if TYPE_CHECKING:
    from ..cases.models import CaseRecord
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


def _where(deployment: "Deployment") -> str:
    return f"privacy '{deployment.privacy}'" + (" with require_redaction: true" if deployment.privacy == "private_cloud"
                                                 else "")


def _record_for(deployment: "Deployment", ctx: "CallContext") -> "CaseRecord":
    """The case record redaction works from; refuses when redaction is off or impossible."""
    where = _where(deployment)
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
    declarant = next((p for p in record.parties if p.role == "declarant"), None)
    if declarant is None or not (declarant.name or "").strip():
        # The declarant's name is the one most often written in the documents; without it in case.yaml it would
        # go out in clear wherever a document spells it.
        raise PrivacyRefusal(deployment.name, f"{where} requires redaction, and case.yaml of {record.case_id} "
                                              + ("names no declarant" if declarant is None else
                                                 "gives the declarant no name")
                                              + ": the declarant's name could not be redacted, so the case may not "
                                                "use external routes")
    return record


@dataclass
class Outbound:
    """What may leave the process for one deployment. `check(text)` raises `PrivacyRefusal` when a text about to
    be sent still holds case data; each distinct text is examined once (a fitted prompt's pieces were usually
    examined already on their way to the tokenizer)."""

    prompt: PromptSpec
    restore: Restore
    redacted: bool
    _deployment: str = ""
    _where: str = ""
    _record: "CaseRecord | None" = None
    _checked: set[bytes] = field(default_factory=set)

    def check(self, text: str) -> None:
        if not self.redacted:
            return
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
        if digest in self._checked:
            return
        from ..privacy.gate import RedactionLeak, check_leaks

        try:
            check_leaks([text], self._record)
        except RedactionLeak as e:
            raise PrivacyRefusal(self._deployment, f"{self._where}: {e}") from None
        self._checked.add(digest)

    def check_messages(self, messages: Messages) -> None:
        for m in messages:
            if isinstance(m.get("content"), str):
                self.check(m["content"])


def protect_prompt(prompt: PromptSpec, deployment: "Deployment", ctx: "CallContext") -> Outbound:
    if not needs_redaction(deployment):
        return Outbound(prompt=prompt, restore=_identity, redacted=False)
    record = _record_for(deployment, ctx)
    where = _where(deployment)
    from ..privacy.gate import redact_texts  # imported here: local routes never load it

    texts = [prompt.system, prompt.user, prompt.evidence_separator, *prompt.evidence]
    try:
        (system, user, separator, *evidence), restore = redact_texts(texts, record)
    except (OSError, ValueError) as e:
        # The placeholder map could not be read or written: without it answers cannot be restored consistently.
        raise PrivacyRefusal(deployment.name, f"{where}: redaction unavailable ({type(e).__name__})") from None
    if (EVIDENCE_SLOT in prompt.user) != (EVIDENCE_SLOT in user):
        raise PrivacyRefusal(deployment.name, f"{where}: redaction altered the prompt's evidence slot")
    redacted = dataclasses.replace(prompt, system=system, user=user, evidence_separator=separator,
                                   evidence=tuple(evidence))
    return Outbound(prompt=redacted, restore=restore, redacted=True, _deployment=deployment.name, _where=where,
                    _record=record)


def protect_outbound(messages: Messages, deployment: "Deployment", ctx: "CallContext") -> tuple[Messages, Restore]:
    """The messages to send (redacted and checked where required) and the function that restores the answer."""
    if not needs_redaction(deployment):
        return messages, _identity
    record = _record_for(deployment, ctx)
    from ..privacy.gate import RedactionLeak, redact_messages

    try:
        return redact_messages(messages, record)
    except RedactionLeak as e:
        raise PrivacyRefusal(deployment.name, f"{_where(deployment)}: {e}") from None
    except (OSError, ValueError) as e:
        raise PrivacyRefusal(deployment.name, f"{_where(deployment)}: redaction unavailable ({type(e).__name__})") from None
