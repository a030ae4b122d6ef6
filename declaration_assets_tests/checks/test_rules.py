"""The guards catch what they claim to catch, on a real sample case, and let a clean declaration through."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from declaration_assets.checks.evaluate import case_facts, guard_draft, required_elements
from declaration_assets.checks.facts import build_case_facts, find_dates
from declaration_assets.checks.rules import check_length, find_citations, find_name_candidates

from .fixtures import REFERENCES, case_record, draft_from_markdown, extracted_from_sources

CASE = "vawa-0002"


@pytest.fixture(scope="module")
def extracted():
    return extracted_from_sources(CASE)


@pytest.fixture(scope="module")
def record():
    return case_record(CASE)


@pytest.fixture()
def clean(extracted):
    """The hand-written reference declaration of the case: every fact is in the record."""
    md = (REFERENCES / f"{CASE}.md").read_text(encoding="utf-8")
    return draft_from_markdown(md, CASE, "vawa", extracted, dict(required_elements("vawa")), language="es")


def _rules(report, severity=None):
    return [f.rule for f in report.findings if severity is None or f.severity == severity]


def _add(draft, element_id, text):
    draft.section_for(element_id).paragraphs.append(text)
    return draft


def test_clean_reference_passes_every_fact_rule(clean, record, extracted):
    report = guard_draft(clean, record, extracted)
    # The only finding allowed on the reference is its length against the case type's bounds.
    assert [f for f in report.findings if f.rule not in {"too_short", "too_long"}] == []


def test_invented_name_is_flagged(clean, record, extracted):
    _add(clean, "abuse", "That night John Whitaker drove me to the hospital [Ex. D, p. 1].")
    report = guard_draft(clean, record, extracted)
    names = [f for f in report.findings if f.rule == "name_not_in_record"]
    assert len(names) == 1 and names[0].severity == "serious"
    assert names[0].evidence.text == "John Whitaker" and names[0].section_key == "abuse"


def test_known_words_in_a_new_combination_are_a_warning(clean, record, extracted):
    _add(clean, "abuse", "Rodrigo Reyes was there [Ex. D, p. 1].")
    report = guard_draft(clean, record, extracted)
    assert [(f.rule, f.severity) for f in report.findings if "name" in f.rule] == [
        ("name_combination_not_in_record", "warning")
    ]


def test_wrong_date_is_flagged_but_other_formats_of_record_dates_pass(clean, record, extracted):
    # The declarant's birth date, written four ways, then a date that is nowhere in the record.
    _add(clean, "good_moral_character",
         "I was born on 03/14/1991, on 1991-03-14, on 14 de marzo de 1991 and on 14 March 1991 [Ex. A, p. 1].")
    assert "date_not_in_record" not in _rules(guard_draft(clean, record, extracted))
    _add(clean, "good_moral_character", "On March 3, 2020 he broke my phone [Ex. A, p. 2].")
    report = guard_draft(clean, record, extracted)
    dates = [f for f in report.findings if f.rule == "date_not_in_record"]
    assert [f.evidence.text for f in dates] == ["March 3, 2020"]


def test_a_record_date_tied_to_the_wrong_evidence_is_a_warning(clean, record, extracted):
    # January 24, 2023 is in the record (the protective order), but the marriage certificate does not show it.
    _add(clean, "qualifying_relationship", "Rodrigo and I were married on June 18, 2016 [Ex. B, p. 2].")
    assert "date_not_on_cited_page" not in _rules(guard_draft(clean, record, extracted))
    _add(clean, "qualifying_relationship", "Rodrigo and I were married on January 24, 2023 [Ex. B, p. 2]. "
                                           "The hearing was on January 24, 2023 [Ex. F, p. 1].")
    report = guard_draft(clean, record, extracted)
    wrong = [f for f in report.findings if f.rule == "date_not_on_cited_page"]
    assert [(f.evidence.text, f.severity) for f in wrong] == [("January 24, 2023", "warning")]
    assert "Ex. B, p. 2" in wrong[0].message and "date_not_in_record" not in _rules(report)


def test_cited_pages_belong_to_the_sentence_of_the_date():
    from declaration_assets.checks.rules import cited_pages_after

    text = ("We married on June 15, 2019 at 2215 Calloway St. in Houston [Ex. B, p. 1] [Ex. A, p. 2]. "
            "He hit me on May 2, 2023. I left [Ex. C, p. 1; Ex. D, pp. 2-3].")
    assert cited_pages_after(text, text.index("June")) == [("B", 1), ("A", 2)]
    assert cited_pages_after(text, text.index("May 2")) is None  # its sentence cites nothing
    assert cited_pages_after(text, text.index("I left")) == [("C", 1), ("D", 2), ("D", 3)]


def test_citation_to_missing_page_or_exhibit_is_flagged(clean, record, extracted):
    pages_b = {d.exhibit: d.pages for d in extracted.documents}["B"]
    _add(clean, "abuse", f"He said it again [Ex. B, p. {pages_b + 1}]. And again [Ex. Z, p. 1].")
    report = guard_draft(clean, record, extracted)
    assert "page_out_of_range" in _rules(report, "serious")
    assert "unknown_exhibit" in _rules(report, "serious")


@pytest.mark.parametrize("token", ["{evidence}", "[NAME]", "<PERSON_1>", "PHONE_2", "TODO", "[[fill me]]", "XXX",
                                   "{{ declarant }}", "[insert date of marriage]"])
def test_leaked_placeholder_is_flagged(clean, record, extracted, token):
    _add(clean, "joint_residence", f"We lived there with {token} [Ex. G, p. 1].")
    report = guard_draft(clean, record, extracted)
    hits = [f for f in report.findings if f.rule == "placeholder"]
    assert len(hits) == 1 and hits[0].evidence.text.strip() == token.strip()


def test_missing_element_and_uncited_element_are_flagged(clean, record, extracted):
    clean.sections = [s for s in clean.sections if s.element_id != "good_faith_marriage"]
    clean.section_for("joint_residence").paragraphs = ["We lived together for years."]
    report = guard_draft(clean, record, extracted)
    by_rule = {f.rule: f for f in report.findings}
    assert by_rule["missing_element"].section_key == "good_faith_marriage"
    assert by_rule["element_without_citation"].section_key == "joint_residence"
    assert by_rule["uncited_paragraph"].severity == "warning"
    assert not report.ready


def test_invented_phone_address_and_id_are_flagged(clean, record, extracted):
    _add(clean, "abuse", "He moved to 455 Elm Street and called me from (832) 555-9999; his number is A-999-888-777 "
                         "and he wrote from rigo.fake@example.com [Ex. E, p. 1].")
    rules = _rules(guard_draft(clean, record, extracted), "serious")
    assert {"address_not_in_record", "phone_not_in_record", "number_not_in_record", "email_not_in_record"} <= set(rules)
    assert "name_not_in_record" not in rules  # "Elm Street" is the address rule's finding, not a person


def test_record_phone_and_ids_pass_in_any_format(clean, record, extracted):
    _add(clean, "abuse", "My phone is 713-555-0142, my email MFCastillo.Reyes@example.org and my A-number is "
                         "A219804356 [Ex. A, p. 1].")
    rules = _rules(guard_draft(clean, record, extracted))
    assert not {"phone_not_in_record", "number_not_in_record", "email_not_in_record"} & set(rules)


def test_length_bounds():
    from declaration_assets.drafting.models import Draft, Section

    d = Draft(case_id="vawa-0001", model_config_name="default", case_type="vawa", declarant_name="X", language="en",
              sections=[Section(kind="element", element_id="abuse", title="T", paragraphs=["word " * 50])],
              exhibits=[], prompt_version="t")
    assert [(f.rule, f.severity) for f in check_length(d, (100, 200))] == [("too_short", "warning")]
    assert check_length(d, (10, 200)) == []
    assert [(f.rule, f.severity) for f in check_length(d, (10, 20))] == [("too_long", "warning")]


def test_date_parser_spans_and_formats():
    ds = find_dates("On 14 de marzo de 1991, then 3/4/2020 and in April 2023.")
    assert [d.text for d in ds] == ["14 de marzo de 1991", "3/4/2020", "April 2023"]
    assert ds[0].days == {date(1991, 3, 14)}
    assert ds[1].days == {date(2020, 3, 4), date(2020, 4, 3)}  # US reading and day/month reading
    assert ds[2].month == (2023, 4) and not ds[2].days


def test_citation_parser():
    cs = find_citations("a [Ex. B, p. 2] b [Ex. C, pp. 1-3; Ex. D, p. 4] c [Ex. B]")
    assert [(c.exhibit, c.pages) for c in cs] == [("B", (2,)), ("C", (1, 2, 3)), ("D", (4,)), (None, ())]


def test_name_candidates_skip_common_words_and_join_connectors(record, extracted):
    facts = build_case_facts(record, extracted)
    names = find_name_candidates("After Mass, María Fernanda Castillo de Benítez went to the Police Department.", facts)
    assert [n.text for n in names] == ["María Fernanda Castillo de Benítez"]


def test_exhibits_fall_back_to_the_draft_when_no_extraction(clean, record):
    facts = case_facts(clean, record, None)
    assert facts.exhibits == {e.letter: e.pages for e in clean.exhibits}
    broken = copy.deepcopy(clean)
    _add(broken, "abuse", "[Ex. A, p. 99]")
    assert "page_out_of_range" in _rules(guard_draft(broken, record, None))


@pytest.mark.parametrize("case_id", ["vawa-0001", "tvisa-0001"])
def test_other_references_have_no_serious_fact_findings(case_id):
    """Titles ("Special Agent", "Ma'am") and possessives ("Donna's") are not names to flag."""
    ex, rec = extracted_from_sources(case_id), case_record(case_id)
    md = (REFERENCES / f"{case_id}.md").read_text(encoding="utf-8")
    d = draft_from_markdown(md, case_id, rec.case_type, ex, language=rec.language)
    report = guard_draft(d, rec, ex)
    assert [f.message for f in report.serious if f.rule not in {"too_short", "too_long"}] == []


def test_unknown_sentence_initial_word_before_a_known_name_is_only_a_warning(clean, record, extracted):
    _add(clean, "abuse", "Yesterday Rodrigo called me again [Ex. A, p. 2]. Then Amanda Kowalski called [Ex. A, p. 2].")
    names = [(f.rule, f.severity, f.evidence.text) for f in guard_draft(clean, record, extracted).findings
             if f.rule.startswith("name")]
    assert names == [("name_not_in_record", "warning", "Yesterday Rodrigo"),
                     ("name_not_in_record", "serious", "Amanda Kowalski")]


def test_drafting_gap_is_one_serious_finding(clean, record, extracted):
    gap = ('[DRAFTING GAP: the drafting model produced no usable first-person text for "Good-Faith Marriage" '
           "(all sentences removed: chatter 2). Evidence to draft from: [Ex. B, p. 2], [Ex. G, p. 1].]")
    clean.section_for("good_faith_marriage").paragraphs = [gap]
    report = guard_draft(clean, record, extracted)
    gaps = [f for f in report.findings if f.section_key == "good_faith_marriage" and f.severity == "serious"]
    assert [f.rule for f in gaps] == ["drafting_gap"]
    assert gaps[0].evidence.text == gap
