"""Counting prompt tokens before sending, and shrinking evidence so a prompt fits its deployment's window.

Exact counts come from the server's own tokenizer where its provider adapter has one (llama.cpp `/extras/tokenize`,
vLLM `/tokenize`: `providers/`); otherwise `litellm.token_counter` estimates and a safety margin (per deployment, default 15 %) is
added. Nothing is ever cut from a prompt except whole evidence items, lowest-ranked first, and the drop is reported.

A tokenizer endpoint is a request like any other: for a deployment that must not see case data, the prompt is
redacted before it is counted (see `privacy_gate.protect_prompt`), and `check` (the gate's final check) runs on
every text just before it is sent to the tokenizer; counts answered from memory send nothing and need no check.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock

import httpx

from ._litellm import litellm
from .models import PromptSpec
from .providers import adapter_for
from .routing import Deployment

TOKENIZER_TIMEOUT_S = 5.0

Check = Callable[[str], None]  # raises when a text must not leave the process


def _no_check(text: str) -> None:
    return None


@dataclass(frozen=True)
class TokenCount:
    tokens: int
    exact: bool


@dataclass(frozen=True)
class Fit:
    messages: list[dict[str, str]]
    evidence_used: int
    evidence_dropped: int
    prompt_tokens: int
    exact: bool


class TokenCounter:
    """Counts tokens for a deployment; remembers recent exact counts (tokenizer round trips cost milliseconds)."""

    def __init__(self, timeout_s: float = TOKENIZER_TIMEOUT_S, cache_size: int = 4096):
        self.timeout_s = timeout_s
        self._cache: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()
        self.client = httpx.Client(timeout=timeout_s)  # the adapters' tokenizer requests

    def close(self) -> None:
        self.client.close()

    def remember(self, key: tuple[str, str, str], fn: Callable[[], int]) -> int:
        """`fn()`, or the count remembered under `key` (server, tokenizer, text)."""
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        n = fn()
        with self._lock:
            self._cache[key] = n
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return n

    def count_messages(self, dep: Deployment, messages: list[dict[str, str]], check: Check = _no_check) -> TokenCount:
        try:
            n = adapter_for(dep).count_messages(dep, messages, check, self)
            if n is not None:
                return TokenCount(n, True)
        except (httpx.HTTPError, KeyError, ValueError, TypeError):
            pass  # the server has no usable tokenizer endpoint: estimate instead (recorded as an estimate)
        raw = litellm.token_counter(model=dep.model, messages=messages)
        return TokenCount(math.ceil(raw * (1 + dep.estimate_margin)), False)

    def count_text(self, dep: Deployment, text: str, check: Check = _no_check) -> TokenCount:
        try:
            n = adapter_for(dep).count_text(dep, text, check, self)
            if n is not None:
                return TokenCount(n, True)
        except (httpx.HTTPError, KeyError, ValueError, TypeError):
            pass
        raw = litellm.token_counter(model=dep.model, text=text)
        return TokenCount(math.ceil(raw * (1 + dep.estimate_margin)), False)


def fit_prompt(prompt: PromptSpec, dep: Deployment, counter: TokenCounter, max_tokens: int,
               check: Check = _no_check) -> Fit | None:
    """The prompt with as much evidence (best first) as fits `context_window - max_tokens`; None if it cannot fit.

    When the prompt has evidence, at least one item must remain: a prompt stripped of all its evidence would
    answer a different question, so that counts as not fitting. `check` runs on each text before it is sent to a
    server tokenizer (the privacy gate's final check); whatever it raises propagates.
    """
    available = dep.context_window - max_tokens
    full = prompt.render()
    total = counter.count_messages(dep, full, check)
    n = len(prompt.evidence)
    if total.tokens <= available:
        return Fit(full, n, 0, total.tokens, total.exact)
    if n == 0:
        return None
    # Count the prompt without evidence and each item once, keep the longest best-first prefix that fits,
    # then confirm with a count of the rendered prompt (token counts are not exactly additive).
    base = counter.count_messages(dep, prompt.render(()), check)
    if base.tokens >= available:
        return None
    sep = counter.count_text(dep, prompt.evidence_separator, check).tokens if prompt.evidence_separator.strip() else 1
    budget = available - base.tokens
    k = 0
    for item in prompt.evidence:
        cost = counter.count_text(dep, item, check).tokens + sep
        if cost > budget:
            break
        budget -= cost
        k += 1
    while k >= 1:
        msgs = prompt.render(prompt.evidence[:k])
        c = counter.count_messages(dep, msgs, check)
        if c.tokens <= available:
            return Fit(msgs, k, n - k, c.tokens, c.exact)
        k -= 1
    return None
