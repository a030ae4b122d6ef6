"""Public Dagster APIs only, so that a Dagster patch release needs no code change.

The one documented exception (docs/ARCHITECTURE.md, "Dagster APIs"): `privacy/purge.py` deletes a purged case's
rows from the event log and removes it from the intake sensors' cursors, for which Dagster has no public API.
"""

from __future__ import annotations

import ast
from pathlib import Path

import declaration_assets

PACKAGE = Path(declaration_assets.__file__).parent
ALLOWED = {"privacy/purge.py"}


def private_dagster_imports(root: Path) -> dict[str, set[str]]:
    """Modules of `root` importing anything below a private name of a dagster package (`dagster._core`, ...)."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                parts = name.split(".")
                if parts[0].startswith("dagster") and any(p.startswith("_") for p in parts[1:]):
                    found.setdefault(path.relative_to(root).as_posix(), set()).add(name)
    return found


def test_only_purge_uses_private_dagster_modules():
    found = private_dagster_imports(PACKAGE)
    outside = {k: v for k, v in found.items() if k not in ALLOWED}
    assert not outside, f"private Dagster imports outside the documented exception: {outside}"


def test_the_walker_sees_a_private_import(tmp_path):
    (tmp_path / "m.py").write_text("import dagster as dg\nfrom dagster._core.errors import DagsterError\n")
    (tmp_path / "n.py").write_text("import dagster_aws.s3\n")
    assert private_dagster_imports(tmp_path) == {"m.py": {"dagster._core.errors"}}
