"""Run as a script: replace `os.environ` with a recording mapping, import every module of the package, and print
(as JSON) every read of the environment that package code made while importing, with where it happened.

A read is attributed to the innermost frame outside this file, `os.py` and `collections/abc.py`. Iterating the
environment (`dict(os.environ)`, `os.environ.copy()`) counts as reading every variable (`*`). The settings
builder's calls are counted through a wrapper around `settings.from_env`, when the package has one.
"""

from __future__ import annotations

import collections.abc
import importlib
import json
import os
import pkgutil
import sys
import traceback

HERE = os.path.abspath(__file__)
SKIP = (HERE, os.path.abspath(os.__file__), os.path.abspath(collections.abc.__file__),
        os.path.abspath(getattr(collections.abc, "_collections_abc", collections.abc).__file__))
PACKAGE = os.sep + "declaration_assets" + os.sep
reads: list[dict[str, object]] = []


def _where() -> tuple[str, list[str]]:
    stack = [f for f in traceback.extract_stack()[:-2] if os.path.abspath(f.filename) not in SKIP]
    reader = stack[-1] if stack else None
    ours = [f"{f.filename.split(PACKAGE, 1)[1]}:{f.name}" for f in stack if PACKAGE in f.filename]
    return (f"{reader.filename}:{reader.name}" if reader else "?"), ours


class RecordingEnviron(collections.abc.MutableMapping):
    def __init__(self, real: os._Environ[str]) -> None:
        self._real = real

    def _note(self, key: str, how: str) -> None:
        reader, ours = _where()
        if PACKAGE in reader:
            reads.append({"key": key, "how": how, "reader": reader.split(PACKAGE, 1)[1], "stack": ours})

    def __getitem__(self, key: str) -> str:
        self._note(key, "get")
        return self._real[key]

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self._note(key, "get")
        return self._real.get(key, default)

    def __contains__(self, key: object) -> bool:
        self._note(str(key), "get")
        return key in self._real

    def setdefault(self, key: str, default: str = "") -> str:  # type: ignore[override]
        self._note(key, "setdefault")
        return self._real.setdefault(key, default)

    def __setitem__(self, key: str, value: str) -> None:
        self._note(key, "set")
        self._real[key] = value

    def __delitem__(self, key: str) -> None:
        del self._real[key]

    def __iter__(self):  # noqa: ANN204
        self._note("*", "iterate")
        return iter(self._real)

    def __len__(self) -> int:
        return len(self._real)

    def copy(self) -> dict[str, str]:
        self._note("*", "iterate")
        return dict(self._real)


def main() -> None:
    os.environ = RecordingEnviron(os.environ)  # type: ignore[assignment]
    import declaration_assets
    from declaration_assets import settings

    builds: list[list[str]] = []
    if hasattr(settings, "from_env"):
        real_from_env = settings.from_env

        def recorded_from_env(env):  # noqa: ANN001, ANN202
            builds.append(_where()[1])
            return real_from_env(env)

        settings.from_env = recorded_from_env  # type: ignore[assignment]

    failed = {}
    for info in pkgutil.walk_packages(declaration_assets.__path__, "declaration_assets."):
        try:
            importlib.import_module(info.name)
        except Exception as e:  # reported: a module that cannot be imported is a failure of its own
            failed[info.name] = f"{type(e).__name__}: {e}"
    print(json.dumps({"reads": reads, "builds": builds, "failed": failed}))


if __name__ == "__main__":
    sys.exit(main())
