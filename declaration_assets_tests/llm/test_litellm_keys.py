"""The routing file in LiteLLM's own terms: ordinary LiteLLM keys accepted, secrets refused by what they are,
prices from LiteLLM's bundled map, `model_list` entries read as chains, proxy-only settings refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from declaration_assets.llm import engine
from declaration_assets.llm.providers import adapter_for
from declaration_assets.llm.transport import AttemptError
from declaration_assets.llm.routing import RoutingFileError, load_routes, parse_routes

from .conftest import deployment, routes

ENV = {"OLLAMA_API_BASE": "http://10.0.0.5:11434"}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "ROUTING.md"


def _parse(data: dict, tmp_path: Path, env: dict[str, str] | None = None):
    return parse_routes(data, tmp_path / "routes.yaml", env=env)


# --- ordinary LiteLLM keys are not "secrets" ------------------------------------------------------------------
def test_max_tokens_and_cost_per_token_in_litellm_params_are_accepted(tmp_path: Path) -> None:
    dep = deployment("http://x/v1", privacy="external", model="openrouter/x/y",
                     litellm_params={"max_tokens": 512, "input_cost_per_token": 2e-6, "output_cost_per_token": 8e-6,
                                     "num_retries": 4})
    del dep["retry"]
    r = _parse(routes({"a": dep}, drafter=["a"]), tmp_path)
    a = r.deployments["a"]
    assert a.max_output_tokens == 512
    assert a.cost is not None and a.cost.input_per_1k == pytest.approx(0.002) and a.cost.output_per_1k == pytest.approx(0.008)
    assert a.is_paid and not a.free
    assert a.retry.attempts == 4
    assert "max_tokens" not in a.litellm_params  # each call sets its own max_tokens; the file's is a cap


@pytest.mark.parametrize("key", ["api_key", "aws_secret_access_key", "aws_session_token", "password",
                                 "vertex_credentials", "azure_ad_token", "client_secret"])
def test_secrets_in_clear_are_refused_by_what_they_are(tmp_path: Path, key: str) -> None:
    data = routes({"a": deployment("http://x/v1", litellm_params={key: "hunter2"})}, drafter=["a"])
    with pytest.raises(RoutingFileError, match=rf"deployments\.a\.litellm_params: secrets .*\({key}\).*os\.environ/VAR"):
        _parse(data, tmp_path)


def test_secrets_as_os_environ_references_are_resolved_by_the_project(tmp_path: Path, monkeypatch) -> None:
    data = routes({"a": deployment("http://x/v1", litellm_params={"api_key": "os.environ/MY_KEY",
                                                                  "aws_secret_access_key": "os.environ/MY_SECRET"})},
                  drafter=["a"])
    a = _parse(data, tmp_path).deployments["a"]
    assert a.api_key_env == "MY_KEY" and a.litellm_params == {"aws_secret_access_key": "os.environ/MY_SECRET"}
    monkeypatch.setenv("MY_KEY", "k-123")
    monkeypatch.setenv("MY_SECRET", "s-456")
    from declaration_assets.llm.models import PromptSpec

    kw = adapter_for(a).request(a, [{"role": "user", "content": "x"}], PromptSpec(system="", user="x"), 16, None)
    assert kw["api_key"] == "k-123" and kw["aws_secret_access_key"] == "s-456"
    monkeypatch.delenv("MY_SECRET")
    with pytest.raises(AttemptError, match="MY_SECRET .*not set"):
        adapter_for(a).request(a, [{"role": "user", "content": "x"}], PromptSpec(system="", user="x"), 16, None)


# --- environment variable names and api_base ------------------------------------------------------------------
def test_api_base_without_scheme_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    data = routes({"a": deployment("${OLLAMA_HOST}", model="ollama_chat/qwen3:8b")}, drafter=["a"])
    with pytest.raises(RoutingFileError, match=r"deployments\.a\.api_base: api_base '0\.0\.0\.0:11434' has no scheme.*OLLAMA_API_BASE"):
        _parse(data, tmp_path, env={"OLLAMA_HOST": "0.0.0.0:11434"})


def test_docs_examples_use_litellm_variable_names() -> None:
    for path in (DOCS, DOCS.parents[1] / "README.md"):
        text = path.read_text(encoding="utf-8")
        assert "${OLLAMA_HOST" not in text and "${VLLM_API_BASE" not in text
    assert "${OLLAMA_API_BASE" in DOCS.read_text() and "${HOSTED_VLLM_API_BASE" in DOCS.read_text()


# --- prices ---------------------------------------------------------------------------------------------------
def test_paid_deployment_without_cost_takes_litellms_price(tmp_path: Path) -> None:
    dep = {"model": "openai/gpt-4o-mini", "api_base": "http://x/v1", "context_window": 128000, "privacy": "external"}
    a = _parse(routes({"a": dep}, drafter=["a"]), tmp_path).deployments["a"]
    assert a.is_paid and a.cost.input_per_1k == pytest.approx(0.00015)


def test_unknown_price_on_a_non_local_deployment_is_refused(tmp_path: Path) -> None:
    dep = {"model": "openrouter/acme/unknown-model", "context_window": 8000, "privacy": "external"}
    with pytest.raises(RoutingFileError, match=r"deployments\.a: no price for 'openrouter/acme/unknown-model'.*free: true"):
        _parse(routes({"a": dep}, drafter=["a"]), tmp_path)
    a = _parse(routes({"a": {**dep, "free": True}}, drafter=["a"]), tmp_path).deployments["a"]
    assert not a.is_paid
    local = {"model": "openai/whatever", "api_base": "http://x/v1", "context_window": 8000, "privacy": "local"}
    assert _parse(routes({"a": local}, drafter=["a"]), tmp_path).deployments["a"].cost is None


def test_no_zero_price_is_registered_for_deployments_without_cost(tmp_path: Path) -> None:
    from declaration_assets.llm._litellm import litellm

    dep = {"model": "openai/gpt-4o-mini", "api_base": "http://x/v1", "context_window": 128000, "privacy": "local"}
    price = lambda: litellm.get_model_info("openai/gpt-4o-mini")["input_cost_per_token"]  # noqa: E731
    before = price()
    assert before > 0
    engine.register_models(_parse(routes({"a": dep}, drafter=["a"]), tmp_path))
    assert price() == before  # not overwritten with $0


# --- model_list ----------------------------------------------------------------------------------------------
PROXY_CONFIG = """\
model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/converse/anthropic.claude-3-5-haiku-20241022-v1:0
      aws_region_name: us-east-1
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      num_retries: 1
    model_info:
      max_input_tokens: 200000
      privacy: private_cloud
  - model_name: claude
    litellm_params:
      model: openrouter/anthropic/claude-3.5-haiku
      api_key: os.environ/OPENROUTER_API_KEY
      max_tokens: 2048
      input_cost_per_token: 0.0000008
      output_cost_per_token: 0.000004
    model_info:
      max_input_tokens: 200000
    privacy: external
  - model_name: qwen
    litellm_params:
      model: ollama_chat/qwen3:8b
      api_base: os.environ/OLLAMA_API_BASE
      stream_timeout: 60
      timeout: 600
    model_info: {max_input_tokens: 32768}
    privacy: local
    tokenizer: estimate
