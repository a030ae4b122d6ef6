"""JSON answers constrained to a schema, in each server's own dialect."""

from __future__ import annotations

from declaration_assets.llm.providers import adapter_for
from declaration_assets.llm.models import PromptSpec
from declaration_assets.llm.routing import load_routes

SCHEMA = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}


def spec(schema=None, json_mode=True):
    return PromptSpec(system="s", user="u", json_mode=json_mode, json_schema=schema)


def test_llamacpp_gets_the_schema_inside_json_object_others_get_json_schema():
    embedded = load_routes().deployments["embedded"]
    assert embedded.tokenizer == "llamacpp"
    kw = adapter_for(embedded).request(embedded, [], spec(SCHEMA), 64, None)
    assert kw["response_format"] == {"type": "json_object", "schema": SCHEMA}
    other = embedded.model_copy(update={"tokenizer": "estimate"})
    kw = adapter_for(other).request(other, [], spec(SCHEMA), 64, None)
    assert kw["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}
    assert adapter_for(other).request(other, [], spec(None), 64, None)["response_format"] == {"type": "json_object"}
    assert "response_format" not in adapter_for(other).request(other, [], spec(None, json_mode=False), 64, None)
