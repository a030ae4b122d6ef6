"""One deployment's turn in a call, as a sequence of named steps.

`RouterEngine.complete` walks a role's chain; for each deployment `DeploymentAttempt.run` does, in order:
the time budget check, the privacy gate and context fit (`_fit`), the spend cap (`_check_spend`), the request
(`_build_request`, by the deployment's provider adapter), then up to 1 + `retry.attempts` tries (`_one_try`):
a server slot (`_take_slot`), the streamed call (`_send`), and what came back: a failure (`_failed`: retry,
fall back or stop), a prompt the server may have cut (`_resize`: once more with a larger window), or an answer
(`_answer`, `_ok`). Every step that ends a try writes one call record. Provider differences stay in the adapter
(`providers/`); this module is generic.
"""

from __future__ import annotations

import enum
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jsonschema

from .budget import Budget, BudgetExhausted, current_budget
from .cache import CachedAnswer
from .models import CallContext, Completion, PermanentLLMFailure, PromptSpec
from .privacy_gate import PrivacyRefusal, protect_prompt
from .providers import PromptCut, adapter_for
from .records import FATAL, RETRYABLE, CallRecord
from .routing import Deployment
from .slots import ServerSlots
from .state import RouterState
from .tokens import Fit, fit_prompt
from ..text import strip_thinking
from .transport import AttemptError, StreamResult, stream_completion

if TYPE_CHECKING:
    from .engine import RouterEngine


class _Again(enum.Enum):
    RETRY = "retry"  # the same deployment again, after a backoff
    RESIZE = "resize"  # the same try again with a larger window (not a retry)


