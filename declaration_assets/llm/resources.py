"""`LLMRouter`: the Dagster resource (key "llm") every LLM call of the project goes through.

Assets ask for a role under a model configuration and get a `Completion`; the routing file decides which
deployments serve it. See `engine.py` and `attempt.py` for the call path, `providers/` for what differs per
provider family, and docs/ROUTING.md for the routing file.

    with llm.budget(600, "draft vawa-0001"):
        completion = llm.complete("drafter", prompt, CallContext(case_id=..., asset="draft", model_config=...))
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from .. import settings
from .cache import ResponseCache
from .budget import Budget, time_budget
from .engine import RouterEngine, default_cache_dir
from .models import CallContext, Completion, CompletionClient, PromptSpec
from .records import CallLog
from .routing import RoutingFile, load_routes, routes_hash
from .routing_file import routes_path
from .state import RouterState







class LLMRouter(dg.ConfigurableResource):
    """Routes each role's LLM calls through the routing file's deployment chain (LiteLLM underneath)."""

    routes_file: str | None = Field(default=None, description="routing file; default: DECLARATION_ROUTES or the packaged file")
    call_log_path: str | None = Field(default=None, description="JSONL call log; default: the settings' call_log (DECLARATION_CALL_LOG)")
    use_cache: bool = Field(default=True, description="reuse answers to identical requests (DECLARATION_LLM_CACHE=0 turns it off for every router)")
    cache_dir: str | None = Field(default=None, description="default: <the settings' cache_dir>/llm")
    log_content: bool = Field(default=False, description="write prompts and answers into the call log and records")
    spend_cap_usd: float | None = Field(default=None, description="per run, paid deployments; overrides the routing file's limit")

    _engine: RouterEngine | None = PrivateAttr(default=None)
    # Pools, cooldowns and spend of this resource's calls (server slots also reach other processes: `slots.py`).
    _state: RouterState = PrivateAttr(default_factory=RouterState)

    @property
    def _client(self) -> CompletionClient | None:
        """Another client to hand every call to instead of the engine (None: the routing file's engine)."""
        return None

    def routes_location(self) -> Path:
        return Path(self.routes_file) if self.routes_file else routes_path()

    def routing(self) -> RoutingFile:
        return self._get_engine().routes

    def routes_sha256(self) -> str:
        return routes_hash(self.routes_location())

    def _get_engine(self) -> RouterEngine:
        if self._engine is None:
            routes = load_routes(self.routes_location())
            cache = None
            if self.use_cache and settings.current().llm_cache:
                cache = ResponseCache(Path(self.cache_dir or default_cache_dir()) / "responses.sqlite")
            self._engine = RouterEngine(
                routes,
                call_log=CallLog(self.call_log_path or settings.current().call_log),
                cache=cache,
                log_content=self.log_content,
                spend_cap_usd=self.spend_cap_usd,
                logger=dg.get_dagster_logger("declaration_assets.llm"),
                state=self._state,
            )
        return self._engine

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is None:
            # A broken routing file fails the run at start with a `RoutingFileError` naming the file and key. Dagster
            # does not retry a resource that fails to set up (the assets' retry policy applies to their bodies), and
            # the asset kit counts the error among the permanent ones (`orchestration/policies.py`).
            self._get_engine()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.counter.close()

    # --- CompletionClient ------------------------------------------------------------------------------------
    def complete(self, role: str, prompt: PromptSpec, ctx: CallContext) -> Completion:
        if self._client is not None:
            return self._client.complete(role, prompt, ctx)
        return self._get_engine().complete(role, prompt, ctx)

    def judge_roles(self, model_config: str) -> list[str]:
        if self._client is not None:
            return self._client.judge_roles(model_config)
        return self._get_engine().judge_roles(model_config)

    def role_description(self, model_config: str, role: str) -> dict[str, Any]:
        if self._client is not None:
            return self._client.role_description(model_config, role)
        return self._get_engine().role_description(model_config, role)

    # --- time budget ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def budget(self, seconds: float, label: str) -> Iterator[Budget]:
        """Every call inside shares one deadline of `seconds`; when it runs out the call fails naming `label`."""
        with time_budget(seconds, label) as b:
            yield b
