"""The time budget an asset gives all its LLM calls: one deadline, shared by every call inside `time_budget`."""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass

from .models import LLMFailure


@dataclass(frozen=True)
class Budget:
    label: str
    seconds: float
    deadline: float  # time.monotonic()


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("llm_time_budget", default=None)


class BudgetExhausted(LLMFailure):
    """The asset's time budget ran out; the message names the asset and what it was waiting for."""


def current_budget() -> Budget | None:
    return _BUDGET.get()


@contextlib.contextmanager
def time_budget(seconds: float, label: str) -> Iterator[Budget]:
    """All LLM calls inside share one deadline; nested budgets take the earlier deadline."""
    outer = _BUDGET.get()
    deadline = time.monotonic() + seconds
    if outer is not None and outer.deadline < deadline:
        deadline = outer.deadline
    budget = Budget(label=label, seconds=seconds, deadline=deadline)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)