@dataclass
class DeploymentAttempt:
    engine: RouterEngine
    dep: Deployment
    role: str
    prompt: PromptSpec
    ctx: CallContext
    records: list[CallRecord]
    attempt: int
    key: str | None
    later: list[Deployment] = field(default_factory=list)
    # Filled in by the steps.
    fit: Fit | None = None
    fit_info: dict[str, Any] = field(default_factory=dict)
    num_ctx: int | None = None
    request: dict[str, Any] = field(default_factory=dict)
    resized: bool = False
    queue_s: float = 0.0

    def __post_init__(self) -> None:
        self.adapter = adapter_for(self.dep)
        self.base = {"prompt_version": self.prompt.prompt_version, "context_window": self.dep.context_window}
        self.max_tokens = min(self.prompt.max_tokens, self.dep.max_output_tokens or self.prompt.max_tokens)
        self.state: RouterState = self.engine.state

    # --- the steps ------------------------------------------------------------------------------------------
    def run(self) -> Completion | None:
        """The deployment's answer, or None to fall back to the next one. Raises when the whole call must stop."""
        budget = current_budget()
        if budget is not None and budget.deadline <= time.monotonic():
            self._budget_failure(budget, "before sending")
        if not self._fit():
            return None
        self._check_spend()
        self._build_request()
        tries = 1 + self.dep.retry.attempts
        t = 0
        while t < tries:
            t += 1
            self.attempt += 1
            outcome = self._one_try(t, tries)
            if outcome is _Again.RESIZE:
                t -= 1  # a resize is not a retry
            elif outcome is not _Again.RETRY:
                return outcome
        return None

    def _fit(self) -> bool:
        """The privacy gate, once per deployment and before any byte leaves, tokenizer endpoints included: the
        prompt is redacted piece by piece (system, template, each evidence item; one case map) and fitted as
        redacted, and every text passes the final check on its way to the tokenizer or the chat endpoint."""
        try:
            outbound = protect_prompt(self.prompt, self.dep, self.ctx)
            fit = fit_prompt(outbound.prompt, self.dep, self.engine.counter, self.max_tokens, outbound.check)
            if fit is not None:
                outbound.check_messages(fit.messages)  # texts already checked for the tokenizer are not rescanned
        except PrivacyRefusal as e:
            self._note("privacy_refused", error_class=type(e).__name__, error=str(e))
            return False
        if fit is None:
            self._note("context_too_small", error_class="ContextTooSmall",
                       error=f"prompt plus {self.max_tokens} answer tokens does not fit {self.dep.context_window} "
                             "tokens even with only the best-ranked evidence")
            return False
        self.fit, self.restore = fit, outbound.restore
        self.fit_info = {"prompt_tokens_counted": fit.prompt_tokens,
                         "token_count": "exact" if fit.exact else "estimate",
                         "evidence_used": fit.evidence_used, "evidence_dropped": fit.evidence_dropped}
        return True

    def _check_spend(self) -> None:
        engine, dep = self.engine, self.dep
        if not dep.is_paid or engine.spend_cap_usd is None:
            return
        spent = engine.spent(self.ctx.run_id)
        estimate = engine.cost(dep, self.fit.prompt_tokens, self.max_tokens)
        if spent + estimate > engine.spend_cap_usd:
            self._note("spend_cap", error_class="SpendCapReached",
                       error=f"run has spent ${spent:.4f}; this call could cost up to ${estimate:.4f}, "
                             f"over the cap of ${engine.spend_cap_usd:.2f}")
            raise PermanentLLMFailure(f"{self.ctx.asset}: spend cap of ${engine.spend_cap_usd:.2f} per run reached "
                                      f"(spent ${spent:.4f}); not calling paid deployment {dep.name!r}",
                                      tuple(self.records))

    def _build_request(self) -> None:
        self.num_ctx = self.adapter.num_ctx(self.fit.prompt_tokens, self.max_tokens, self.dep)
        try:
            self.request = self.adapter.request(self.dep, self.fit.messages, self.prompt, self.max_tokens, self.num_ctx)
        except AttemptError as e:
            self.attempt += 1
            self._note(e.outcome, error_class=e.error_class, error=e.message)
            raise PermanentLLMFailure(f"{self.ctx.asset}: {e.message}", tuple(self.records)) from None

    def _one_try(self, t: int, tries: int) -> Completion | None | _Again:
        budget = current_budget()
        pool = self.state.pools.pool(self.dep)
        if not self._take_slot(pool, t, budget):
            return None
        try:
            result = self._send(budget)
        except AttemptError as e:
            return self._failed(e, t, tries, budget)
        except TimeoutError as e:  # a memory-bound server did not release the previous model
            self._note("server_error", try_on_deployment=t, error_class="UnloadTimeout", error=str(e),
                       queue_s=self.queue_s)
            self.state.cooldowns.failed(self.dep)
            return None
        finally:
            pool.release()
        cut = self.adapter.prompt_cut(self.dep, result, self.num_ctx, self.max_tokens)
        if cut is not None:
            return self._resize(cut, t, result)
        return self._answer(result, t)

    def _take_slot(self, pool: ServerSlots, t: int, budget: Budget | None) -> bool:
        """A slot on the deployment's server (True), or a record of why not (False: fall back)."""
        dep = self.dep
        queue_start = time.monotonic()
        queue_limit = dep.deadlines.total_s
        if budget is not None:
            queue_limit = min(queue_limit, budget.deadline - queue_start)
        got, moved_to = wait_for_slot(self.state, dep, pool, queue_start, queue_limit, self.later)
        if not got:
            if budget is not None and budget.deadline <= time.monotonic():
                self._budget_failure(budget, "a free slot on the server")
            waited = time.monotonic() - queue_start
            if moved_to is not None:
                # The server is busy, not failing: no cooldown. The call goes where a slot is free now.
                self._note("queue_timeout", try_on_deployment=t, error_class="QueueMovedOn", queue_s=waited,
                           error=f"no free slot on {dep.server_key} after {waited:.1f} s (the first-token "
                                 f"deadline); {moved_to} has one")
                return False
            self._note("queue_timeout", try_on_deployment=t, error_class="QueueTimeout", queue_s=waited,
                       error=f"no free slot on {dep.server_key} within {queue_limit:.1f} s")
            self.state.cooldowns.failed(dep)
            return False
        self.queue_s = time.monotonic() - queue_start
        cooling = self.state.cooldowns.active(dep)
        if cooling > 0:
            # The deployment began cooling down while this call waited (the calls ahead of it failed):
            # a hung server is not asked again.
            pool.release()
            self._note("cooldown_skip", try_on_deployment=t, queue_s=self.queue_s,
                       error=f"began cooling down while this call waited ({cooling:.0f} s more)")
            return False
        return True

    def _send(self, budget: Budget | None) -> StreamResult:
        dep = self.dep
        self.adapter.before_send(dep, self.state.pools.switch_lock(dep))
        total_deadline, total_reason = time.monotonic() + dep.deadlines.total_s, "deadline_total"
        if budget is not None and budget.deadline < total_deadline:
            total_deadline, total_reason = budget.deadline, "budget_exhausted"
        result = stream_completion(
            self.request, first_token_s=dep.deadlines.first_token_s, stall_s=dep.deadlines.stall_s,
            total_deadline=total_deadline, total_reason=total_reason, hooks=self.adapter)
        self.memory = self.adapter.server_memory(dep)
        return result

    def _failed(self, e: AttemptError, t: int, tries: int, budget: Budget | None) -> _Again | None:
        """A failed try: stop the call (budget, fatal), retry after a backoff, or fall back (cooldown counted)."""
        ctx, dep = self.ctx, self.dep
        self._note(e.outcome, try_on_deployment=t, error_class=e.error_class, error=e.message, ttft_s=e.ttft_s,
                   latency_s=e.latency_s, queue_s=self.queue_s, num_ctx=self.num_ctx)
        if e.outcome == "budget_exhausted" and budget is not None:
            raise BudgetExhausted(self._budget_message(budget, "an answer"), tuple(self.records)) from None
        if e.outcome in FATAL:
            raise PermanentLLMFailure(
                f"{ctx.asset}: {self.role} on deployment {dep.name!r} ({dep.model}) failed permanently: "
                f"{e.error_class}: {e.message}", tuple(self.records)) from None
        if e.outcome in RETRYABLE and t < tries:
            pause = backoff(dep, t, e.retry_after_s)
            if budget is not None and time.monotonic() + pause >= budget.deadline:
                self._budget_failure(budget, "a retry")
            time.sleep(pause)
            return _Again.RETRY
        self.state.cooldowns.failed(dep)
        return None

    def _resize(self, cut: PromptCut, t: int, result: StreamResult) -> _Again | None:
        """The estimate was low and the server may have cut the prompt to its window without a word: never keep
        such an answer. Ask once more with a larger window, or fall back when the window is full."""
        can_grow = not self.resized and cut.grown > (self.num_ctx or 0)
        self._note("context_overflow", try_on_deployment=t, error_class="PromptCut",
                   error=f"server evaluated {cut.evaluated} prompt tokens in num_ctx {self.num_ctx} with "
                         f"{self.max_tokens} for the answer: the prompt may have been cut"
                         + (f"; asking again with num_ctx {cut.grown}" if can_grow else ""),
                   ttft_s=result.ttft_s, latency_s=result.latency_s, queue_s=self.queue_s, num_ctx=self.num_ctx,
                   prompt_tokens=cut.evaluated)
        if not can_grow:
            self.state.cooldowns.failed(self.dep)
            return None
        self.resized, self.num_ctx = True, cut.grown
        self.request = self.adapter.request(self.dep, self.fit.messages, self.prompt, self.max_tokens, self.num_ctx)
        return _Again.RESIZE

    def _answer(self, result: StreamResult, t: int) -> Completion | None:
        text = self.restore(strip_thinking(result.text))
        timing = {"try_on_deployment": t, "ttft_s": result.ttft_s, "latency_s": result.latency_s,
                  "queue_s": self.queue_s, "num_ctx": self.num_ctx}
        if not text.strip():
            self._note("bad_response", error_class="EmptyAnswer", error="the answer was empty", **timing)
            self.state.cooldowns.failed(self.dep)
            return None
        invalid = json_problem(text, self.prompt.json_schema) if self.prompt.json_mode else None
        if invalid is None:
            return self._ok(result, t, text)
        # A JSON-mode answer that is not JSON of the schema is this deployment's bad answer: recorded as such,
        # and the next deployment of the chain is asked. It does not count toward cooldown (a small model's bad
        # JSON must not bench the only route), and on the last deployment the answer is still returned (not
        # cached), for the caller's own validation and repair prompt.
        self._note("bad_response", error_class="InvalidJSON", error=invalid, **timing)
        if self.later:
            return None
        fit = self.fit
        return Completion(
            text=text, role=self.role, model_config=self.ctx.model_config, deployment=self.dep.name,
            evidence_used=fit.evidence_used, evidence_dropped=fit.evidence_dropped, cached=False,
            cost_usd=self.engine.cost(self.dep, fit.prompt_tokens, 0), prompt_tokens=fit.prompt_tokens,
            completion_tokens=0, latency_s=result.latency_s)

    def _ok(self, result: StreamResult, t: int, text: str) -> Completion:
        engine, dep, ctx, fit = self.engine, self.dep, self.ctx, self.fit
        engine.state.cooldowns.succeeded(dep)
        rec = self._note("ok", try_on_deployment=t, ttft_s=result.ttft_s, latency_s=result.latency_s,
                         queue_s=self.queue_s, num_ctx=self.num_ctx, server_memory_bytes=self.memory,
                         cache_key=self.key, **self._usage(result),
                         prompt=fit.messages if engine.log_content else None,
                         answer=text if engine.log_content else None)
        cost = rec.cost_usd
        if cost:
            engine.add_spend(ctx.run_id, cost)
        completion = Completion(
            text=text, role=self.role, model_config=ctx.model_config, deployment=dep.name,
            evidence_used=fit.evidence_used, evidence_dropped=fit.evidence_dropped, cached=False, cost_usd=cost,
            prompt_tokens=rec.prompt_tokens or 0, completion_tokens=rec.completion_tokens or 0,
            latency_s=result.latency_s, finish_reason=result.finish_reason)
        if engine.cache is not None and self.key is not None:
            engine.cache.put(self.key, CachedAnswer(
                text=text, deployment=dep.name, evidence_used=fit.evidence_used,
                evidence_dropped=fit.evidence_dropped, prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens, cost_usd=cost), case_id=ctx.case_id)
        return completion

    def _usage(self, result: StreamResult) -> dict[str, Any]:
        """Tokens, cost and timings of an answer: the server's own report first (its adapter reads it), then the
        usage block, then the count made before sending; tokens per second measured here when the server is silent."""
        report = self.adapter.server_report(result)
        usage = result.usage or {}
        prompt_tokens = report.prompt_tokens or usage.get("prompt_tokens") or None
        completion_tokens = report.completion_tokens or usage.get("completion_tokens") or None
        timing = dict(report.timing)
        source = "server" if report.from_server else None
        if timing.get("tokens_per_s") is None:
            gen = result.latency_s - (result.ttft_s or 0.0)
            if completion_tokens and gen > 0:
                timing["tokens_per_s"] = completion_tokens / gen
                timing.setdefault("generation_s", gen)
                source = source or "client"
        prompt_tokens = prompt_tokens or self.fit.prompt_tokens
        return {
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "context_used": (prompt_tokens or 0) + (completion_tokens or 0),
            "cost_usd": self.engine.cost(self.dep, prompt_tokens or 0, completion_tokens or 0),
            "server_timings": source, **{k: v for k, v in timing.items() if v is not None},
        }

    # --- records and the budget -----------------------------------------------------------------------------
    def _note(self, outcome: str, *, with_fit: bool = True, **fields: Any) -> CallRecord:
        """Record this try's outcome (with the prompt's version, the window and, once fitted, the fit)."""
        extra = {**self.base, **(self.fit_info if with_fit else {})}
        rec = self.engine.record(self.ctx, self.role, self.dep, attempt=self.attempt, outcome=outcome,
                                 **fields, **extra)
        self.records.append(rec)
        return rec

    def _budget_message(self, budget: Budget, waiting_for: str) -> str:
        return (f"{self.ctx.asset}: time budget of {budget.seconds:.0f} s ({budget.label}) exhausted while waiting "
                f"for {waiting_for} from {self.role} on deployment {self.dep.name!r} ({self.dep.model})")

    def _budget_failure(self, budget: Budget, waiting_for: str) -> None:
        msg = self._budget_message(budget, waiting_for)
        self._note("budget_exhausted", with_fit=False, error_class="BudgetExhausted", error=msg)
        raise BudgetExhausted(msg, tuple(self.records))


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL | re.IGNORECASE)


