"""docs/CONFIGURATION.md lists every variable the settings read, and the docs name no variable the project ignores."""

from __future__ import annotations

import re
from pathlib import Path

from declaration_assets import settings

ROOT = Path(__file__).resolve().parents[1]
TABLE = (ROOT / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")


def known() -> set[str]:
    return {*settings.VARIABLES.values(), *settings.ROUTING_FILE_VARIABLES, settings.LEGACY_PREVIEWS_VAR}


def test_every_variable_has_a_row_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(DECLARATION_[A-Z0-9_]+)` \| ([^|]+) \|", TABLE, re.M))
    assert set(rows) == known()
    for name, var in settings.VARIABLES.items():
        default = settings.from_env({}).model_dump()[name]
        if isinstance(default, (int, float, str)) and not isinstance(default, bool) and name != "project_root":
            assert str(default).removesuffix(".0") in rows[var], (var, default, rows[var])


def test_the_docs_name_only_real_variables() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "deploy").rglob("*.yaml"))]
    for path in docs:
        for var in set(re.findall(r"\bDECLARATION_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8"))):
            assert var in known(), f"{path.relative_to(ROOT)} names {var}, which the project does not read"


def test_readme_links_the_configuration_table() -> None:
    assert "](docs/CONFIGURATION.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
