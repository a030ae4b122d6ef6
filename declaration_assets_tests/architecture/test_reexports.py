"""Every name is imported from the module that defines it.

A module that imports a helper only to hand it on (a re-export for older imports) leaves two homes for one name,
and the next move of that helper breaks callers that nobody sees. So an import of a name from a module of the
package must find that name defined there (a function, class or assignment at module level), or listed in that
module's `__all__` (a deliberate public API: e.g. `llm/resources.py` offers the record helpers with the resource).
A package's `__init__` is an API by intent and is not checked. Covers the package, its tests and `scripts/`.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import declaration_assets

PACKAGE = Path(declaration_assets.__file__).parent
ROOT = PACKAGE.parent
SOURCES = [PACKAGE, ROOT / "declaration_assets_tests", ROOT / "scripts"]


def module_parts(path: Path) -> list[str]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imported_module(path: Path, node: ast.ImportFrom) -> str | None:
    if node.level == 0:
        return node.module
    package = module_parts(path) if path.name == "__init__.py" else module_parts(path)[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def module_file(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


@lru_cache(maxsize=None)
def own_names(path: Path) -> frozenset[str]:
    """Names `path` defines at module level, plus those its `__all__` declares public."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
                names.update(ast.literal_eval(node.value))
        elif isinstance(node, (ast.If, ast.Try)):  # definitions made under a condition still count
            names.update(n.name for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.ClassDef)))
            names.update(t.id for n in ast.walk(node) if isinstance(n, ast.Assign)
                         for t in n.targets if isinstance(t, ast.Name))
    return frozenset(names)


def second_hand(path: Path, source: str) -> list[str]:
    """`path`'s imports of a name from a module of the package that neither defines it nor declares it public."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = imported_module(path, node)
        if not module or not module.startswith("declaration_assets"):
            continue
        target = module_file(module)
        if target is None:  # a package: its __init__ is a deliberate API
            continue
        for alias in node.names:
            if alias.name == "*" or alias.name in own_names(target):
                continue
            if module_file(f"{module}.{alias.name}") is not None:  # `from package.module import submodule`
                continue
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} from {module}")
    return found


def test_every_name_comes_from_the_module_that_defines_it():
    found = [f for source in SOURCES for path in sorted(source.rglob("*.py"))
             for f in second_hand(path, path.read_text(encoding="utf-8"))]
    assert found == []


def test_a_name_taken_from_a_module_that_only_imports_it_is_found():
    # checks/facts.py imports `fold` from text.py and uses it; rules.py imports it from text.py, relatively.
    path = PACKAGE / "checks" / "probe.py"
    source = (
        "from declaration_assets.checks.facts import fold, build_case_facts\n"
        "from ..text import fold\n"
        "from .facts import WORD_RE\n"
        "from declaration_assets.llm.providers import adapter_for\n"  # a package's __init__ is its API
        "from declaration_assets.evaluation import benchmark\n"
    )
    assert second_hand(path, source) == [
        "declaration_assets/checks/probe.py:1: fold from declaration_assets.checks.facts",
        "declaration_assets/checks/probe.py:3: WORD_RE from declaration_assets.checks.facts",
    ]
