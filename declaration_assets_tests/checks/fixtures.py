"""Test fixtures built from the shipped sample cases' source text (no PDF extraction needed)."""

from __future__ import annotations

from pathlib import Path

from declaration_assets.cases.models import CaseRecord, load_case_record
from declaration_assets.drafting.models import Draft
from declaration_assets.evaluation import samples
from declaration_assets.extraction.models import ExtractedCase

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "data" / "cases"
REFERENCES = ROOT / "data" / "references"


def extracted_from_sources(case_id: str) -> ExtractedCase:
    """The case's documents as `extracted_text` would give them: one PageText per `<!-- page -->` block."""
    return samples.extracted_from_sources(case_id, ROOT / "data" / "case_sources")


def case_record(case_id: str) -> CaseRecord:
    return load_case_record(CASES / case_id / "case.yaml")


def draft_from_markdown(md: str, case_id: str, case_type: str, extracted: ExtractedCase,
                        element_titles: dict[str, str] | None = None, language: str = "en") -> Draft:
    """A Draft whose sections are the `## Title` sections of a Markdown declaration."""
    d = samples.draft_from_markdown(md, case_id, case_type, extracted, language)
    return d.model_copy(update={"model_config_name": "default", "prompt_version": "test"})
