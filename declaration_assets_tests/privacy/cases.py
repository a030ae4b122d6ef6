"""Sample case records and what tests look for in them."""

from __future__ import annotations

import re
from pathlib import Path

from declaration_assets import settings
from declaration_assets.cases.models import CaseRecord, load_case_record

SAMPLE_CASES = ("vawa-0001", "vawa-0002", "tvisa-0001")
PLACEHOLDER = re.compile(r"\[[A-Z_]+_\d+(?:_\d+)?\]")


def sample_record(case_id: str) -> CaseRecord:
    return load_case_record(settings.current().project_root / "data" / "cases" / case_id / "case.yaml")


def sample_dir(case_id: str) -> Path:
    return settings.current().project_root / "data" / "cases" / case_id


def contains_ci(haystack: str, needle: str) -> bool:
    """Case-insensitive, whitespace-insensitive, word-bounded occurrence."""
    pat = r"(?<!\w)" + r"\s+".join(re.escape(t) for t in needle.split()) + r"(?!\w)"
    return re.search(pat, haystack, re.IGNORECASE) is not None
