"""No function in the package is over 80 lines (from its `def` to its last line, docstring and comments included).

A longer function does several things; each gets a name of its own. Counted with the standard library's parser,
as pylint has no rule for a function's length in lines (`too-many-statements` counts statements).
"""

from __future__ import annotations

import ast
from pathlib import Path

import declaration_assets

PACKAGE = Path(declaration_assets.__file__).parent
MAX_LINES = 80


def long_functions(root: Path, limit: int = MAX_LINES) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    out.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({lines} lines)")
    return out


def test_no_function_is_over_80_lines():
    assert long_functions(PACKAGE) == []


def test_a_long_function_is_found(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))  # 80 body lines + the def line
    (package / "mod.py").write_text(f"def short():\n    return 1\n\n\ndef long():\n{body}", encoding="utf-8")
    assert long_functions(package) == [f"pkg/mod.py:5 long ({MAX_LINES + 1} lines)"]
