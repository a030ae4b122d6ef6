"""The typed surface every LLM call of the project goes through.

Assets build a `PromptSpec`, ask the routing resource for a *role* under a *model configuration*
(`drafter`, `judge_1`..`judge_N`, `guard`) and get back a `Completion`. They never name a provider model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..cases.models import CaseRecord
from .records import CallRecord

EVIDENCE_SLOT = "{evidence}"


@dataclass(frozen=True)
class PromptSpec:
    """A prompt whose evidence may be shrunk to fit a context window.

    `user` may contain the slot `{evidence}`; `evidence` is ranked best first. When the prompt does not fit
    the deployment's window, the lowest-ranked evidence is dropped (and the drop recorded) before anything
    else is considered. Each evidence item is already formatted with its citation label.
    """

    system: str
    user: str
    evidence: tuple[str, ...] = ()
    evidence_separator: str = "\n\n"
    max_tokens: int = 512
    temperature: float = 0.0
    json_mode: bool = False
    # With json_mode: constrain the answer to this JSON schema where the server can (llama.cpp grammars, Ollama
    # structured outputs, OpenAI-style `json_schema`). The answer is still validated by the caller.
    json_schema: dict[str, Any] | None = None
    prompt_version: str = "v1"

    def render(self, evidence: tuple[str, ...] | None = None) -> list[dict[str, str]]:
        ev = self.evidence if evidence is None else evidence
        user = self.user.replace(EVIDENCE_SLOT, self.evidence_separator.join(ev)) if EVIDENCE_SLOT in self.user else self.user
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


@dataclass(frozen=True)
class CallContext:
    """Who is calling: goes into every call record, and (case record) drives redaction."""

    case_id: str
    asset: str
    model_config: str
    case_record: CaseRecord | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    role: str
    model_config: str
    deployment: str
    evidence_used: int
    evidence_dropped: int
    records: tuple[CallRecord, ...] = ()
    cached: bool = False
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None  # "length": the answer stopped at max_tokens (None: the server did not say)


class LLMFailure(RuntimeError):
    """Every deployment of a role's chain failed; the message lists each attempt's outcome."""

    def __init__(self, message: str, records: tuple[CallRecord, ...] = ()):
        super().__init__(message)
        self.records = records


class PermanentLLMFailure(LLMFailure):
    """No retry can help: a configuration, privacy or request error (a privacy refusal, a permanent provider error,
    a prompt that fits no deployment, the spend cap). Assets fail without Dagster's retries."""


# Outcomes that no later attempt of the same call can change.
PERMANENT_OUTCOMES = frozenset({"privacy_refused", "permanent_error", "context_too_small", "spend_cap"})


def all_permanent(records: Sequence[CallRecord]) -> bool:
    """Whether every failed attempt of these records ended in a permanent outcome (and there was one)."""
    failed = [r for r in records if not r.succeeded]
    return bool(failed) and all(r.outcome in PERMANENT_OUTCOMES for r in failed)


class CompletionClient(Protocol):
    """What assets depend on. `LLMRouter` (the Dagster resource) implements it; the tests' scripted model too."""

    def complete(self, role: str, prompt: PromptSpec, ctx: CallContext) -> Completion: ...

    def judge_roles(self, model_config: str) -> list[str]: ...

    def role_description(self, model_config: str, role: str) -> dict[str, Any]: ...