router_settings:
  allowed_fails: 2
  cooldown_time: 45
"""


def _model_list_routes(extra: str = "") -> str:
    return PROXY_CONFIG + extra + """\
default: mixed
model_configs:
  mixed:
    drafter: claude
    judges: [[claude], [qwen], [qwen, claude]]
    guard: [qwen]
"""


def test_model_list_entries_become_chains_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(_model_list_routes(), encoding="utf-8")
    r = load_routes(path, env=ENV)
    assert [d.name for d in r.chain("mixed", "drafter")] == ["claude-1", "claude-2"]
    assert [d.name for d in r.chain("mixed", "judge_3")] == ["qwen", "claude-1", "claude-2"]
    c1, c2, q = r.deployments["claude-1"], r.deployments["claude-2"], r.deployments["qwen"]
    assert (c1.privacy, c1.context_window, c1.retry.attempts) == ("private_cloud", 200000, 1)
    assert c1.is_paid  # LiteLLM's price map knows it
    assert c1.litellm_params == {"aws_region_name": "us-east-1", "aws_secret_access_key": "os.environ/AWS_SECRET_ACCESS_KEY"}
    assert (c2.privacy, c2.api_key_env, c2.max_output_tokens) == ("external", "OPENROUTER_API_KEY", 2048)
    assert c2.cost.output_per_1k == pytest.approx(0.004)
    assert (q.deadlines.first_token_s, q.deadlines.stall_s, q.deadlines.total_s) == (60, 60, 600)
    assert (c1.cooldown.after_failures, c1.cooldown.seconds) == (3, 45)
    assert q.api_base == "http://10.0.0.5:11434"  # os.environ/OLLAMA_API_BASE, read at load as the proxy does


def test_model_list_can_be_pointed_at_in_a_proxy_config(tmp_path: Path) -> None:
    (tmp_path / "litellm.yaml").write_text(PROXY_CONFIG + "general_settings: {master_key: os.environ/MK}\n")
    path = tmp_path / "routes.yaml"
    path.write_text("litellm_config: litellm.yaml\n" + _model_list_routes().split(PROXY_CONFIG)[1], encoding="utf-8")
    r = load_routes(path, env=ENV)
    assert [d.name for d in r.chain("mixed", "drafter")] == ["claude-1", "claude-2"]


def test_entry_without_privacy_class_is_refused(tmp_path: Path) -> None:
    text = _model_list_routes().replace("    privacy: local\n", "")
    path = tmp_path / "routes.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RoutingFileError, match=r"model_list\[2\] \(model_name 'qwen'\): no privacy class"):
        load_routes(path, env=ENV)


@pytest.mark.parametrize(("extra", "expected"), [
    ("general_settings: {master_key: os.environ/MK}\n", r"general_settings: .*proxy server"),
    ("litellm_settings: {success_callback: [langfuse]}\n", r"litellm_settings\.success_callback: callbacks"),
    ("environment_variables: {X: y}\n", r"environment_variables: "),
])
def test_proxy_only_settings_are_refused_with_a_message(tmp_path: Path, extra: str, expected: str) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(_model_list_routes(extra), encoding="utf-8")
    with pytest.raises(RoutingFileError, match=expected):
        load_routes(path, env=ENV)


def test_num_retries_applies_to_transient_errors_only(tmp_path: Path) -> None:
    """num_retries becomes retry.attempts, which the engine spends on 429/5xx/dropped connections only: a
    deadline breach or a permanent error is never retried (test_faults covers the engine side)."""
    from declaration_assets.llm.records import RETRYABLE

    path = tmp_path / "routes.yaml"
    path.write_text(_model_list_routes(), encoding="utf-8")
    assert load_routes(path, env=ENV).deployments["claude-1"].retry.attempts == 1
    assert RETRYABLE == {"rate_limited", "server_error", "connection_error"}


def test_routing_doc_example_converted_from_a_proxy_config_loads(tmp_path: Path) -> None:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("<!-- converted-example -->")
    proxy, converted = [b.split("```", 1)[0] for b in text[start:].split("```yaml\n")[1:3]]
    with pytest.raises(RoutingFileError, match=r"general_settings(.|\n)*model_list\[0\] \(model_name 'claude'\): no privacy"):
        parse_routes({**yaml.safe_load(proxy), "default": "x", "model_configs": {}}, tmp_path / "routes.yaml", env={})
    r = parse_routes(yaml.safe_load(converted), tmp_path / "routes.yaml", env={})
    assert [d.name for d in r.chain("mixed", "drafter")] == ["claude-1", "claude-2"]
    assert r.deployments["qwen"].api_base == "http://127.0.0.1:11434"
    assert r.deployments["claude-1"].is_paid and r.deployments["claude-2"].is_paid
