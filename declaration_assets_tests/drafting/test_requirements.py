import shutil
from pathlib import Path

import pytest

from declaration_assets import settings
from declaration_assets.requirements import (
    RequirementsError,
    available_case_types,
    load_requirements,
    requirements_dir,
)

FIXED_ELEMENTS = {
    "vawa": [
        ("qualifying_relationship", "Qualifying Relationship"),
        ("abuse", "Battery or Extreme Cruelty"),
        ("good_faith_marriage", "Good-Faith Marriage"),
        ("joint_residence", "Residence with the Abuser"),
        ("good_moral_character", "Good Moral Character"),
    ],
    "t_visa": [
        ("trafficking", "Victim of a Severe Form of Trafficking"),
        ("physical_presence", "Physical Presence on Account of Trafficking"),
        ("law_enforcement", "Compliance with Reasonable Requests from Law Enforcement"),
        ("extreme_hardship", "Extreme Hardship upon Removal"),
    ],
}

U_VISA = """
case_type: u_visa
form: I-918
title: Petition for U Nonimmigrant Status
legal_basis: [8 CFR 214.14]
length: {min_words: 2000, max_words: 4000}
elements:
  - id: substantial_abuse
    title: Substantial Physical or Mental Abuse
    sources: [8 CFR 214.14(b)(1)]
    must_show: I suffered substantial physical or mental abuse from qualifying criminal activity.
    evidence: [medical records]
    queries: [injury hospital, fear nightmares]
"""


@pytest.mark.parametrize("case_type", ["vawa", "t_visa"])
def test_packaged_files_carry_the_fixed_elements_in_order(case_type):
    req = load_requirements(case_type)
    assert [(e.id, e.title) for e in req.elements] == FIXED_ELEMENTS[case_type]
    assert req.length.min_words < req.length.max_words
    for e in req.elements:
        assert len(e.queries) >= 3 and e.sources and e.evidence and e.must_show


def test_legal_sources_name_the_regulations():
    vawa = load_requirements("vawa")
    assert any("204.2(c)(1)" in s for s in vawa.legal_basis)
    assert all(any("204.2(c)" in s for s in e.sources) for e in vawa.elements)
    assert any("Part D" in s for s in vawa.legal_basis)
    t = load_requirements("t_visa")
    assert any("Part B" in s for s in t.legal_basis)
    assert "214.208" in " ".join(t.element("law_enforcement").sources)


def test_case_yaml_accepts_exactly_the_case_types_with_a_requirements_file(tmp_path, monkeypatch):
    from pydantic import ValidationError

    from declaration_assets.cases.models import CaseRecord

    assert CaseRecord(case_id="tvisa-0009", case_type="t_visa").case_type == "t_visa"
    with pytest.raises(ValidationError, match="unknown case type 'u_visa'"):
        CaseRecord(case_id="uvisa-0001", case_type="u_visa")
    for p in requirements_dir().glob("*.yaml"):
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "u_visa.yaml").write_text(U_VISA, encoding="utf-8")
    settings.configure(requirements_dir=tmp_path)
    assert CaseRecord(case_id="uvisa-0001", case_type="u_visa").case_type == "u_visa"


def test_adding_a_case_type_is_adding_a_file(tmp_path, monkeypatch):
    for p in requirements_dir().glob("*.yaml"):
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "u_visa.yaml").write_text(U_VISA, encoding="utf-8")
    settings.configure(requirements_dir=tmp_path)
    assert available_case_types() == ["t_visa", "u_visa", "vawa"]
    u = load_requirements("u_visa")
    assert u.element_ids() == ["substantial_abuse"]
    assert u.length.contains(2500) and not u.length.contains(1999)


@pytest.mark.parametrize(
    "mutation, message",
    [
        (lambda s: s.replace("min_words: 2000", "min_words: 5000"), "min_words"),
        (lambda s: s.replace("form: I-918", "form: I-918\nextra_key: 1"), "extra_key"),
        (lambda s: s.replace("queries: [injury hospital, fear nightmares]", "queries: [only one]"), "queries"),
        (lambda s: s.replace("case_type: u_visa", "case_type: other"), "must match the file name"),
        (lambda s: s + "\n  - id: substantial_abuse\n    title: again\n    sources: [x]\n    must_show: x\n"
         "    evidence: [x]\n    queries: [a, b]\n", "appears twice"),
        (lambda s: "elements: [", "not valid YAML"),
        (lambda s: s + "    queries_by_language: {spanish: [dolor]}\n", "ISO 639-1"),
        (lambda s: s + "    queries_by_language: {en: [pain]}\n", "belong in `queries`"),
        (lambda s: s + "    queries_by_language: {es: []}\n", "at least one"),
        (lambda s: s + "    queries_by_language: {es: ['  ']}\n", "none blank"),
    ],
)
def test_invalid_files_are_refused_with_the_file_and_field(tmp_path, mutation, message):
    path = tmp_path / "u_visa.yaml"
    path.write_text(mutation(U_VISA), encoding="utf-8")
    with pytest.raises(RequirementsError) as exc:
        load_requirements("u_visa", directory=tmp_path)
    assert message in str(exc.value) and "u_visa.yaml" in str(exc.value)


def test_unknown_case_type_lists_the_known_ones():
    with pytest.raises(RequirementsError, match="known: t_visa, vawa"):
        load_requirements("asylum", directory=Path(requirements_dir()))


def test_queries_in_the_declarants_language_come_with_the_english_ones(tmp_path):
    (tmp_path / "u_visa.yaml").write_text(U_VISA + "    queries_by_language: {es: [lesión hospital, fear nightmares]}\n",
                                          encoding="utf-8")
    u = load_requirements("u_visa", directory=tmp_path)
    e = u.element("substantial_abuse")
    assert e.queries_for("es") == ("injury hospital", "fear nightmares", "lesión hospital")  # no repeats
    assert e.queries_for("en") == e.queries_for("tl") == e.queries
    assert u.for_language("es").element("substantial_abuse").queries == e.queries_for("es")
    assert u.for_language("es").element_ids() == u.element_ids() and u.element("substantial_abuse").queries == e.queries


@pytest.mark.parametrize("case_type", ["vawa", "t_visa"])
def test_packaged_files_have_spanish_queries_for_every_element(case_type):
    for e in load_requirements(case_type).elements:
        assert len(e.queries_by_language.get("es", ())) >= 3, e.id
