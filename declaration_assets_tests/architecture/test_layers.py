"""Imports point down the floors of docs/ARCHITECTURE.md.

Each module of the package sits on a floor; a module may import modules on its own floor or below. The upward
imports that exist today are listed in KNOWN_UPWARD (docs/ARCHITECTURE.md says why each is there and where it
should go): a new upward import fails the test, and so does a listed one that no longer exists, so the list only
shrinks and stays true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import declaration_assets

PACKAGE = Path(declaration_assets.__file__).parent

# Floors, bottom first. A module's floor is that of its longest matching prefix.
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("settings", "text", "requirements")),
    ("case record", ("cases",)),
    ("privacy", ("privacy",)),
    ("llm", ("llm", "embedded")),
    ("asset kit", ("partitions", "orchestration.policies", "orchestration.ui")),
    ("case record asset", ("cases.assets",)),
    ("extraction", ("extraction",)),
    ("retrieval", ("retrieval",)),
    ("drafting", ("drafting",)),
    ("exports", ("exports",)),
    ("judging", ("judging",)),
    ("checks", ("checks",)),
    ("guarding", ("guarding",)),
    ("evaluation", ("evaluation",)),
    ("top", ("orchestration", "privacy.purge", "evaluation.fidelity", "definitions", "demo", "cli", "__init__")),
]

# (importing module, imported module) pairs that point up today. Shrink this list; never grow it.
KNOWN_UPWARD: set[tuple[str, str]] = set()


def floor_of(module: str) -> int:
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best is None:
        raise AssertionError(f"declaration_assets.{module} sits on no floor: add it to FLOORS and docs/ARCHITECTURE.md")
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Modules of the package that `path` imports (relative or absolute), as dotted names below the package."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = [*base, *(node.module.split(".") if node.module else [])]
                if node.module is None:  # `from . import x`: x may be a module
                    found |= {".".join([*target, a.name]) for a in node.names}
                    continue
            elif node.module and node.module.startswith("declaration_assets."):
                target = node.module.split(".")[1:]
            else:
                continue
            found.add(".".join(target))
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".", 1)[1] for a in node.names if a.name.startswith("declaration_assets.")}
    return found


def resolve(name: str) -> str:
    """The longest prefix of `name` that is a module or package of the project (drops imported attributes)."""
    parts = name.split(".")
    while parts:
        candidate = PACKAGE.joinpath(*parts)
        if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
            return ".".join(parts)
        parts.pop()
    return name


def upward_imports() -> set[tuple[str, str]]:
    edges = set()
    for path in PACKAGE.rglob("*.py"):
        source = module_name(path)
        for target in map(resolve, imported_modules(path)):
            if target and target != source and floor_of(target) > floor_of(source):
                edges.add((source, target))
    return edges


def test_every_module_sits_on_a_floor():
    for path in PACKAGE.rglob("*.py"):
        floor_of(module_name(path))


def test_no_new_upward_import():
    new = upward_imports() - KNOWN_UPWARD
    assert not new, "imports that point up a floor (see docs/ARCHITECTURE.md):\n" + "\n".join(
        f"  {a} -> {b}" for a, b in sorted(new)
    )


def test_known_upward_imports_still_exist():
    gone = KNOWN_UPWARD - upward_imports()
    assert not gone, "no longer imported upward; remove from KNOWN_UPWARD and docs/ARCHITECTURE.md: " + ", ".join(
        f"{a} -> {b}" for a, b in sorted(gone)
    )


def test_the_walker_sees_an_upward_import(tmp_path, monkeypatch):
    """The check itself can fail: a module of the case record importing a stage is reported."""
    fake = tmp_path / "declaration_assets"
    (fake / "cases").mkdir(parents=True)
    (fake / "drafting").mkdir()
    for p in (fake / "__init__.py", fake / "cases" / "__init__.py", fake / "drafting" / "__init__.py"):
        p.write_text("")
    (fake / "drafting" / "models.py").write_text("X = 1\n")
    (fake / "cases" / "models.py").write_text("from ..drafting.models import X\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake)
    assert upward_imports() == {("cases.models", "drafting.models")}
