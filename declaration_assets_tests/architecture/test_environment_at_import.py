"""Nothing reads the environment at import, except the settings builder, once, for the partitions' model dimension.

Every module of the package is imported in a fresh interpreter whose `os.environ` records each read
(`env_probe.py`). The one allowed build of the settings is the documented exception: the model dimension of the
partitions, read when the code location loads (docs/ARCHITECTURE.md, "Configuration"). The only other touches are
`setdefault` writes of variables that third-party libraries read at their own import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("env_probe.py")
BUILDER = "settings.py:from_env"
THIRD_PARTY_SETDEFAULTS = {
    ("llm/_litellm.py:<module>", "LITELLM_LOCAL_MODEL_COST_MAP"),  # litellm reads it at its own import: offline
}


def probe(package_root: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(package_root), "DECLARATION_MAX_PDF_MB": "200"}
    done = subprocess.run([sys.executable, str(PROBE)], env=env, cwd=package_root, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def violations(result: dict) -> list[str]:
    """What the import-time rule forbids in a probe result (empty when the rule holds)."""
    problems = [f"import failed: {m}: {e}" for m, e in result["failed"].items()]
    builds = result["builds"]
    if len(builds) > 1:
        problems.append(f"the settings were built {len(builds)} times at import: {builds}")
    for stack in builds:
        if "partitions.py:<module>" not in stack:
            problems.append(f"the settings were built at import outside the partitions' model dimension: {stack}")
    for r in result["reads"]:
        key, reader = r["key"], r["reader"]
        if reader == BUILDER:
            continue
        if r["how"] == "setdefault" and (reader, key) in THIRD_PARTY_SETDEFAULTS:
            continue
        problems.append(f"{reader} reads {key} ({r['how']}) at import; stack: {' > '.join(r['stack'])}")
    return problems


@pytest.mark.timeout(900)
def test_nothing_reads_the_environment_at_import() -> None:
    result = probe(ROOT)
    assert violations(result) == []
    # The probe sees reads (the builder's, of a variable set for it), so it would have seen anybody else's; and the
    # variable was read once: the settings were built once.
    assert [r["reader"] for r in result["reads"] if r["key"] == "DECLARATION_MAX_PDF_MB"] == [BUILDER]


def test_the_rule_catches_a_module_level_read() -> None:
    """The checker itself: a result like the one of a module that reads a limit at import is refused."""
    earlier = {"failed": {}, "builds": [],
               "reads": [{"key": "DECLARATION_MAX_PDF_MB", "how": "get", "reader": "cases/storage.py:<module>",
                          "stack": ["cases/storage.py:<module>"]}]}
    assert violations(earlier) == ["cases/storage.py:<module> reads DECLARATION_MAX_PDF_MB (get) at import; "
                                   "stack: cases/storage.py:<module>"]
    twice = {"failed": {}, "reads": [], "builds": [["partitions.py:<module>"], ["orchestration/sensors.py:<module>"]]}
    assert len(violations(twice)) == 2
