"""The call path every LLM request takes: cache, role chain, privacy gate, context fit, deadlines, retries,
fallback, cooldown, spend cap, time budget, one record per attempt.

Why a chain loop here rather than `litellm.Router`'s fallbacks: each deployment needs its own context fit
(evidence shrunk to *its* window, exact counts from *its* tokenizer), its own privacy decision, a per-server
concurrency pool, Ollama's num_ctx/unload handling, and one record per attempt with the server's timings;
and a deadline breach must go to the next deployment without the retries Router would apply. LiteLLM still
does what it is good at: speaking every provider's protocol, streaming, mapping errors to typed exceptions,
and counting tokens.
"""

from __future__ import annotations

import contextlib
import json
import re
import dataclasses
import contextvars
import logging
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from . import ollama as ollama_api
from ._litellm import litellm
from .litellm_config import known_price, resolve_env_refs
from .cache import CachedAnswer, ResponseCache, cache_key
from .models import CallContext, Completion, LLMFailure, PermanentLLMFailure, PromptSpec, all_permanent
from .privacy_gate import PrivacyRefusal, protect_prompt
from .records import FATAL, RETRYABLE, CallLog, CallRecord, now
from .routing import Deployment, RoutingFile
from .slots import ServerSlots
from .tokens import TokenCounter, fit_prompt, ollama_num_ctx
from .transport import AttemptError, StreamResult, stream_completion, strip_thinking, warm_up

LOCAL_PLACEHOLDER_KEY = "not-needed"


@dataclass(frozen=True)
class Budget:
    label: str
    seconds: float
    deadline: float  # time.monotonic()


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("llm_time_budget", default=None)


class BudgetExhausted(LLMFailure):
    """The asset's time budget ran out; the message names the asset and what it was waiting for."""


