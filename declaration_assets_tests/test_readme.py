"""README's examples are real: the routing file example loads, the case.yaml example validates, links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from declaration_assets.cases.models import CaseRecord
from declaration_assets.llm.routing import load_routes

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def yaml_block(first_line_contains: str) -> str:
    for block in re.findall(r"```yaml\n(.*?)```", README, re.S):
        if first_line_contains in block.splitlines()[0]:
            return block
    raise AssertionError(f"README has no yaml block starting with {first_line_contains!r}")


def test_readme_routing_example_is_a_valid_routing_file(tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text(yaml_block("routes.yaml"), encoding="utf-8")
    routes = load_routes(path, env={"OPENROUTER_API_KEY": "sk-test"})
    assert routes.default == "local-ollama"
    assert set(routes.model_configs) == {"local-ollama", "cloud"}
    privacy = {name: d.privacy for name, d in routes.deployments.items()}
    assert privacy == {"qwen3-8b": "local", "vllm-llama": "local", "claude-haiku": "private_cloud", "or-llama": "external"}


def test_readme_case_yaml_example_validates():
    raw = yaml.safe_load(yaml_block("case.yaml"))
    record = CaseRecord.model_validate({"case_id": "vawa-0004", **raw})
    assert record.declarant.name == "Ana María Pérez-Gómez"
    assert "A-212-345-678" in record.sensitive_strings()


def test_readme_links_and_commands_point_at_real_things():
    for link in re.findall(r"\]\(([^)#]+)\)", README):
        assert (ROOT / link).exists(), link
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"`make ([a-z-]+)", README):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target}"
    for module in re.findall(r"python -m (declaration_assets[\w.]+)", README):
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module


def test_readme_capable_profile_example_is_a_valid_routing_file(tmp_path):
    path = tmp_path / "capable.yaml"
    path.write_text(yaml_block("capable.yaml"), encoding="utf-8")
    routes = load_routes(path)
    assert routes.model_configs["bedrock"].drafting_profile == "capable"
    assert routes.deployments["claude-sonnet"].privacy == "private_cloud"
