"""The routing file is read one way, through its schema, by the partitions, the sensors and the LLM resource."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from declaration_assets import settings
from declaration_assets.llm.resources import LLMRouter
from declaration_assets.llm.routing import load_routes
from declaration_assets.llm.routing_file import default_model_config, model_config_names

from .conftest import deployment, routes

ROOT = Path(__file__).resolve().parents[2]


def two_configs(default: str) -> dict:
    data = routes({"a": deployment("http://127.0.0.1:9/v1")}, drafter=["a"])
    data["model_configs"]["other"] = dict(data["model_configs"]["default"])
    data["default"] = default
    return data


@pytest.mark.timeout(600)
def test_an_invalid_routing_file_fails_the_partitions_with_the_schemas_message(tmp_path: Path) -> None:
    """The model dimension is read through the schema: a chain naming an unknown deployment fails the code
    location's load with the message the resource gives (a raw YAML read of the names took such a file)."""
    bad = routes({"a": deployment("http://127.0.0.1:9/v1")}, drafter=["a", "ghost"])
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    env = {**os.environ, "DECLARATION_ROUTES": str(path), "PYTHONPATH": str(ROOT)}
    code = "import declaration_assets.partitions as p; print(p.model_partitions.get_partition_keys())"
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0, done.stdout
    assert "RoutingFileError" in done.stderr
    assert "model_configs.default.drafter: unknown deployment 'ghost'" in done.stderr


def test_sensors_and_resource_see_the_same_routing_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(two_configs("other")), encoding="utf-8")
    settings.configure(routes_file=path)
    router = LLMRouter(use_cache=False, call_log_path=str(tmp_path / "calls.jsonl"))
    assert model_config_names() == ["default", "other"]  # what the partitions read at load
    assert default_model_config() == "other" == router.routing().default  # the sensor's and the resource's
    assert router.routing() is load_routes()  # one validated load, shared
    # An edited file is read again (the cache is keyed by content), by the sensor and a newly set-up resource alike.
    path.write_text(yaml.safe_dump(two_configs("default")), encoding="utf-8")
    assert default_model_config() == "default"
    assert LLMRouter(use_cache=False, call_log_path=str(tmp_path / "calls.jsonl")).routing().default == "default"
    assert load_routes() is load_routes()


def test_the_cache_follows_the_variables_the_file_names(tmp_path: Path) -> None:
    data = routes({"a": deployment("${ROUTE_TEST_BASE:-http://127.0.0.1:9/v1}")}, drafter=["a"])
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_routes(path, env={}).deployments["a"].api_base == "http://127.0.0.1:9/v1"
    moved = load_routes(path, env={"ROUTE_TEST_BASE": "http://127.0.0.1:10/v1"})
    assert moved.deployments["a"].api_base == "http://127.0.0.1:10/v1"
