"""Locating the routing file, and the two things the orchestration asks of it. Both go through the one cached,
validated load (`routing.load_routes`), like the LLM resource, so the partitions, the sensors and the resource
cannot read the same file differently."""

from __future__ import annotations

from pathlib import Path

from .. import settings

PACKAGED_ROUTES = settings.PACKAGED_ROUTES
ROUTES_ENV = settings.VARIABLES["routes_file"]  # DECLARATION_ROUTES


def routes_path() -> Path:
    """`DECLARATION_ROUTES` from the settings, else the packaged file."""
    return settings.current().routes_file


def model_config_names(path: Path | None = None) -> list[str]:
    """The model configurations of the routing file (the partitions' model dimension, read when the code location
    loads). An invalid file fails here with the schema's message."""
    from .routing import load_routes

    return list(load_routes(path).model_configs)


def default_model_config(path: Path | None = None) -> str:
    """The configuration the sensor and `make demo` use."""
    from .routing import load_routes

    return load_routes(path).default
