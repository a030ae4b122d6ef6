"""Run every guard on a draft against its case record, with the case type's requirements."""

from __future__ import annotations

from ..cases.models import CaseRecord
from ..drafting.models import Draft
from ..extraction.models import ExtractedCase
from ..requirements import load_requirements
from .facts import CaseFacts, build_case_facts
from .models import GuardReport
from .rules import run_guards


def required_elements(case_type: str) -> list[tuple[str, str]]:
    """(element id, section title) of every element the case type requires."""
    return [(e.id, e.title) for e in load_requirements(case_type).elements]


def length_bounds(case_type: str) -> tuple[int, int]:
    b = load_requirements(case_type).length
    return b.min_words, b.max_words


def case_facts(draft: Draft, record: CaseRecord | None, extracted: ExtractedCase | None) -> CaseFacts:
    """The record's facts; exhibits come from the extracted documents, or from the draft's exhibit list."""
    exhibits = None if extracted is not None else {e.letter: e.pages for e in draft.exhibits}
    return build_case_facts(record, extracted, exhibits)


def guard_draft(
    draft: Draft, record: CaseRecord | None, extracted: ExtractedCase | None, facts: CaseFacts | None = None
) -> GuardReport:
    facts = facts or case_facts(draft, record, extracted)
    return run_guards(draft, facts, required_elements(draft.case_type), length_bounds(draft.case_type))
