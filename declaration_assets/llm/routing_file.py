"""Locating the routing file. The full schema and validation live in `routing.py`."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

PACKAGED_ROUTES = Path(__file__).with_name("default_routes.yaml")
ROUTES_ENV = "DECLARATION_ROUTES"


def routes_path() -> Path:
    return Path(os.environ[ROUTES_ENV]) if os.environ.get(ROUTES_ENV) else PACKAGED_ROUTES


def model_config_names(path: Path | None = None) -> list[str]:
    """The model configurations a routing file names (cheap; used at code-location load for partitions)."""
    path = path or routes_path()
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    names = list((raw.get("model_configs") or {}).keys())
    if not names:
        raise ValueError(f"{path}: 'model_configs' names no model configuration")
    return names


def default_model_config(path: Path | None = None) -> str:
    path = path or routes_path()
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return str(raw.get("default", "default"))
