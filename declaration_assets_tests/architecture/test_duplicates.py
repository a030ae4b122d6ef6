"""No repeated logic in the package: pylint's duplicate-code check (its similarity checker) finds nothing.

The settings live in pyproject.toml (`[tool.pylint.similarities]`): four or more equal lines, not counting imports,
signatures, comments and docstrings, are a finding. A shared piece of logic belongs in one function.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import declaration_assets

PACKAGE = Path(declaration_assets.__file__).parent
PROJECT = PACKAGE.parent


def duplicate_code(target: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pylint", "--disable=all", "--enable=duplicate-code", "--score=n",
         f"--rcfile={PROJECT / 'pyproject.toml'}", str(target)],
        cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )


def test_the_package_repeats_no_logic():
    result = duplicate_code(PACKAGE, PROJECT)
    assert "R0801" not in result.stdout and result.returncode == 0, result.stdout + result.stderr


def test_the_check_finds_a_copied_function(tmp_path):
    """The check can fail: the same five-line body in two modules is reported."""
    body = (
        "    total = 0\n"
        "    for value in values:\n"
        "        if value > limit:\n"
        "            total += value * 2\n"
        "    return total - limit\n"
    )
    package = tmp_path / "copied"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(f"def first(values, limit):\n{body}")
    (package / "b.py").write_text(f"def second(values, limit):\n{body}")
    result = duplicate_code(package, tmp_path)
    assert "R0801" in result.stdout and "copied.a" in result.stdout and "copied.b" in result.stdout, result.stdout