class _ServerPools:
    """Concurrency slots per server (api_base), sized from the routing file: shared by every router in the
    process, and through lock files (`slots.py`) by every process on the host."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, ServerSlots] = {}
        self._sizes: dict[str, int] = {}
        self.switch_locks: dict[str, threading.Lock] = {}

    def pool(self, dep: Deployment) -> ServerSlots:
        key = dep.server_key
        with self._lock:
            size = min(dep.max_concurrency, self._sizes.get(key, dep.max_concurrency))
            if key not in self._pools or self._sizes[key] != size:
                # A smaller size from another deployment on the same server wins; a live pool is never shrunk
                # under a holder (the new slots serve new callers).
                self._pools[key] = ServerSlots(key, size)
                self._sizes[key] = size
            self.switch_locks.setdefault(key, threading.Lock())
            return self._pools[key]


class _Cooldowns:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fails: dict[str, int] = {}
        self._until: dict[str, float] = {}

    def active(self, dep: Deployment) -> float:
        with self._lock:
            return max(0.0, self._until.get(dep.name, 0.0) - time.monotonic())

    def failed(self, dep: Deployment) -> None:
        with self._lock:
            n = self._fails.get(dep.name, 0) + 1
            self._fails[dep.name] = n
            if n >= dep.cooldown.after_failures:
                self._until[dep.name] = time.monotonic() + dep.cooldown.seconds
                self._fails[dep.name] = 0

    def succeeded(self, dep: Deployment) -> None:
        with self._lock:
            self._fails.pop(dep.name, None)
            self._until.pop(dep.name, None)


# Process-wide state: Dagster may build a resource instance per step, but servers and cooldowns are per process.
POOLS = _ServerPools()
COOLDOWNS = _Cooldowns()
_SPEND_LOCK = threading.Lock()
_SPEND: dict[str, float] = {}


def reset_process_state() -> None:
    """Forget cooldowns, pools and spend (tests)."""
    global POOLS, COOLDOWNS
    POOLS = _ServerPools()
    COOLDOWNS = _Cooldowns()
    with _SPEND_LOCK:
        _SPEND.clear()


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


def _api_key(dep: Deployment) -> str | None:
    if dep.api_key_env:
        value = os.environ.get(dep.api_key_env)
        if not value:
            raise AttemptError("permanent_error", "MissingCredential",
                               f"environment variable {dep.api_key_env} (api_key_env of {dep.name}) is not set")
        return value
    if dep.provider in ("openai", "hosted_vllm") and dep.privacy == "local":
        return LOCAL_PLACEHOLDER_KEY  # the OpenAI client insists on a key; local servers ignore it
    return None


def response_format(dep: Deployment, schema: dict[str, Any] | None) -> dict[str, Any]:
    """JSON mode, constrained to `schema` when given: llama.cpp's server takes the schema inside `json_object`
    (and compiles it to a grammar); OpenAI-compatible servers (vLLM, OpenRouter, Bedrock through litellm) take
    `json_schema`."""
    if schema is None:
        return {"type": "json_object"}
    if dep.tokenizer == "llamacpp":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


def build_request(dep: Deployment, messages: list[dict[str, str]], prompt: PromptSpec, max_tokens: int,
                  num_ctx: int | None) -> dict[str, Any]:
    """The keyword arguments for `litellm.completion` (without stream settings)."""
    kw: dict[str, Any] = {
        "model": dep.model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": prompt.temperature,
        "num_retries": 0,  # retries are decided here, per error class
    }
    if dep.api_base:
        kw["api_base"] = dep.api_base
    key = _api_key(dep)
    if key:
        kw["api_key"] = key
    try:
        kw.update(resolve_env_refs(dep.litellm_params, dep.name))  # os.environ/VAR, as a LiteLLM proxy reads it
    except KeyError as e:
        raise AttemptError("permanent_error", "MissingCredential", e.args[0]) from None
    extra_body: dict[str, Any] = dict(dep.extra_body)
    if dep.is_ollama:
        options = dict(dep.ollama.options) if dep.ollama else {}
        if num_ctx is not None:
            options["num_ctx"] = num_ctx
        kw.update(options)  # litellm maps Ollama options (num_ctx, num_gpu, ...) into the request's `options`
        if dep.disable_thinking:
            kw["think"] = False
        if dep.ollama and dep.ollama.keep_alive is not None:
            kw["keep_alive"] = dep.ollama.keep_alive
        if prompt.json_mode:
            kw["format"] = prompt.json_schema or "json"
    else:
        if prompt.json_mode:
            kw["response_format"] = response_format(dep, prompt.json_schema)
        if dep.provider in ("openai", "hosted_vllm", "openrouter", "bedrock"):
            kw["stream_options"] = {"include_usage": True}  # or litellm drops the server's token counts
    if dep.provider == "openrouter":
        provider = dict(extra_body.get("provider") or {})
        provider["data_collection"] = "deny"
        extra_body["provider"] = provider
    if extra_body:
        kw["extra_body"] = extra_body
    return kw


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


def register_models(routes: RoutingFile) -> None:
    """Tell litellm each deployment's window, so it never asks a server for it mid-call (for Ollama it would
    otherwise POST /api/show, with no deadline, after every answer). A price is registered only where the routing
    file has one (set there, or taken from LiteLLM's price map when the file was loaded); a deployment without a
    price is local or declared free, and its cost is computed as zero by this engine, not by a $0 entry in litellm's
    map that would hide a paid model's real price."""
    entries = {}
    for dep in routes.deployments.values():
        entry: dict[str, Any] = {
            "litellm_provider": dep.provider, "mode": "chat", "max_input_tokens": dep.context_window,
            "max_tokens": dep.max_output_tokens or dep.context_window,
        }
        if dep.cost is not None:
            entry["input_cost_per_token"] = dep.cost.input_per_1k / 1000
            entry["output_cost_per_token"] = dep.cost.output_per_1k / 1000
        elif known_price(dep.model) is None:
            # Local, or declared free (a priceless non-local deployment is refused when the file loads), and
            # unknown to litellm's map: zero, so litellm's stream does not look the price up after each answer.
            entry["input_cost_per_token"] = entry["output_cost_per_token"] = 0.0
        entries[dep.model] = entry
    litellm_logger = logging.getLogger("LiteLLM")
    level = litellm_logger.level
    litellm_logger.setLevel(logging.ERROR)  # its notes on cache-token pricing do not apply here
    try:
        litellm.register_model(entries)
    except Exception as e:  # noqa: BLE001 - an optimisation; the call path does not depend on it
        logging.getLogger(__name__).debug("litellm.register_model failed: %s", e)
    finally:
        litellm_logger.setLevel(level)


class RouterEngine:
    """Plain-Python core of the `LLMRouter` resource (testable without Dagster)."""

    def __init__(
        self,
        routes: RoutingFile,
        *,
        call_log: CallLog | None,
        cache: ResponseCache | None,
        log_content: bool = False,
        spend_cap_usd: float | None = None,
        logger: logging.Logger | None = None,
    ):
        self.routes = routes
        self.call_log = call_log
        self.cache = cache
        self.log_content = log_content
        self.spend_cap_usd = spend_cap_usd if spend_cap_usd is not None else routes.limits.spend_cap_usd_per_run
        self.logger = logger or logging.getLogger("declaration_assets.llm")
        self.counter = TokenCounter()
        warm_up({d.provider for d in routes.deployments.values()})
        register_models(routes)

    # --- CompletionClient -----------------------------------------------------------------------------------
    def judge_roles(self, model_config: str) -> list[str]:
        cfg = self.routes.model_configs[model_config]
        return [f"judge_{i}" for i in range(1, len(cfg.judges) + 1)]

    def role_description(self, model_config: str, role: str) -> dict[str, Any]:
        chain = self.routes.chain(model_config, role)
        return {
            "role": role,
            "model_config": model_config,
            "deployments": [d.name for d in chain],
            "models": [d.model for d in chain],
            "privacy": [d.privacy for d in chain],
        }

    def complete(self, role: str, prompt: PromptSpec, ctx: CallContext) -> Completion:
        started = time.monotonic()
        try:
            chain = self.routes.chain(ctx.model_config, role)
        except KeyError as e:
            raise LLMFailure(f"{ctx.asset}: {e.args[0]}") from None
        records: list[dict[str, Any]] = []
        key = cache_key(role, ctx.model_config, chain, prompt) if self.cache is not None else None
        if self.cache is not None and key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                rec = self._record(ctx, role, chain[0] if hit.deployment not in self.routes.deployments
                                   else self.routes.deployments[hit.deployment], attempt=0, outcome="cached",
                                   prompt_version=prompt.prompt_version, cache_key=key,
                                   prompt_tokens=hit.prompt_tokens, completion_tokens=hit.completion_tokens,
                                   evidence_used=hit.evidence_used, evidence_dropped=hit.evidence_dropped)
                records.append(rec)
                return Completion(
                    text=hit.text, role=role, model_config=ctx.model_config, deployment=hit.deployment,
                    evidence_used=hit.evidence_used, evidence_dropped=hit.evidence_dropped, records=tuple(records),
                    cached=True, cost_usd=0.0, prompt_tokens=hit.prompt_tokens,
                    completion_tokens=hit.completion_tokens, latency_s=time.monotonic() - started,
                )
        attempt = 0
        for i, dep in enumerate(chain):
            cooling = COOLDOWNS.active(dep)
            if cooling > 0:
                records.append(self._record(ctx, role, dep, attempt=attempt, outcome="cooldown_skip",
                                            error=f"cooling down for {cooling:.0f} s more after repeated failures"))
                continue
            later = [d for d in chain[i + 1:] if COOLDOWNS.active(d) <= 0]
            attempt, result = self._try_deployment(dep, role, prompt, ctx, records, attempt, key, later)
            if result is not None:
                return dataclasses.replace(result, latency_s=time.monotonic() - started, records=tuple(records))
        summary = "; ".join(f"{r['deployment']}: {r['outcome']}" + (f" ({r['error']})" if r.get("error") else "")
                            for r in records)
        failure = PermanentLLMFailure if all_permanent(records) else LLMFailure
        raise failure(
            f"{ctx.asset}: every deployment for role {role!r} of model configuration {ctx.model_config!r} "
            f"failed: {summary}", tuple(records))

    # --- one deployment ---------------------------------------------------------------------------------------
    def _try_deployment(self, dep: Deployment, role: str, prompt: PromptSpec, ctx: CallContext,
                        records: list[dict[str, Any]], attempt: int, key: str | None,
                        later: list[Deployment] | None = None) -> tuple[int, Completion | None]:
        later = later or []
        has_next = bool(later)
        base = {"prompt_version": prompt.prompt_version, "context_window": dep.context_window}
        max_tokens = min(prompt.max_tokens, dep.max_output_tokens or prompt.max_tokens)
        budget = _BUDGET.get()
        if budget is not None and budget.deadline <= time.monotonic():
            self._budget_failure(budget, ctx, role, dep, records, attempt, "before sending", base)
        # The privacy gate, once per deployment and before any byte leaves, tokenizer endpoints included: the
        # prompt is redacted piece by piece (system, template, each evidence item; one case map) and fitted as
        # redacted, and every text passes the final check on its way to the tokenizer or the chat endpoint.
        try:
            outbound = protect_prompt(prompt, dep, ctx)
            fit = fit_prompt(outbound.prompt, dep, self.counter, max_tokens, outbound.check)
            if fit is not None:
                outbound.check_messages(fit.messages)  # texts already checked for the tokenizer are not rescanned
        except PrivacyRefusal as e:
            records.append(self._record(ctx, role, dep, attempt=attempt, outcome="privacy_refused",
                                        error_class=type(e).__name__, error=str(e), **base))
            return attempt, None
        if fit is None:
            records.append(self._record(
                ctx, role, dep, attempt=attempt, outcome="context_too_small", error_class="ContextTooSmall",
                error=f"prompt plus {max_tokens} answer tokens does not fit {dep.context_window} tokens "
                      f"even with only the best-ranked evidence", **base))
            return attempt, None
        fit_info = {"prompt_tokens_counted": fit.prompt_tokens, "token_count": "exact" if fit.exact else "estimate",
                    "evidence_used": fit.evidence_used, "evidence_dropped": fit.evidence_dropped}
        if dep.is_paid and self.spend_cap_usd is not None:
            spent = self._spent(ctx.run_id)
            estimate = self._cost(dep, fit.prompt_tokens, max_tokens)
            if spent + estimate > self.spend_cap_usd:
                records.append(self._record(
                    ctx, role, dep, attempt=attempt, outcome="spend_cap", error_class="SpendCapReached",
                    error=f"run has spent ${spent:.4f}; this call could cost up to ${estimate:.4f}, "
                          f"over the cap of ${self.spend_cap_usd:.2f}", **base, **fit_info))
                raise PermanentLLMFailure(f"{ctx.asset}: spend cap of ${self.spend_cap_usd:.2f} per run reached "
                                 f"(spent ${spent:.4f}); not calling paid deployment {dep.name!r}", tuple(records))
        messages, restore = fit.messages, outbound.restore
        num_ctx = ollama_num_ctx(fit.prompt_tokens, max_tokens, dep) if dep.is_ollama else None
        try:
            request = build_request(dep, messages, prompt, max_tokens, num_ctx)
        except AttemptError as e:
            attempt += 1
            records.append(self._record(ctx, role, dep, attempt=attempt, outcome=e.outcome,
                                        error_class=e.error_class, error=e.message, **base, **fit_info))
            raise PermanentLLMFailure(f"{ctx.asset}: {e.message}", tuple(records)) from None
        tries = 1 + dep.retry.attempts
        pool = POOLS.pool(dep)
        resized = False
        t = 0
        while t < tries:
            t += 1
            attempt += 1
            budget = _BUDGET.get()
            queue_start = time.monotonic()
            queue_limit = dep.deadlines.total_s
            if budget is not None:
                queue_limit = min(queue_limit, budget.deadline - queue_start)
            got, moved_to = self._wait_for_slot(dep, pool, queue_start, queue_limit, later)
            if not got:
                if budget is not None and budget.deadline <= time.monotonic():
                    self._budget_failure(budget, ctx, role, dep, records, attempt, "a free slot on the server", base)
                waited = time.monotonic() - queue_start
                if moved_to is not None:
                    # The server is busy, not failing: no cooldown. The call goes where a slot is free now.
                    records.append(self._record(
                        ctx, role, dep, attempt=attempt, try_on_deployment=t, outcome="queue_timeout",
                        error_class="QueueMovedOn", error=f"no free slot on {dep.server_key} after {waited:.1f} s "
                        f"(the first-token deadline); {moved_to} has one", queue_s=waited, **base, **fit_info))
                    return attempt, None
                records.append(self._record(ctx, role, dep, attempt=attempt, try_on_deployment=t,
                                            outcome="queue_timeout", error_class="QueueTimeout",
                                            error=f"no free slot on {dep.server_key} within {queue_limit:.1f} s",
                                            queue_s=waited, **base, **fit_info))
                COOLDOWNS.failed(dep)
                return attempt, None
            queue_s = time.monotonic() - queue_start
            cooling = COOLDOWNS.active(dep)
            if cooling > 0:
                # The deployment began cooling down while this call waited (the calls ahead of it failed):
                # a hung server is not asked again.
                pool.release()
                records.append(self._record(ctx, role, dep, attempt=attempt, try_on_deployment=t,
                                            outcome="cooldown_skip", queue_s=queue_s,
                                            error=f"began cooling down while this call waited ({cooling:.0f} s more)",
                                            **base, **fit_info))
                return attempt, None
            try:
                memory = None
                if dep.is_ollama and dep.ollama and dep.ollama.memory_bound:
                    self._make_room(dep)
                t0 = time.monotonic()
                total_deadline, total_reason = t0 + dep.deadlines.total_s, "deadline_total"
                if budget is not None and budget.deadline < total_deadline:
                    total_deadline, total_reason = budget.deadline, "budget_exhausted"
                result = stream_completion(
                    request, first_token_s=dep.deadlines.first_token_s, stall_s=dep.deadlines.stall_s,
                    total_deadline=total_deadline, total_reason=total_reason, capture_ollama=dep.is_ollama)
                if dep.is_ollama:
                    memory = ollama_api.memory_of(dep.api_base, ollama_api.model_name(dep.model))
            except AttemptError as e:
                rec = self._record(ctx, role, dep, attempt=attempt, try_on_deployment=t, outcome=e.outcome,
                                   error_class=e.error_class, error=e.message, ttft_s=e.ttft_s,
                                   latency_s=e.latency_s, queue_s=queue_s, num_ctx=num_ctx, **base, **fit_info)
                records.append(rec)
                if e.outcome == "budget_exhausted" and budget is not None:
                    raise BudgetExhausted(self._budget_message(budget, ctx, role, dep, "an answer"),
                                          tuple(records)) from None
                if e.outcome in FATAL:
                    raise PermanentLLMFailure(
                        f"{ctx.asset}: {role} on deployment {dep.name!r} ({dep.model}) failed permanently: "
                        f"{e.error_class}: {e.message}", tuple(records)) from None
                if e.outcome in RETRYABLE and t < tries:
                    pause = self._backoff(dep, t, e.retry_after_s)
                    if budget is not None and time.monotonic() + pause >= budget.deadline:
                        self._budget_failure(budget, ctx, role, dep, records, attempt, "a retry", base)
                    time.sleep(pause)
                    continue
                COOLDOWNS.failed(dep)
                return attempt, None
            except TimeoutError as e:  # a memory-bound Ollama server did not release the previous model
                records.append(self._record(ctx, role, dep, attempt=attempt, try_on_deployment=t,
                                            outcome="server_error", error_class="UnloadTimeout", error=str(e),
                                            queue_s=queue_s, **base, **fit_info))
                COOLDOWNS.failed(dep)
                return attempt, None
            finally:
                pool.release()
            evaluated = (result.ollama_final or {}).get("prompt_eval_count")
            if num_ctx is not None and isinstance(evaluated, int) and evaluated + max_tokens > num_ctx:
                # The estimate was low and Ollama may have cut the prompt to num_ctx without a word: never keep
                # such an answer. Ask once more with a larger num_ctx, or fall back when the window is full.
                bigger = min(dep.context_window, max(2 * num_ctx, ollama_num_ctx(evaluated, max_tokens, dep)))
                can_grow = not resized and bigger > num_ctx
                records.append(self._record(
                    ctx, role, dep, attempt=attempt, try_on_deployment=t, outcome="context_overflow",
                    error_class="PromptCut", error=f"server evaluated {evaluated} prompt tokens in num_ctx {num_ctx} "
                    f"with {max_tokens} for the answer: the prompt may have been cut"
                    + (f"; asking again with num_ctx {bigger}" if can_grow else ""),
                    ttft_s=result.ttft_s, latency_s=result.latency_s, queue_s=queue_s, num_ctx=num_ctx,
                    prompt_tokens=evaluated, **base, **fit_info))
                if not can_grow:
                    COOLDOWNS.failed(dep)
                    return attempt, None
                resized, num_ctx = True, bigger
                request = build_request(dep, messages, prompt, max_tokens, num_ctx)
                t -= 1  # a resize is not a retry
                continue
            text = restore(strip_thinking(result.text))
            if not text.strip():
                records.append(self._record(ctx, role, dep, attempt=attempt, try_on_deployment=t,
                                            outcome="bad_response", error_class="EmptyAnswer",
                                            error="the answer was empty", ttft_s=result.ttft_s,
                                            latency_s=result.latency_s, queue_s=queue_s, num_ctx=num_ctx,
                                            **base, **fit_info))
                COOLDOWNS.failed(dep)
                return attempt, None
            invalid = json_problem(text, prompt.json_schema) if prompt.json_mode else None
            if invalid is not None:
                # A JSON-mode answer that is not JSON of the schema is this deployment's bad answer: recorded as
                # such, and the next deployment of the chain is asked. It does not count toward cooldown (a small
                # model's bad JSON must not bench the only route), and on the last deployment the answer is still
                # returned (not cached), for the caller's own validation and repair prompt.
                bad = self._record(ctx, role, dep, attempt=attempt, try_on_deployment=t, outcome="bad_response",
                                   error_class="InvalidJSON", error=invalid, ttft_s=result.ttft_s,
                                   latency_s=result.latency_s, queue_s=queue_s, num_ctx=num_ctx, **base, **fit_info)
                records.append(bad)
                if has_next:
                    return attempt, None
                return attempt, Completion(
                    text=text, role=role, model_config=ctx.model_config, deployment=dep.name,
                    evidence_used=fit.evidence_used, evidence_dropped=fit.evidence_dropped, cached=False,
                    cost_usd=self._cost(dep, fit.prompt_tokens, 0), prompt_tokens=fit.prompt_tokens,
                    completion_tokens=0, latency_s=result.latency_s)
            COOLDOWNS.succeeded(dep)
            rec = self._ok_record(ctx, role, dep, attempt, t, result, fit.prompt_tokens, queue_s, num_ctx,
                                  memory, base, fit_info, messages, text, key)
            records.append(rec)
            cost = rec.get("cost_usd", 0.0)
            if cost:
                self._add_spend(ctx.run_id, cost)
            completion = Completion(
                text=text, role=role, model_config=ctx.model_config, deployment=dep.name,
                evidence_used=fit.evidence_used, evidence_dropped=fit.evidence_dropped, cached=False,
                cost_usd=cost, prompt_tokens=rec.get("prompt_tokens") or 0,
                completion_tokens=rec.get("completion_tokens") or 0, latency_s=result.latency_s,
                finish_reason=result.finish_reason,
            )
            if self.cache is not None and key is not None:
                self.cache.put(key, CachedAnswer(
                    text=text, deployment=dep.name, evidence_used=fit.evidence_used,
                    evidence_dropped=fit.evidence_dropped, prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens, cost_usd=cost), case_id=ctx.case_id)
            return attempt, completion
        return attempt, None

    # --- helpers -------------------------------------------------------------------------------------------
    @staticmethod
    def _wait_for_slot(dep: Deployment, pool: ServerSlots, start: float, limit: float,
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
                if COOLDOWNS.active(nxt) <= 0 and POOLS.pool(nxt).free_now():
                    return False, nxt.name
            left = end - time.monotonic()
            if left <= 0:
                return False, None
            if pool.acquire(timeout=min(0.25, left)):
                return True, None

    def _make_room(self, dep: Deployment) -> None:
        lock = POOLS.switch_locks.setdefault(dep.server_key, threading.Lock())
        with lock:
            ollama_api.make_room_for(dep.api_base, ollama_api.model_name(dep.model), dep.ollama.unload_wait_s)

    @staticmethod
    def _backoff(dep: Deployment, try_number: int, retry_after: float | None) -> float:
        base = min(dep.retry.max_backoff_s, dep.retry.backoff_s * (2 ** (try_number - 1)))
        pause = base * (0.5 + random.random() / 2)  # "equal jitter": at least half the step, never in lockstep
        if retry_after is not None:
            pause = max(pause, min(retry_after, dep.retry.max_backoff_s))
        return pause

    def _budget_message(self, budget: Budget, ctx: CallContext, role: str, dep: Deployment, waiting_for: str) -> str:
        return (f"{ctx.asset}: time budget of {budget.seconds:.0f} s ({budget.label}) exhausted while waiting for "
                f"{waiting_for} from {role} on deployment {dep.name!r} ({dep.model})")

    def _budget_failure(self, budget: Budget, ctx: CallContext, role: str, dep: Deployment,
                        records: list[dict[str, Any]], attempt: int, waiting_for: str, base: dict[str, Any]) -> None:
        msg = self._budget_message(budget, ctx, role, dep, waiting_for)
        records.append(self._record(ctx, role, dep, attempt=attempt, outcome="budget_exhausted",
                                    error_class="BudgetExhausted", error=msg, **base))
        raise BudgetExhausted(msg, tuple(records))

    @staticmethod
    def _cost(dep: Deployment, prompt_tokens: int, completion_tokens: int) -> float:
        if dep.cost is None:
            return 0.0
        return prompt_tokens / 1000 * dep.cost.input_per_1k + completion_tokens / 1000 * dep.cost.output_per_1k

    def _spent(self, run_id: str | None) -> float:
        rid = run_id or "(no run)"
        with _SPEND_LOCK:
            if rid not in _SPEND:
                _SPEND[rid] = self.call_log.spent_usd(rid) if (self.call_log and run_id) else 0.0
            return _SPEND[rid]

    def _add_spend(self, run_id: str | None, cost: float) -> None:
        self._spent(run_id)
        with _SPEND_LOCK:
            _SPEND[run_id or "(no run)"] += cost

    def _ok_record(self, ctx: CallContext, role: str, dep: Deployment, attempt: int, t: int, result: StreamResult,
                   counted: int, queue_s: float, num_ctx: int | None, memory: int | None, base: dict[str, Any],
                   fit_info: dict[str, Any], messages: list[dict[str, str]], text: str, key: str | None
                   ) -> dict[str, Any]:
        usage = result.usage or {}
        prompt_tokens = usage.get("prompt_tokens") or None
        completion_tokens = usage.get("completion_tokens") or None
        timing: dict[str, Any] = {}
        source = None
        if result.ollama_final:
            f = result.ollama_final
            ns = 1e9
            timing = {
                "load_s": f["load_duration"] / ns if f.get("load_duration") is not None else None,
                "prompt_eval_s": f["prompt_eval_duration"] / ns if f.get("prompt_eval_duration") is not None else None,
                "generation_s": f["eval_duration"] / ns if f.get("eval_duration") is not None else None,
            }
            prompt_tokens = f.get("prompt_eval_count") or prompt_tokens
            completion_tokens = f.get("eval_count") or completion_tokens
            if f.get("eval_count") and f.get("eval_duration"):
                timing["tokens_per_s"] = f["eval_count"] / (f["eval_duration"] / ns)
            source = "server"
        elif result.timings:
            tm = result.timings
            timing = {
                "prompt_eval_s": tm["prompt_ms"] / 1000 if tm.get("prompt_ms") is not None else None,
                "generation_s": tm["predicted_ms"] / 1000 if tm.get("predicted_ms") is not None else None,
                "tokens_per_s": tm.get("predicted_per_second"),
            }
            source = "server"
        if "tokens_per_s" not in timing or timing.get("tokens_per_s") is None:
            gen = result.latency_s - (result.ttft_s or 0.0)
            if completion_tokens and gen > 0:
                timing["tokens_per_s"] = completion_tokens / gen
                timing.setdefault("generation_s", gen)
                source = source or "client"
        prompt_tokens = prompt_tokens or counted
        cost = self._cost(dep, prompt_tokens or 0, completion_tokens or 0)
        rec = self._record(
            ctx, role, dep, attempt=attempt, try_on_deployment=t, outcome="ok", ttft_s=result.ttft_s,
            latency_s=result.latency_s, queue_s=queue_s, prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens, num_ctx=num_ctx,
            context_used=(prompt_tokens or 0) + (completion_tokens or 0), cost_usd=cost,
            server_memory_bytes=memory, server_timings=source, cache_key=key,
            prompt=messages if self.log_content else None, answer=text if self.log_content else None,
            **{k: v for k, v in timing.items() if v is not None}, **base, **fit_info,
        )
        return rec

    def _record(self, ctx: CallContext, role: str, dep: Deployment, *, attempt: int, outcome: str,
                **fields: Any) -> dict[str, Any]:
        rec = CallRecord(
            ts=now(), run_id=ctx.run_id, case_id=ctx.case_id, asset=ctx.asset, role=role,
            model_config_name=ctx.model_config, deployment=dep.name, provider=dep.provider, model=dep.model,
            privacy=dep.privacy, attempt=attempt, outcome=outcome, **fields,
        )
        if self.call_log is not None:
            try:
                self.call_log.write(rec)
            except OSError as e:  # a full disk must not turn a good answer into a failed asset
                self.logger.warning("call log not written (%s): %s", self.call_log.path, e)
        self.logger.info(rec.summary_line())
        return rec.as_dict()


def default_cache_dir() -> Path:
    from .. import settings

    return settings.current().cache_dir / "llm"
