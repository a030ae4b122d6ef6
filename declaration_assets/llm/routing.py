"""The routing file: schema, `${VAR:-default}` interpolation and validation.

A routing file has three required top-level keys (`default`, `deployments`, `model_configs`) and an optional
`limits`. Deployments name a provider model (a LiteLLM model string) and everything needed to call it safely;
model configurations give each role (drafter, judge_1..judge_N, guard) its chain of deployments, first choice first.
Errors name the file, the key path and what is wrong.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .litellm_config import (check_params, env_ref_name, expand_model_list, is_env_ref, known_price,
                             normalize_deployment)
from .. import settings
from .routing_file import routes_path

MIN_JUDGES = 3
ROLE_DRAFTER = "drafter"
ROLE_GUARD = "guard"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

PrivacyClass = Literal["local", "private_cloud", "external"]
Tokenizer = Literal["llamacpp", "vllm", "estimate"]


class RoutingFileError(ValueError):
    """The routing file cannot be used; the message names the file, the key path and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The floor on the first-token and stall deadlines. A deadline derived from a fast server's timings (3x a 17 ms
# p99 gap between tokens is 0.05 s) is within the scheduling noise of a loaded machine and trips on healthy
# servers: the hung-call benchmark saw a healthy fallback cut that way. A routing file asking for less is refused
# at load, naming the deployment, rather than quietly given a longer deadline than it says.
MIN_WAIT_DEADLINE_S = 1.0


class Deadlines(_Strict):
    """Seconds. `first_token_s` runs from sending the request; `stall_s` between two streamed chunks. Both at
    least `MIN_WAIT_DEADLINE_S`; `total_s` at least as long as either."""

    total_s: float = Field(default=300.0, gt=0)
    first_token_s: float = Field(default=120.0, gt=0)
    stall_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "Deadlines":
        for name in ("first_token_s", "stall_s"):
            value = getattr(self, name)
            if value < MIN_WAIT_DEADLINE_S:
                raise ValueError(
                    f"{name} ({value:g}) is below the floor of {MIN_WAIT_DEADLINE_S:g} s: shorter first-token and "
                    "stall deadlines trip on healthy servers under scheduling noise (docs/ROUTING.md, Deadlines)")
        if self.first_token_s > self.total_s:
            raise ValueError(f"first_token_s ({self.first_token_s}) must not exceed total_s ({self.total_s})")
        if self.stall_s > self.total_s:
            raise ValueError(f"stall_s ({self.stall_s}) must not exceed total_s ({self.total_s})")
        return self


class Retry(_Strict):
    """Retries for transient errors only (429, 5xx, dropped connections), with exponential backoff and jitter."""

    attempts: int = Field(default=2, ge=0, le=10, description="retries after the first try")
    backoff_s: float = Field(default=0.5, ge=0)
    max_backoff_s: float = Field(default=8.0, ge=0)


class Cooldown(_Strict):
    """A deployment that fails `after_failures` calls in a row is skipped for `seconds`."""

    after_failures: int = Field(default=3, ge=1)
    seconds: float = Field(default=60.0, ge=0)


class Cost(_Strict):
    input_per_1k: float = Field(default=0.0, ge=0)
    output_per_1k: float = Field(default=0.0, ge=0)


class OllamaSettings(_Strict):
    """Ollama-only behaviour. `options` go into the request's `options` (num_ctx is computed per call)."""

    options: dict[str, Any] = Field(default_factory=dict)
    keep_alive: str | int | None = None
    memory_bound: bool = Field(
        default=False,
        description="one model fits at a time: unload the previous model (keep_alive 0) and verify via /api/ps",
    )
    unload_wait_s: float = Field(default=30.0, gt=0)
    num_ctx_multiple: int = Field(default=1024, ge=1)
    min_num_ctx: int = Field(default=2048, ge=1)

    @field_validator("options")
    @classmethod
    def _no_num_ctx(cls, v: dict[str, Any]) -> dict[str, Any]:
        if "num_ctx" in v:
            raise ValueError("num_ctx is sized per call from the prompt; set the deployment's context_window instead")
        return v


