"""Routing file validation: every error names the file, the key path and what is wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from declaration_assets import settings
from declaration_assets.llm.routing import RoutingFileError, load_routes, parse_routes
from declaration_assets.llm.routing_file import PACKAGED_ROUTES

from .conftest import deployment, routes


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_packaged_routes_load_with_env_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DECLARATION_EMBEDDED_API_BASE", raising=False)
    settings.configure(environ=os.environ)  # the routing file resolves against the settings' environment
    r = load_routes(PACKAGED_ROUTES)
    assert r.default == "default"
    assert r.deployments["embedded"].api_base == "http://127.0.0.1:18765/v1"
    assert r.deployments["embedded"].tokenizer == "llamacpp"
    assert [d.name for d in r.chain("default", "judge_3")] == ["embedded"]
    monkeypatch.setenv("DECLARATION_EMBEDDED_API_BASE", "http://127.0.0.1:5555/v1")
    settings.configure(environ=os.environ)
    assert load_routes(PACKAGED_ROUTES).deployments["embedded"].api_base == "http://127.0.0.1:5555/v1"


def test_unknown_deployment_is_named_with_its_key_path(tmp_path: Path) -> None:
    data = routes({"a": deployment("http://x/v1")}, drafter=["a"], judges=[["a"], ["a"], ["a", "ghost"]])
    path = _write(tmp_path, data)
    with pytest.raises(RoutingFileError) as err:
        load_routes(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "model_configs.default.judges[2]" in msg and "'ghost'" in msg


def test_fewer_than_three_judges_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, routes({"a": deployment("http://x/v1")}, drafter=["a"], judges=[["a"], ["a"]]))
    with pytest.raises(RoutingFileError, match=r"model_configs\.default\.judges: .*at least 3 judges, found 2"):
        load_routes(path)


def test_literal_api_key_is_refused_and_points_to_api_key_env(tmp_path: Path) -> None:
    dep = deployment("http://x/v1", api_key="sk-secret")
    path = _write(tmp_path, routes({"a": dep}, drafter=["a"]))
    with pytest.raises(RoutingFileError, match=r"deployments\.a\.api_key: unknown key .*api_key_env"):
        load_routes(path)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"privacy": "somewhere"}, r"deployments\.a\.privacy"),
        ({"deadlines": {"total_s": 1, "first_token_s": 5, "stall_s": 1}}, r"deployments\.a\.deadlines: .*first_token_s"),
        ({"deadlines": {"total_s": 10, "first_token_s": 5, "stall_s": 0.05}},
         r"deployments\.a\.deadlines: stall_s \(0\.05\) is below the floor of 1 s"),
        ({"deadlines": {"total_s": 10, "first_token_s": 0.5, "stall_s": 2}},
         r"deployments\.a\.deadlines: first_token_s \(0\.5\) is below the floor of 1 s"),
        ({"model": "no-provider"}, r"deployments\.a\.model: .*provider prefix"),
        ({"model": "openrouter/x/y"}, r"deployments\.a: .*privacy must be 'external'"),
        ({"ollama": {"options": {"num_ctx": 4096}}}, r"deployments\.a\.ollama"),
        ({"litellm_params": {"aws_secret_access_key": "x"}}, r"deployments\.a\.litellm_params: .*api_key_env"),
    ],
)
def test_bad_deployment_fields(tmp_path: Path, patch: dict, expected: str) -> None:
    path = _write(tmp_path, routes({"a": deployment("http://x/v1", **patch)}, drafter=["a"]))
    with pytest.raises(RoutingFileError, match=expected):
        load_routes(path)


def test_missing_env_var_without_default(tmp_path: Path) -> None:
    data = routes({"a": deployment("${NOT_SET_ANYWHERE_42}/v1")}, drafter=["a"])
    with pytest.raises(RoutingFileError, match="NOT_SET_ANYWHERE_42 is not set"):
        parse_routes(data, tmp_path / "r.yaml", env={})


def test_default_must_name_a_model_config(tmp_path: Path) -> None:
    data = routes({"a": deployment("http://x/v1")}, drafter=["a"])
    data["default"] = "fast"
    with pytest.raises(RoutingFileError, match=r"default: 'fast' is not a model configuration"):
        parse_routes(data, tmp_path / "r.yaml")


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("deployments: [unclosed", encoding="utf-8")
    with pytest.raises(RoutingFileError, match="not valid YAML"):
        load_routes(bad)
    with pytest.raises(RoutingFileError, match="not found"):
        load_routes(tmp_path / "absent.yaml")
