"""Load requirements files. A case type is a YAML file in the requirements folder: adding one adds a case type."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from .. import settings
from .models import CaseRequirements

PACKAGED_DIR = Path(__file__).parent
REQUIREMENTS_DIR_ENV = "DECLARATION_REQUIREMENTS_DIR"


class RequirementsError(ValueError):
    """A requirements file is missing or invalid; the message names the file and the field."""


def requirements_dir() -> Path:
    """The folder of requirements files: `DECLARATION_REQUIREMENTS_DIR` or the packaged one."""
    return settings.current().requirements_dir


def available_case_types(directory: Path | None = None) -> list[str]:
    directory = directory or requirements_dir()
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load_requirements_file(path: Path) -> CaseRequirements:
    if not path.is_file():
        raise RequirementsError(f"{path}: missing")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise RequirementsError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise RequirementsError(f"{path}: expected a mapping at the top level")
    try:
        req = CaseRequirements.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
        raise RequirementsError(f"{path}: {problems}") from e
    if req.case_type != path.stem:
        raise RequirementsError(f"{path}: case_type {req.case_type!r} must match the file name {path.stem!r}")
    return req


@lru_cache(maxsize=32)
def _load_cached(path: Path, mtime_ns: int) -> CaseRequirements:
    return load_requirements_file(path)


def load_requirements(case_type: str, directory: Path | None = None) -> CaseRequirements:
    """Requirements of `case_type` (`vawa`, `t_visa`, or any other file's stem)."""
    directory = directory or requirements_dir()
    path = directory / f"{case_type}.yaml"
    if not path.is_file():
        known = ", ".join(available_case_types(directory)) or "none"
        raise RequirementsError(f"no requirements file for case type {case_type!r} in {directory} (known: {known})")
    return _load_cached(path.resolve(), path.stat().st_mtime_ns)
