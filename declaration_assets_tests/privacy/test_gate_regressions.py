"""Privacy defects that once let case data out: each test here failed before its fix."""

from __future__ import annotations

import pytest

from declaration_assets.cases.models import Party
from declaration_assets.llm.models import CallContext, PromptSpec
from declaration_assets.llm.privacy_gate import PrivacyRefusal, protect_prompt
from declaration_assets.llm.routing import Deployment
from declaration_assets.privacy.redaction import RedactionMap, find_leaks, redact

from .cases import sample_record

EXTERNAL = Deployment(name="outside", model="openrouter/acme/m", context_window=8000, privacy="external", free=True)


def test_every_component_of_a_listed_address_is_redacted_postal_code_included() -> None:
    record = sample_record("tvisa-0001")
    text = ("I lived at 4127 Palmetto Crest Dr, Kissimmee, FL 34746 and worked at 1200 W Colonial Dr, Suite 210, "
            "Orlando, FL 32804-1102. Mail went to Kissimmee FL 34746.")
    out = redact(text, record, RedactionMap(case_id=record.case_id))
    for value in ("34746", "32804", "1102", "4127", "Palmetto", "Colonial", "Suite 210"):
        assert value not in out, value
    assert "Kissimmee, FL" in out and "Orlando, FL" in out  # city and state stay (docs/PRIVACY.md)
    assert {leak.kind for leak in find_leaks("Kissimmee, FL 34746", record)} == {"ADDRESS"}
    assert not find_leaks("Kissimmee, FL", record)


def test_an_unrelated_number_is_not_taken_for_a_postal_code() -> None:
    record = sample_record("tvisa-0001")
    out = redact("Case 347460 was filed; the fee was $3,474.60.", record, RedactionMap(case_id=record.case_id))
    assert "347460" in out and "$3,474.60" in out


@pytest.mark.parametrize("name", ["", "   "])
def test_external_call_refused_when_the_declarant_has_no_name(name: str) -> None:
    record = sample_record("vawa-0001")
    # model_copy does not re-validate: the gate must hold even if a blank name got past intake
    parties = tuple(p.model_copy(update={"name": name}) if p.role == "declarant" else p for p in record.parties)
    blank = record.model_copy(update={"parties": parties})
    ctx = CallContext(case_id=record.case_id, asset="draft", model_config="default", case_record=blank)
    with pytest.raises(PrivacyRefusal, match="gives the declarant no name"):
        protect_prompt(PromptSpec(system="s", user="u"), EXTERNAL, ctx)


def test_external_call_refused_when_the_case_names_no_declarant() -> None:
    record = sample_record("vawa-0001")
    others = tuple(p for p in record.parties if p.role != "declarant")
    assert others and all(isinstance(p, Party) for p in others)
    ctx = CallContext(case_id=record.case_id, asset="draft", model_config="default",
                      case_record=record.model_copy(update={"parties": others}))
    with pytest.raises(PrivacyRefusal, match="names no declarant"):
        protect_prompt(PromptSpec(system="s", user="u"), EXTERNAL, ctx)