def json_problem(text: str, schema: dict[str, Any] | None) -> str | None:
    """Why `text` is not a JSON answer of `schema` (a code fence around it is tolerated), or None when it is.
    The message names the problem, never the answer's content."""
    m = _FENCE.match(text)
    body = m.group(1) if m else text
    try:
        value = json.loads(body)
    except ValueError as e:
        return f"the answer is not valid JSON ({type(e).__name__} at line {getattr(e, 'lineno', '?')}, column {getattr(e, 'colno', '?')})"
    if schema is not None:
        try:
            jsonschema.validate(value, schema)
        except jsonschema.ValidationError as e:
            where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
            return f"the answer does not match the JSON schema at {where}: {e.validator} {e.validator_value!r}"[:300]
        except jsonschema.SchemaError:
            return None  # the caller's schema is not one jsonschema can check; the caller still validates
    return None


def wait_for_slot(state: RouterState, dep: Deployment, pool: ServerSlots, start: float, limit: float,
                  later: list[Deployment]) -> tuple[bool, str | None]:
    """Wait for a slot on `dep`'s server, up to `limit` seconds. Once the wait exceeds `dep`'s first-token
    deadline, give up as soon as a later deployment of the chain has a free slot and is not cooling down
    (returns (False, its name)): a call must not queue behind a hung server while another could answer. The
    last deployment of a chain (no `later`) waits up to `limit`, so a single-slot route keeps queueing."""
    if not later:
        return pool.acquire(timeout=max(0.0, limit)), None
    end = start + max(0.0, limit)
    patience = start + min(dep.deadlines.first_token_s, max(0.0, limit))
    if pool.acquire(timeout=max(0.0, patience - time.monotonic())):
        return True, None
    while True:
        for nxt in later:
            if state.cooldowns.active(nxt) <= 0 and state.pools.pool(nxt).free_now():
                return False, nxt.name
        left = end - time.monotonic()
        if left <= 0:
            return False, None
        if pool.acquire(timeout=min(0.25, left)):
            return True, None


def backoff(dep: Deployment, try_number: int, retry_after: float | None) -> float:
    base = min(dep.retry.max_backoff_s, dep.retry.backoff_s * (2 ** (try_number - 1)))
    pause = base * (0.5 + random.random() / 2)  # "equal jitter": at least half the step, never in lockstep
    if retry_after is not None:
        pause = max(pause, min(retry_after, dep.retry.max_backoff_s))
    return pause
