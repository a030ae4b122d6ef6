"""Test doubles of the LLM layer: a scripted model, and a routing resource that hands its calls to one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from declaration_assets.llm.models import CallContext, Completion, CompletionClient, PromptSpec
from declaration_assets.llm.resources import LLMRouter

from .records import call_record


@dataclass
class FakeLLM:
    """A scripted model for tests: `enqueue()` answers, read `history` afterwards.

    An answer may be a string, an exception instance (raised), or a callable(role, prompt) -> str.
    When the queue is empty, `default` answers (or an AssertionError says an unexpected call happened).
    """

    judges: int = 3
    default: Any = None
    queue: list[Any] = field(default_factory=list)
    history: list[tuple[str, PromptSpec, CallContext]] = field(default_factory=list)

    def enqueue(self, *answers: Any) -> "FakeLLM":
        self.queue.extend(answers)
        return self

    def complete(self, role: str, prompt: PromptSpec, ctx: CallContext) -> Completion:
        self.history.append((role, prompt, ctx))
        answer = self.queue.pop(0) if self.queue else self.default
        if answer is None:
            raise AssertionError(f"FakeLLM: unexpected call for role {role!r} with an empty queue")
        if isinstance(answer, BaseException):
            raise answer
        text = answer(role, prompt) if callable(answer) else str(answer)
        return Completion(
            text=text, role=role, model_config=ctx.model_config, deployment="fake",
            evidence_used=len(prompt.evidence), evidence_dropped=0,
            records=(call_record(role=role, case_id=ctx.case_id, asset=ctx.asset, model_config=ctx.model_config,
                                 run_id=ctx.run_id),),
        )

    def judge_roles(self, model_config: str) -> list[str]:
        return [f"judge_{i}" for i in range(1, self.judges + 1)]

    def role_description(self, model_config: str, role: str) -> dict[str, Any]:
        return {"role": role, "deployments": ["fake"], "models": ["fake"]}


_CLIENTS: dict[str, CompletionClient] = {}


class StandInRouter(LLMRouter):
    """`LLMRouter` handing every call to a registered client, for tests of assets typed as `LLMRouter`.

    Dagster rebuilds resources from their config, so the client is registered in-process under a key kept in
    config rather than held on the instance.
    """

    stand_in: str

    @property
    def _client(self) -> CompletionClient | None:
        try:
            return _CLIENTS[self.stand_in]
        except KeyError:
            raise RuntimeError(f"stand-in {self.stand_in!r} is not registered in this process") from None


def router_wrapping(client: CompletionClient) -> LLMRouter:
    key = f"{type(client).__name__}-{id(client)}"
    _CLIENTS[key] = client
    return StandInRouter(use_cache=False, stand_in=key)
