"""Response cache, time budget, spend cap, privacy gate, and the resource inside Dagster."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterator

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.llm.cache import CachedAnswer, ResponseCache, case_keys
from declaration_assets.llm.budget import BudgetExhausted
from declaration_assets.llm.providers import adapter_for
from declaration_assets.llm.models import CallContext, LLMFailure, PromptSpec
from declaration_assets_tests.support.fake_llm import FakeLLM, router_wrapping
from declaration_assets.llm.privacy_gate import PrivacyRefusal, protect_outbound
from declaration_assets.llm.records import records_markdown, records_summary, records_table
from declaration_assets.llm.resources import LLMRouter
from declaration_assets.llm.routing import Deployment
from declaration_assets_tests.support.fault_servers import Latency, Mode, OpenAIFaultServer
from declaration_assets_tests.support.records import call_record

from .conftest import deployment, routes

PROMPT = PromptSpec(system="s", user="Rate the section.", max_tokens=16)


@pytest.fixture
def server() -> Iterator[OpenAIFaultServer]:
    counter = iter(range(10**6))
    with OpenAIFaultServer(latency=Latency(tokens=3), reply=lambda rec: f"answer {next(counter)}") as s:
        yield s


def _chats(server: OpenAIFaultServer) -> int:
    return len(server.requests_to("/chat/completions"))


# --- cache -------------------------------------------------------------------------------------------------------

def test_second_identical_call_makes_no_request(make_router, ctx, server):
    router = make_router(routes({"a": deployment(f"{server.base_url}/v1")}, drafter=["a"]), use_cache=True)
    first = router.complete("drafter", PROMPT, ctx)
    second = router.complete("drafter", PROMPT, ctx)
    assert _chats(server) == 1
    assert second.cached and second.text == first.text
    assert [r.outcome for r in second.records] == ["cached"]
    # a changed request parameter misses
    router.complete("drafter", PromptSpec(system="s", user="Rate the section.", max_tokens=17), ctx)
    assert _chats(server) == 2


def test_two_judges_on_one_model_do_not_share_answers(make_router, ctx, server):
    router = make_router(routes({"a": deployment(f"{server.base_url}/v1")}, drafter=["a"]), use_cache=True)
    answers = {role: router.complete(role, PROMPT, ctx).text for role in ("judge_1", "judge_2", "judge_3")}
    assert _chats(server) == 3 and len(set(answers.values())) == 3
    again = {role: router.complete(role, PROMPT, ctx) for role in ("judge_1", "judge_2", "judge_3")}
    assert _chats(server) == 3
    assert {r: c.text for r, c in again.items()} == answers and all(c.cached for c in again.values())


def test_cache_persists_across_router_instances_and_can_be_bypassed(make_router, ctx, server, monkeypatch):
    data = routes({"a": deployment(f"{server.base_url}/v1")}, drafter=["a"])
    make_router(data, use_cache=True).complete("drafter", PROMPT, ctx)
    assert make_router(data, use_cache=True).complete("drafter", PROMPT, ctx).cached
    assert _chats(server) == 1
    assert not make_router(data, use_cache=False).complete("drafter", PROMPT, ctx).cached
    settings.configure(llm_cache=False)
    assert not make_router(data, use_cache=True).complete("drafter", PROMPT, ctx).cached
    assert _chats(server) == 3


def test_cache_file_is_private_and_answers_carry_their_case(make_router, ctx, server, tmp_path):
    router = make_router(routes({"a": deployment(f"{server.base_url}/v1")}, drafter=["a"]), use_cache=True)
    first = router.complete("drafter", PROMPT, ctx)
    other = CallContext(case_id="vawa-0002", asset="draft", model_config="default")
    second = router.complete("drafter", PromptSpec(system="s", user="Another case.", max_tokens=16), other)
    db = tmp_path / "cache" / "responses.sqlite"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for suffix in ("-wal", "-shm"):  # sqlite's side files take the database file's mode
        side = db.with_name(db.name + suffix)
        assert not side.exists() or stat.S_IMODE(side.stat().st_mode) == 0o600
    assert case_keys(db, "vawa-0001") == {first.records[-1].cache_key}
    assert case_keys(db, "vawa-0002") == {second.records[-1].cache_key}
    assert case_keys(tmp_path / "absent.sqlite", "vawa-0001") == set() and not (tmp_path / "absent.sqlite").exists()


def test_cache_from_before_the_case_column_is_upgraded_and_tightened(tmp_path):
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, created REAL, answer TEXT NOT NULL)")
    os.chmod(db, 0o644)
    assert case_keys(db, "vawa-0001") == set()  # an older cache: no case column yet, no error
    cache = ResponseCache(db)
    cache.put("k", CachedAnswer(text="t", deployment="a", evidence_used=0, evidence_dropped=0, prompt_tokens=1,
                                completion_tokens=1, cost_usd=0.0), case_id="vawa-0001")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert case_keys(db, "vawa-0001") == {"k"} and cache.get("k").text == "t"


def test_failures_are_not_cached(make_router, ctx, server):
    server.set_mode(Mode.HTTP_500)
    router = make_router(routes({"a": deployment(f"{server.base_url}/v1", retries=0)}, drafter=["a"]), use_cache=True)
    with pytest.raises(LLMFailure):
        router.complete("drafter", PROMPT, ctx)
    server.set_mode(Mode.HEALTHY)
    assert not router.complete("drafter", PROMPT, ctx).cached


# --- time budget -------------------------------------------------------------------------------------------------

def test_budget_is_shared_and_names_the_asset_when_exhausted(make_router, ctx, server):
    server.set_mode(Mode.HANG)
    router = make_router(routes({"a": deployment(f"{server.base_url}/v1", first=5, total=10)}, drafter=["a"]))
    t0 = time.monotonic()
    with router.budget(0.8, "draft of vawa-0001"), pytest.raises(BudgetExhausted) as err:
        router.complete("drafter", PROMPT, ctx)
    assert time.monotonic() - t0 < 0.8 + 2.0  # the deployment alone would wait 5 s for a first token
    msg = str(err.value)
    assert "draft:" in msg and "draft of vawa-0001" in msg and "drafter" in msg and "'a'" in msg
    assert err.value.records[-1].outcome == "budget_exhausted"
    (req,) = server.requests_to("/chat/completions")
    assert req.wait_done(2.0) and req.outcome == "client_disconnected"


def test_exhausted_budget_stops_before_sending(make_router, ctx, server):
    router = make_router(routes({"a": deployment(f"{server.base_url}/v1")}, drafter=["a"]))
    with router.budget(0.05, "judging"):
        time.sleep(0.1)
        with pytest.raises(BudgetExhausted, match="before sending"):
            router.complete("judge_1", PROMPT, ctx)
    assert _chats(server) == 0


# --- spend cap ---------------------------------------------------------------------------------------------------

def test_spend_cap_stops_paid_calls_clearly(make_router, server, monkeypatch):
    monkeypatch.setenv("FAULT_PAID_KEY", "sk-test")
    paid = deployment(f"{server.base_url}/v1", privacy="private_cloud", api_key_env="FAULT_PAID_KEY",
                      cost={"input_per_1k": 1.0, "output_per_1k": 1.0})
    router = make_router(routes({"paid": paid}, drafter=["paid"], limits={"spend_cap_usd_per_run": 0.05}))
    ctx = CallContext(case_id="vawa-0001", asset="draft", model_config="default", run_id="run-spend")
    small = PromptSpec(system="s", user="hi", max_tokens=4)
    first = router.complete("drafter", small, ctx)
    assert first.cost_usd > 0
    with pytest.raises(LLMFailure, match=r"spend cap of \$0.05 per run reached"):
        for _ in range(10):
            router.complete("drafter", small, ctx)
    spent = sum(r["cost_usd"] for r in map(json.loads, open(router.call_log_path)) if r["run_id"] == "run-spend")
    assert spent <= 0.05
    # another run starts from zero
    other = CallContext(case_id="vawa-0001", asset="draft", model_config="default", run_id="run-other")
    assert router.complete("drafter", small, other).cost_usd > 0


# --- privacy -----------------------------------------------------------------------------------------------------

def test_external_deployment_is_refused_and_never_contacted(make_router, ctx, server):
    with OpenAIFaultServer(flavor="openrouter") as outside:
        data = routes({"outside": deployment(f"{outside.base_url}/api/v1", model="openrouter/some/model", privacy="external"),
                       "local": deployment(f"{server.base_url}/v1")}, drafter=["outside", "local"])
        c = make_router(data).complete("drafter", PROMPT, ctx)
        assert [(r.deployment, r.outcome) for r in c.records] == [("outside", "privacy_refused"), ("local", "ok")]
        assert "external" in c.records[0].error
        assert outside.requests == []


def test_gate_rules() -> None:
    ctx = CallContext(case_id="c-0001", asset="draft", model_config="default")
    msgs = [{"role": "user", "content": "x"}]
    local = Deployment(name="l", model="openai/m", context_window=10, privacy="local")
    cloud = Deployment(name="c", model="bedrock/converse/m", context_window=10, privacy="private_cloud", free=True)
    cloud_r = Deployment(name="cr", model="bedrock/converse/m", context_window=10, privacy="private_cloud", require_redaction=True, free=True)
    out, restore = protect_outbound(msgs, local, ctx)
    assert out == msgs and restore("a") == "a"
    assert protect_outbound(msgs, cloud, ctx)[0] == msgs
    with pytest.raises(PrivacyRefusal, match="'cr'.*require_redaction"):
        protect_outbound(msgs, cloud_r, ctx)
    # `redaction` defaults on; switched off where redaction is required, the gate refuses before anything else
    assert cloud_r.redaction is True
    cloud_off = cloud_r.model_copy(update={"name": "cr-off", "redaction": False})
    with pytest.raises(PrivacyRefusal, match=r"'cr-off'.*require_redaction: true.*\(redaction: false\)"):
        protect_outbound(msgs, cloud_off, ctx)
    ext_off = Deployment(name="x-off", model="openrouter/m", context_window=10, privacy="external", redaction=False, free=True)
    with pytest.raises(PrivacyRefusal, match=r"'x-off'.*privacy 'external'.*\(redaction: false\)"):
        protect_outbound(msgs, ext_off, ctx)
    # where no redaction is required the switch changes nothing
    local_off = Deployment(name="l-off", model="openai/m", context_window=10, privacy="local", redaction=False)
    assert protect_outbound(msgs, local_off, ctx)[0] == msgs


def test_openrouter_requests_deny_data_collection() -> None:
    dep = Deployment(name="or", model="openrouter/x/y", context_window=1000, privacy="external", free=True,
                     extra_body={"provider": {"order": ["a"]}})
    kw = adapter_for(dep).request(dep, [{"role": "user", "content": "x"}], PROMPT, 16, None)
    assert kw["extra_body"]["provider"] == {"order": ["a"], "data_collection": "deny"}


# --- Dagster -----------------------------------------------------------------------------------------------------

def test_resource_in_a_materialization_logs_records_and_metadata(make_router, server, tmp_path):
    router = make_router(routes({"a": deployment(f"{server.base_url}/v1")}, drafter=["a"]))

    @dg.asset
    def scored(context, llm: LLMRouter) -> dg.MaterializeResult:  # noqa: ANN001 - Dagster reads annotations
        ctx = CallContext(case_id="vawa-0001", asset="scored", model_config="default", run_id=context.run_id)
        with llm.budget(30, "scored"):
            c = llm.complete("judge_2", PROMPT, ctx)
        return dg.MaterializeResult(metadata={"llm_calls": records_table(c.records), "text": c.text})

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([scored], resources={"llm": router}, instance=instance)
    assert result.success
    md = result.asset_materializations_for_node("scored")[0].metadata
    assert "| judge_2 | a |" in md["llm_calls"].value
    key = server.requests_to("/chat/completions")[0].headers.get("authorization")
    assert key == "Bearer not-needed"  # local deployment: placeholder, no real credential
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("llm ok scored/judge_2@default deployment=a attempt=1" in m for m in logs)
    logged = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert logged[-1]["run_id"] == result.run_id


def test_fake_client_stands_in_through_the_resource_type() -> None:
    fake = FakeLLM().enqueue("scripted")

    @dg.asset
    def uses_llm(llm: LLMRouter) -> str:
        ctx = CallContext(case_id="vawa-0001", asset="uses_llm", model_config="default")
        return llm.complete("drafter", PROMPT, ctx).text + f" {len(llm.judge_roles('default'))}"

    result = dg.materialize([uses_llm], resources={"llm": router_wrapping(fake)})
    assert result.output_for_node("uses_llm") == "scripted 3"
    assert fake.history[0][0] == "drafter"


def test_records_table_renders_rows_and_totals() -> None:
    recs = (call_record(deployment="a", attempt=1, outcome="server_error", error_class="X|Y"),
            call_record(deployment="a", attempt=2, prompt_tokens=10, completion_tokens=5, latency_s=1.5, cost_usd=0.001))
    md = records_markdown(recs)
    assert md.count("\n| drafter |") == 2 and "X\\|Y" in md
    assert "1 ok / 2 attempts" in md and "10 tokens in, 5 out" in md
    assert isinstance(records_table(recs), dg.MarkdownMetadataValue)


def test_records_summary_of_no_calls_has_float_totals() -> None:
    # An asset whose every item was skipped makes no call; its metadata still takes the totals as floats.
    summary = records_summary(())
    assert summary["attempts"] == 0
    for key in ("latency_s", "cost_usd"):
        assert isinstance(summary[key], float) and summary[key] == 0.0
        assert dg.MetadataValue.float(summary[key]).value == 0.0
