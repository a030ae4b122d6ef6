"""The call path every LLM request takes: cache, role chain, privacy gate, context fit, deadlines, retries,
fallback, cooldown, spend cap, time budget, one record per attempt.

Why a chain loop here rather than `litellm.Router`'s fallbacks: each deployment needs its own context fit
(evidence shrunk to *its* window, exact counts from *its* tokenizer), its own privacy decision, a per-server
concurrency pool, Ollama's num_ctx/unload handling, and one record per attempt with the server's timings;
and a deadline breach must go to the next deployment without the retries Router would apply. LiteLLM still
does what it is good at: speaking every provider's protocol, streaming, mapping errors to typed exceptions,
and counting tokens.

This module walks the chain; one deployment's turn is `attempt.DeploymentAttempt`, and what differs per provider
family is its adapter (`providers/`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from ._litellm import litellm
from .attempt import DeploymentAttempt
from .cache import ResponseCache, cache_key
from .litellm_config import known_price
from .models import CallContext, Completion, LLMFailure, PermanentLLMFailure, PromptSpec, all_permanent
from .providers import adapter_for_provider
from .records import CallLog, CallRecord, now
from .routing import Deployment, RoutingFile
from .state import RouterState
from .tokens import TokenCounter
from .transport import warm_up


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
        state: RouterState | None = None,
    ):
        self.routes = routes
        self.state = state if state is not None else RouterState()
        self.call_log = call_log
        self.cache = cache
        self.log_content = log_content
        self.spend_cap_usd = spend_cap_usd if spend_cap_usd is not None else routes.limits.spend_cap_usd_per_run
        self.logger = logger or logging.getLogger("declaration_assets.llm")
        self.counter = TokenCounter()
        providers = {d.provider for d in routes.deployments.values()}
        warm_up({p: adapter_for_provider(p).warm_up_request(p) for p in providers})
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
        """The cache, then each deployment of the role's chain in turn (skipping those cooling down) until one
        answers; every attempt is recorded, and the failure lists them all."""
        started = time.monotonic()
        try:
            chain = self.routes.chain(ctx.model_config, role)
        except KeyError as e:
            raise LLMFailure(f"{ctx.asset}: {e.args[0]}") from None
        records: list[CallRecord] = []
        key = cache_key(role, ctx.model_config, chain, prompt) if self.cache is not None else None
        hit = self._cached(key, role, prompt, ctx, chain, records)
        if hit is not None:
            return dataclasses.replace(hit, latency_s=time.monotonic() - started)
        attempt = 0
        for i, dep in enumerate(chain):
            cooling = self.state.cooldowns.active(dep)
            if cooling > 0:
                records.append(self.record(ctx, role, dep, attempt=attempt, outcome="cooldown_skip",
                                           error=f"cooling down for {cooling:.0f} s more after repeated failures"))
                continue
            later = [d for d in chain[i + 1:] if self.state.cooldowns.active(d) <= 0]
            turn = DeploymentAttempt(self, dep, role, prompt, ctx, records, attempt, key, later)
            result = turn.run()
            attempt = turn.attempt
            if result is not None:
                return dataclasses.replace(result, latency_s=time.monotonic() - started, records=tuple(records))
        summary = "; ".join(f"{r.deployment}: {r.outcome}" + (f" ({r.error})" if r.error else "") for r in records)
        failure = PermanentLLMFailure if all_permanent(records) else LLMFailure
        raise failure(
            f"{ctx.asset}: every deployment for role {role!r} of model configuration {ctx.model_config!r} "
            f"failed: {summary}", tuple(records))

    def _cached(self, key: str | None, role: str, prompt: PromptSpec, ctx: CallContext, chain: list[Deployment],
                records: list[CallRecord]) -> Completion | None:
        """The cached answer to this request (recorded as `cached`), or None."""
        if self.cache is None or key is None:
            return None
        hit = self.cache.get(key)
        if hit is None:
            return None
        dep = self.routes.deployments.get(hit.deployment, chain[0])
        records.append(self.record(ctx, role, dep, attempt=0, outcome="cached", prompt_version=prompt.prompt_version,
                                   cache_key=key, prompt_tokens=hit.prompt_tokens,
                                   completion_tokens=hit.completion_tokens, evidence_used=hit.evidence_used,
                                   evidence_dropped=hit.evidence_dropped))
        return Completion(
            text=hit.text, role=role, model_config=ctx.model_config, deployment=hit.deployment,
            evidence_used=hit.evidence_used, evidence_dropped=hit.evidence_dropped, records=tuple(records),
            cached=True, cost_usd=0.0, prompt_tokens=hit.prompt_tokens, completion_tokens=hit.completion_tokens)

    # --- spend and records (used by each deployment's attempt) ----------------------------------------------
    @staticmethod
    def cost(dep: Deployment, prompt_tokens: int, completion_tokens: int) -> float:
        if dep.cost is None:
            return 0.0
        return prompt_tokens / 1000 * dep.cost.input_per_1k + completion_tokens / 1000 * dep.cost.output_per_1k

    def spent(self, run_id: str | None) -> float:
        return self.state.spend.spent(run_id, self.call_log.spent_usd if self.call_log else None)

    def add_spend(self, run_id: str | None, cost: float) -> None:
        self.state.spend.add(run_id, cost, self.call_log.spent_usd if self.call_log else None)

    def record(self, ctx: CallContext, role: str, dep: Deployment, *, attempt: int, outcome: str,
               **fields: Any) -> CallRecord:
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
        return rec


def default_cache_dir() -> Path:
    from .. import settings

    return settings.current().cache_dir / "llm"
