"""Reliability settings for the LLM assets: retry policy, concurrency pools, per-asset time budget.

Asset authors use them like this (no model names, no numbers inside assets):

    @dg.asset(partitions_def=case_model_partitions, retry_policy=LLM_RETRY_POLICY, pool=LLM_POOL, ...)
    def draft(context, config: LLMAssetConfig, llm: LLMRouter, ...):
        with llm.budget(config.time_budget_s): ...
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence

import dagster as dg
from pydantic import Field

from ..llm.models import all_permanent
from ..llm.records import CallRecord

# Retries of a whole asset step after the router has exhausted its chain (every deployment failed or the time
# budget ran out). The router already retries single calls; these are few and slow on purpose.
LLM_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2,
    delay=20,
    backoff=dg.Backoff.EXPONENTIAL,
    jitter=dg.Jitter.PLUS_MINUS,
)

# Concurrency pools. Calls per model server are limited by the router itself (`llm/slots.py`, from each
# deployment's max_concurrency, across processes on a host). The pool limits LLM *steps* across the instance:
# an asset's pool is fixed when the code loads, while the server a step calls depends on its partition, so all
# LLM assets share one. `llm_pool` names a pool for a server, for a code location that gives a server its own.
# Limits are set per instance (dagster.yaml `concurrency.pools`, or `dagster instance concurrency set`).
POOL_PREFIX = "llm_"
LLM_POOL = "llm_embedded"  # the packaged embedded llama.cpp server


INTERRUPTED_METADATA_KEY = "interrupted"
PERMANENT_METADATA_KEY = "permanent_failure"
NOT_RETRIED = "a permanent failure, not retried: fix the cause, then run again"


def permanent_errors() -> tuple[type[BaseException], ...]:
    """Errors no retry of the step can change: an invalid routing file, a bad case.yaml (a missing party
    included), a privacy refusal, an LLM failure whose every attempt was permanent."""
    from ..cases.models import CaseFileError
    from ..llm.models import PermanentLLMFailure
    from ..llm.privacy_gate import PrivacyRefusal
    from ..llm.routing import RoutingFileError

    return (RoutingFileError, CaseFileError, PrivacyRefusal, PermanentLLMFailure)


def permanent_failure(description: str, metadata: dict | None = None) -> dg.Failure:
    """A step failure that the assets' `RetryPolicy` does not retry; the message says so."""
    return dg.Failure(description=f"{description} ({NOT_RETRIED})",
                      metadata={**(metadata or {}), PERMANENT_METADATA_KEY: True}, allow_retries=False)


def llm_failure(description: str, records: Sequence[CallRecord], metadata: dict | None = None) -> dg.Failure:
    """The failure of an asset whose LLM calls all failed: retried by the policy only when some attempt failed
    for a reason that may pass (a hung or overloaded server); not when every attempt was refused or permanent."""
    if all_permanent(records):
        return permanent_failure(description, metadata)
    return dg.Failure(description=description, metadata=metadata or {})


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[None]:
    """A step stopped by SIGINT or SIGTERM (Ctrl-C, a platform shutting the worker down) fails at once, without
    the retry policy's retries: the user or the platform asked for it to stop. Dagster raises the interruption
    inside the step; without this, `LLM_RETRY_POLICY` would run the step again. Permanent errors
    (`permanent_errors()`) raised inside fail the same way, their message saying they are not retried."""
    try:
        yield
    except permanent_errors() as e:
        raise permanent_failure(f"{type(e).__name__}: {e}") from e
    except dg.DagsterExecutionInterruptedError as e:
        raise dg.Failure(description="interrupted by SIGINT/SIGTERM: not retried",
                         metadata={INTERRUPTED_METADATA_KEY: True}, allow_retries=False) from e


def was_interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Whether an in-process run failed because a step was interrupted (see `stop_on_interrupt`)."""
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            meta = data.user_failure_data.metadata if data.user_failure_data else {}
            if INTERRUPTED_METADATA_KEY in meta or (data.error and data.error.cls_name == "DagsterExecutionInterruptedError"):
                return True
    return False


def llm_pool(deployment: str) -> str:
    """Pool name for a model server deployment: `llm_<deployment>` with non [a-z0-9_] characters as `_`."""
    name = re.sub(r"[^a-z0-9_]+", "_", deployment.strip().lower()).strip("_")
    if not name:
        raise ValueError(f"deployment name {deployment!r} gives an empty pool name")
    return POOL_PREFIX + name


class LLMAssetConfig(dg.Config):
    """Run-time options of an LLM asset (editable in the launchpad)."""

    time_budget_s: float = Field(
        default=1800.0,
        gt=0,
        description="Wall-clock budget for all LLM calls of this asset step; the router stops calling when it runs out.",
    )
