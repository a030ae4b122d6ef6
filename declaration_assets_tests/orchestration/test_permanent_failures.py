"""Permanent failures (a privacy refusal, an invalid routing file, a bad case.yaml, an LLM call whose every
attempt was refused) fail the step once: the assets' RetryPolicy does not run it again, and the message says so."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from declaration_assets.cases.models import CaseFileError
from declaration_assets.llm.models import CallContext, PermanentLLMFailure, PromptSpec
from declaration_assets.llm.resources import LLMRouter
from declaration_assets.orchestration.policies import LLM_RETRY_POLICY, NOT_RETRIED, llm_failure, stop_on_interrupt
from declaration_assets_tests.support.records import call_record

# A retry policy as the assets use, without the waits (a retry, if one happened, would be seen at once).
FAST_RETRIES = dg.RetryPolicy(max_retries=LLM_RETRY_POLICY.max_retries, delay=0)


def _external_routes(tmp_path: Path) -> Path:
    dep = {"model": "openai/outside", "api_base": "http://127.0.0.1:9/v1", "context_window": 4096,
           "privacy": "external", "free": True}
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump({"default": "default", "deployments": {"outside": dep}, "model_configs": {
        "default": {"drafter": ["outside"], "judges": [["outside"]] * 3, "guard": ["outside"]}}}))
    return path


def _attempts(result: dg.ExecuteInProcessResult) -> int:
    return 1 + sum(1 for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY")


def _failure_text(result: dg.ExecuteInProcessResult) -> str:
    return " ".join(str(e.step_failure_data.user_failure_data.description if e.step_failure_data.user_failure_data
                        else e.step_failure_data.error.message) for e in result.all_events if e.is_step_failure)


def test_privacy_refusal_inside_an_llm_asset_is_not_retried(tmp_path: Path) -> None:
    router = LLMRouter(routes_file=str(_external_routes(tmp_path)), call_log_path=str(tmp_path / "calls.jsonl"),
                       use_cache=False)

    @dg.asset(retry_policy=FAST_RETRIES)
    def judged(llm: LLMRouter) -> str:
        with stop_on_interrupt():  # as the LLM assets wrap their calls
            # no case record: an external route must refuse before a byte is sent
            ctx = CallContext(case_id="vawa-0001", asset="judged", model_config="default")
            return llm.complete("judge_1", PromptSpec(system="s", user="u"), ctx).text

    result = dg.materialize([judged], resources={"llm": router}, raise_on_error=False)
    assert not result.success
    assert _attempts(result) == 1
    assert "privacy" in _failure_text(result) and NOT_RETRIED in _failure_text(result)


def test_every_call_refused_is_a_permanent_asset_failure_but_a_hang_is_retried() -> None:
    refused = (call_record(deployment="outside", outcome="privacy_refused"),)
    hung = (call_record(deployment="local", outcome="deadline_first_token"),
            call_record(deployment="outside", outcome="privacy_refused"))
    counts = {}

    for name, records in (("refused", refused), ("hung", hung)):
        @dg.asset(name=name, retry_policy=FAST_RETRIES)
        def step() -> None:
            counts[name] = counts.get(name, 0) + 1
            raise llm_failure("every drafter call failed", records)

        result = dg.materialize([step], raise_on_error=False)
        assert not result.success
    assert counts == {"refused": 1, "hung": 1 + LLM_RETRY_POLICY.max_retries}


@pytest.mark.parametrize("error", [CaseFileError("case.yaml: parties: no party with role 'declarant'"),
                                   PermanentLLMFailure("draft: every deployment refused")])
def test_bad_case_file_and_permanent_llm_failure_are_not_retried(error: Exception) -> None:
    calls = []

    @dg.asset(retry_policy=FAST_RETRIES)
    def drafted() -> None:
        calls.append(1)
        with stop_on_interrupt():
            raise error

    result = dg.materialize([drafted], raise_on_error=False)
    assert not result.success and len(calls) == 1
    assert NOT_RETRIED in _failure_text(result)


def test_invalid_routing_file_fails_the_run_without_retries(tmp_path: Path) -> None:
    bad = tmp_path / "routes.yaml"
    bad.write_text("default: x\ndeployments: {}\nmodel_configs: {}\n")
    calls = []

    @dg.asset(retry_policy=FAST_RETRIES)
    def drafted(llm: LLMRouter) -> None:
        calls.append(1)

    result = dg.materialize([drafted], resources={"llm": LLMRouter(routes_file=str(bad), use_cache=False)},
                            raise_on_error=False)
    assert not result.success and calls == []
    assert _attempts(result) == 1
    # The resource fails to set up with the routing file's own error, naming the file; Dagster does not retry it.
    (init_failure,) = [e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE"]
    error = init_failure.event_specific_data.error.to_string()
    assert "RoutingFileError" in error and f"{bad}: invalid routing file" in error
