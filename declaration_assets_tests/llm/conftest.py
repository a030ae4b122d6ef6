"""Helpers for routing tests: routing files written from dicts, routers over real local servers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from declaration_assets.llm.models import CallContext
from declaration_assets.llm.resources import LLMRouter


def deployment(api_base: str, *, model: str = "openai/fault-model", total: float = 5.0, first: float = 1.0,
               stall: float = 1.0, retries: int = 2, window: int = 4096, **extra: Any) -> dict[str, Any]:
    dep: dict[str, Any] = {
        "model": model, "api_base": api_base, "context_window": window, "privacy": "local",
        "deadlines": {"total_s": total, "first_token_s": first, "stall_s": stall},
        "retry": {"attempts": retries, "backoff_s": 0.05, "max_backoff_s": 0.2},
    }
    dep.update(extra)
    if dep["privacy"] != "local" and "cost" not in dep and "input_cost_per_token" not in dep.get("litellm_params", {}):
        dep.setdefault("free", True)  # fault servers charge nothing; non-local routes must say so (or give a price)
    return dep


def routes(deployments: dict[str, dict[str, Any]], drafter: list[str], judges: list[list[str]] | None = None,
           guard: list[str] | None = None, **top: Any) -> dict[str, Any]:
    first = next(iter(deployments))
    return {
        "default": "default",
        "deployments": deployments,
        "model_configs": {"default": {
            "drafter": drafter, "judges": judges or [[first]] * 3, "guard": guard or [first]}},
        **top,
    }


@pytest.fixture
def make_router(tmp_path: Path) -> Callable[..., LLMRouter]:
    def make(route_data: dict[str, Any], **kwargs: Any) -> LLMRouter:
        path = tmp_path / "routes.yaml"
        path.write_text(yaml.safe_dump(route_data), encoding="utf-8")
        kwargs.setdefault("call_log_path", str(tmp_path / "calls.jsonl"))
        kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
        kwargs.setdefault("use_cache", False)
        router = LLMRouter(routes_file=str(path), **kwargs)
        router.routing()  # load and warm up now, so timings below measure calls only
        return router

    return make


@pytest.fixture
def ctx() -> CallContext:
    return CallContext(case_id="vawa-0001", asset="draft", model_config="default", run_id="run-1")