class Deployment(_Strict):
    """One provider model at one endpoint."""

    name: str = ""
    model: str = Field(description="LiteLLM model string, e.g. openai/x, ollama_chat/x, hosted_vllm/x, bedrock/converse/x, openrouter/x")
    api_base: str | None = None
    api_key_env: str | None = Field(default=None, description="name of the environment variable holding the key")
    context_window: int = Field(gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    privacy: PrivacyClass
    require_redaction: bool = Field(default=False, description="private_cloud: redact as for external")
    redaction: bool = Field(
        default=True,
        description="false on a deployment that must redact (external, or private_cloud with require_redaction) "
                    "makes the privacy gate refuse it before a byte is sent; it never sends case data in clear",
    )
    tokenizer: Tokenizer = "estimate"
    estimate_margin: float = Field(default=0.15, ge=0, le=1, description="safety margin on estimated token counts")
    max_concurrency: int = Field(default=1, ge=1, description="concurrent calls to this deployment's server, kept across every process on the host")
    deadlines: Deadlines = Field(default_factory=Deadlines)
    retry: Retry = Field(default_factory=Retry)
    cooldown: Cooldown = Field(default_factory=Cooldown)
    cost: Cost | None = None
    free: bool = Field(default=False, description="says explicitly that a non-local deployment costs nothing")
    disable_thinking: bool = True
    extra_body: dict[str, Any] = Field(default_factory=dict, description="extra request fields for the server")
    litellm_params: dict[str, Any] = Field(default_factory=dict, description="provider parameters, e.g. aws_region_name")
    ollama: OllamaSettings | None = None

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0]

    @property
    def is_ollama(self) -> bool:
        return self.provider in ("ollama", "ollama_chat")

    @property
    def is_paid(self) -> bool:
        return self.cost is not None and (self.cost.input_per_1k > 0 or self.cost.output_per_1k > 0)

    @property
    def server_key(self) -> str:
        """What the concurrency pool is keyed by: the server, not the model."""
        return self.api_base or f"{self.provider}:default"

    @field_validator("model")
    @classmethod
    def _has_provider(cls, v: str) -> str:
        if "/" not in v:
            raise ValueError(f"model {v!r} needs a LiteLLM provider prefix (openai/, ollama_chat/, hosted_vllm/, bedrock/converse/, openrouter/)")
        return v

    @model_validator(mode="before")
    @classmethod
    def _litellm_keys(cls, data: Any) -> Any:
        """LiteLLM's key names (litellm_params.max_tokens, input_cost_per_token, num_retries, ...) read as this
        file's (`litellm_config.py`); then a non-local deployment without a price takes LiteLLM's bundled price
        map, or is refused: a paid route registered at $0 would escape the spend cap."""
        if not isinstance(data, dict):
            return data
        data = normalize_deployment(data)
        if data.get("cost") is None and not data.get("free") and data.get("privacy") in ("private_cloud", "external"):
            model = data.get("model")
            price = known_price(model) if isinstance(model, str) else None
            if price is None:
                raise ValueError(
                    f"no price for {model!r}: LiteLLM's price map does not know it, and a deployment whose data "
                    f"goes {data['privacy']} may be paid. Set cost: {{input_per_1k: ..., output_per_1k: ...}} (or "
                    "input_cost_per_token/output_cost_per_token), or free: true if it costs nothing")
            data["cost"] = {"input_per_1k": price[0] * 1000, "output_per_1k": price[1] * 1000}
        return data

    @field_validator("api_base")
    @classmethod
    def _has_scheme(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://", v.strip(), re.IGNORECASE):
            raise ValueError(
                f"api_base {v!r} has no scheme: write http://host:port or https://... (OLLAMA_HOST is Ollama's own "
                "bind address, often 0.0.0.0:11434; point api_base at OLLAMA_API_BASE, as LiteLLM does)")
        return v

    @field_validator("litellm_params")
    @classmethod
    def _no_secrets(cls, v: dict[str, Any]) -> dict[str, Any]:
        problems = check_params(v)
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "Deployment":
        if self.free and self.cost is not None and (self.cost.input_per_1k > 0 or self.cost.output_per_1k > 0):
            raise ValueError("free: true and a non-zero cost contradict each other")
        if self.model.startswith("openrouter/") and self.privacy != "external":
            raise ValueError("openrouter deployments send data outside: privacy must be 'external'")
        if self.ollama is not None and not self.is_ollama:
            raise ValueError("'ollama' settings are only for ollama/ or ollama_chat/ models")
        if self.max_output_tokens is not None and self.max_output_tokens >= self.context_window:
            raise ValueError("max_output_tokens must be smaller than context_window")
        return self

    def describe(self) -> dict[str, Any]:
        return {"deployment": self.name, "model": self.model, "api_base": self.api_base, "privacy": self.privacy}


class ModelConfig(_Strict):
    """Each role's chain of deployments (first choice first), and how its drafter drafts."""

    # Only a name here: the drafting stage knows its profiles and refuses an unknown one (`drafting/profiles.py`).
    drafting_profile: str = Field(default="small", description="drafting profile (drafting/profiles.py): small | capable")
    drafter: list[str] = Field(min_length=1)
    judges: list[list[str]] = Field(description="one chain per judge: judge_1, judge_2, ...")
    guard: list[str] = Field(min_length=1)

    @field_validator("judges")
    @classmethod
    def _enough_judges(cls, v: list[list[str]]) -> list[list[str]]:
        if len(v) < MIN_JUDGES:
            raise ValueError(f"needs at least {MIN_JUDGES} judges, found {len(v)}")
        for i, chain in enumerate(v, start=1):
            if not chain:
                raise ValueError(f"judge_{i} has an empty chain")
        return v

    def roles(self) -> dict[str, list[str]]:
        out = {ROLE_DRAFTER: list(self.drafter)}
        out.update({f"judge_{i}": list(c) for i, c in enumerate(self.judges, start=1)})
        out[ROLE_GUARD] = list(self.guard)
        return out


class Limits(_Strict):
    spend_cap_usd_per_run: float | None = Field(default=None, ge=0, description="paid deployments only")


class RoutingFile(_Strict):
    default: str
    deployments: dict[str, Deployment] = Field(min_length=1)
    model_configs: dict[str, ModelConfig] = Field(min_length=1)
    limits: Limits = Field(default_factory=Limits)

    @model_validator(mode="after")
    def _references(self) -> "RoutingFile":
        if self.default not in self.model_configs:
            raise ValueError(f"default: {self.default!r} is not a model configuration (have: {', '.join(self.model_configs)})")
        for cfg_name, cfg in self.model_configs.items():
            for role, chain in cfg.roles().items():
                for dep in chain:
                    if dep not in self.deployments:
                        raise ValueError(
                            f"model_configs.{cfg_name}.{_role_path(role)}: unknown deployment {dep!r} "
                            f"(deployments: {', '.join(self.deployments)})"
                        )
        return self

    def chain(self, model_config: str, role: str) -> list[Deployment]:
        cfg = self.model_configs.get(model_config)
        if cfg is None:
            raise KeyError(f"unknown model configuration {model_config!r} (have: {', '.join(self.model_configs)})")
        roles = cfg.roles()
        if role not in roles:
            raise KeyError(f"model configuration {model_config!r} has no role {role!r} (roles: {', '.join(roles)})")
        return [self.deployments[d] for d in roles[role]]


def _role_path(role: str) -> str:
    if role.startswith("judge_"):
        return f"judges[{int(role.split('_')[1]) - 1}]"
    return role


def interpolate(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """Replace `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree, from `env` (default: the
    environment the settings were built from)."""
    env = settings.current().environ if env is None else env

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if env.get(name):
            return env[name]
        if default is not None:
            return default
        raise KeyError(name)

    if isinstance(value, str):
        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    return value


def _format_errors(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if p not in ("function-after",)) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key" + (" (credentials go through api_key_env, the name of an environment variable)" if loc.endswith("api_key") else "")
        lines.append(f"  {loc}: {msg}")
    return f"{path}: invalid routing file\n" + "\n".join(lines)


def _address_refs(value: Any) -> Any:
    """`api_base: os.environ/VAR` (LiteLLM's spelling) read like `${VAR}`: an address is not a secret, so it is
    resolved when the file is loaded and checked like any other api_base."""
    if isinstance(value, dict):
        return {k: (f"${{{env_ref_name(v)}}}" if k == "api_base" and is_env_ref(v) else _address_refs(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_address_refs(v) for v in value]
    return value


def parse_routes(raw: Any, path: Path, env: Mapping[str, str] | None = None) -> RoutingFile:
    if not isinstance(raw, dict):
        raise RoutingFileError(f"{path}: the routing file must be a mapping with keys default, deployments, model_configs")
    # LiteLLM's model_list (pasted or pointed at) first, so that its entries are interpolated like the rest.
    try:
        data, problems = expand_model_list(raw, path)
    except ValueError as e:
        raise RoutingFileError(f"{path}: invalid routing file\n  {e}") from None
    if problems:
        raise RoutingFileError(f"{path}: invalid routing file\n" + "\n".join(f"  {p}" for p in problems))
    try:
        data = interpolate(_address_refs(data), env)
    except KeyError as e:
        raise RoutingFileError(f"{path}: environment variable {e.args[0]} is not set and has no ${{VAR:-default}}") from None
    deps = data.get("deployments")
    if isinstance(deps, dict):
        data["deployments"] = {k: ({**v, "name": k} if isinstance(v, dict) else v) for k, v in deps.items()}
    try:
        return RoutingFile.model_validate(data)
    except ValidationError as e:
        raise RoutingFileError(_format_errors(path, e)) from None


_LOADED: dict[tuple[Any, ...], RoutingFile] = {}
_LOADED_MAX = 32
_LOAD_LOCK = threading.Lock()
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)|os\.environ/([A-Za-z_][A-Za-z0-9_]*)")


def load_routes(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> RoutingFile:
    """Read, interpolate and validate a routing file (default: `routing_file.routes_path()`), once per content.

    The partitions (at code-location load), the sensors (each tick) and the LLM resource (at setup) all come
    here: the validated file is cached by path, the sha256 of its bytes and the values of the variables it refers
    to, so an edited file is read again and every caller sees the same `RoutingFile` for the same file.
    `env` defaults to the environment the settings were built from."""
    path = Path(path) if path else routes_path()
    env = settings.current().environ if env is None else env
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
        raw = yaml.safe_load(text)
    except FileNotFoundError:
        raise RoutingFileError(f"{path}: routing file not found") from None
    except UnicodeDecodeError as e:
        raise RoutingFileError(f"{path}: not UTF-8 text: {e}") from None
    except yaml.YAMLError as e:
        raise RoutingFileError(f"{path}: not valid YAML: {e}") from None
    parts = [data]
    pointer = raw.get("litellm_config") if isinstance(raw, dict) else None
    if pointer is not None:  # a LiteLLM proxy config pointed at: its model list is part of the routes
        target = Path(str(pointer)) if Path(str(pointer)).is_absolute() else path.parent / str(pointer)
        try:
            parts.append(target.read_bytes())
        except OSError:
            pass  # parse_routes reports it
    digest = hashlib.sha256(b"\0".join(parts)).hexdigest()
    names = sorted({a or b for part in parts for a, b in _ENV_REF.findall(part.decode("utf-8", errors="replace"))})
    key = (str(path.resolve()), digest, tuple((n, env.get(n)) for n in names))
    with _LOAD_LOCK:
        cached = _LOADED.get(key)
    if cached is not None:
        return cached
    routes = parse_routes(raw, path, env)
    with _LOAD_LOCK:
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = routes
    return routes


def routes_hash(path: Path | str | None = None) -> str:
    """sha256 of the routing file's bytes (provenance of outputs)."""
    path = Path(path) if path else routes_path()
    return hashlib.sha256(path.read_bytes()).hexdigest()
