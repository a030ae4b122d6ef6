"""LiteLLM's own configuration keys, read into the routing file's terms.

A team that already runs a LiteLLM proxy has a `config.yaml` whose `model_list` describes its models. The routing
file accepts that list as it is (pasted in, or pointed at with `litellm_config: <path>`), plus this project's
additions as extra keys. The mapping (docs/ROUTING.md, "LiteLLM's keys"):

| LiteLLM | routing file |
| --- | --- |
| `model_list[].model_name` | a chain: entries sharing it are tried in file order |
| `litellm_params.model`, `api_base` | `model`, `api_base` |
| `litellm_params.api_key: os.environ/VAR` | `api_key_env: VAR` (resolved by the project at call time) |
| other secrets as `os.environ/VAR` (`aws_secret_access_key`, ...) | kept in `litellm_params`, resolved at call time |
| `litellm_params.max_tokens`, `model_info.max_output_tokens` | `max_output_tokens` (a cap; each call sets its own) |
| `model_info.max_input_tokens` (or `litellm_params.max_input_tokens`) | `context_window` |
| `input_cost_per_token`, `output_cost_per_token` | `cost` (USD per token; stored per 1k) |
| `num_retries` | `retry.attempts` (transient errors only) |
| `timeout` | `deadlines.total_s` |
| `stream_timeout` | `deadlines.first_token_s` and `deadlines.stall_s` |
| `max_parallel_requests` | `max_concurrency` |
| `router_settings.allowed_fails`, `cooldown_time` | `cooldown.after_failures` (allowed_fails + 1), `cooldown.seconds` |
| `router_settings.num_retries`, `litellm_settings.num_retries` | default `retry.attempts` |

Refused with a message: proxy-only settings (`general_settings`, `environment_variables`, callbacks) and the
Router's load balancing (`rpm`, `tpm`, `routing_strategy`): this project does not apply them, and a setting that
silently does nothing is worse than a refusal. A secret written in clear is refused by what it is (an API key, a
secret key, a password, a bearer or session token), never because a key merely contains "token" (`max_tokens`,
`input_cost_per_token` are ordinary).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "os.environ/"

# Parameter names that hold credentials. Matched on the whole name (or its last part after a `_`-joined prefix
# such as `aws_`, `azure_`, `vertex_`), so `max_tokens` and `input_cost_per_token` are not mistaken for secrets.
_SECRET_NAME = re.compile(
    r"^(?:[a-z0-9]+_)*(?:api_key|apikey|secret|secret_key|secret_access_key|access_key_id|password|passwd|"
    r"session_token|access_token|bearer_token|auth_token|refresh_token|ad_token|id_token|credentials?|"
    r"private_key|token)$"
)

# Deployment keys of this project that may stand beside `model_name` (or inside `model_info`) in a `model_list`
# entry. Everything else at that level is LiteLLM's.
PROJECT_KEYS = frozenset({
    "name", "privacy", "require_redaction", "redaction", "tokenizer", "estimate_margin", "max_concurrency",
    "deadlines", "retry", "cooldown", "cost", "free", "disable_thinking", "extra_body", "ollama", "context_window",
    "max_output_tokens", "api_key_env",
})

_REFUSED_TOP = {
    "general_settings": "general_settings configures the LiteLLM proxy server (auth, database, alerting); this "
                        "project calls providers directly and does not apply it: remove it",
    "environment_variables": "environment_variables would put values (often secrets) in the file: set them in the "
                             "environment and refer to them as os.environ/VAR",
}
_CALLBACK_KEYS = ("callbacks", "success_callback", "failure_callback", "service_callback", "input_callback",
                  "callback_settings")
_ROUTER_KEYS = {"num_retries", "allowed_fails", "cooldown_time"}
_REFUSED_PARAMS = {
    "rpm": "rpm is the LiteLLM Router's load-balancing limit, not applied here: use max_concurrency",
    "tpm": "tpm is the LiteLLM Router's load-balancing limit, not applied here: use max_concurrency",
}


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.match(name.lower()))


def is_env_ref(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(ENV_PREFIX) and len(value) > len(ENV_PREFIX)


def env_ref_name(value: str) -> str:
    return value[len(ENV_PREFIX):]


def resolve_env_refs(params: dict[str, Any], who: str) -> dict[str, Any]:
    """`os.environ/VAR` values read from the environment at call time (LiteLLM's `completion()` does not do it;
    only its proxy does). A variable that is not set is a clear error naming the deployment and the variable."""
    out = {}
    for k, v in params.items():
        if is_env_ref(v):
            var = env_ref_name(v)
            value = os.environ.get(var)
            if not value:
                raise KeyError(f"environment variable {var} ({k} of {who}) is not set")
            out[k] = value
        else:
            out[k] = v
    return out


def known_price(model: str) -> tuple[float, float] | None:
    """(input, output) USD per token from LiteLLM's bundled price map (read offline), or None when unknown."""
    from ._litellm import litellm

    try:
        info = litellm.get_model_info(model)
    except Exception:  # noqa: BLE001 - litellm raises a bare Exception for a model it does not know
        return None
    inp, out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if inp is None or out is None:
        return None
    return float(inp), float(out)


def normalize_deployment(data: dict[str, Any]) -> dict[str, Any]:
    """A deployment mapping with LiteLLM's key names turned into the routing file's (see the module table).
    Keys given both ways must agree; otherwise the routing file's own key wins only when LiteLLM's is absent."""
    d = dict(data)
    params = dict(d.get("litellm_params") or {}) if isinstance(d.get("litellm_params"), dict) else d.get("litellm_params")
    if not isinstance(params, dict):
        return d
    for key in ("model", "api_base"):
        if key in params:
            _move(d, key, params.pop(key))
    if "api_key" in params and is_env_ref(params["api_key"]):
        _move(d, "api_key_env", env_ref_name(params.pop("api_key")))
    if "max_tokens" in params:
        _move(d, "max_output_tokens", params.pop("max_tokens"))
    if "max_input_tokens" in params:
        _move(d, "context_window", params.pop("max_input_tokens"))
    if "input_cost_per_token" in params or "output_cost_per_token" in params:
        cost = {"input_per_1k": float(params.pop("input_cost_per_token", 0.0)) * 1000,
                "output_per_1k": float(params.pop("output_cost_per_token", 0.0)) * 1000}
        _move(d, "cost", cost)
    if "num_retries" in params:
        retry = dict(d.get("retry") or {})
        retry.setdefault("attempts", params.pop("num_retries"))
        d["retry"] = retry
    if "max_parallel_requests" in params:
        _move(d, "max_concurrency", params.pop("max_parallel_requests"))
    if "timeout" in params or "stream_timeout" in params:
        deadlines = dict(d.get("deadlines") or {})
        if "timeout" in params:
            deadlines.setdefault("total_s", float(params.pop("timeout")))
        if "stream_timeout" in params:
            wait = float(params.pop("stream_timeout"))
            deadlines.setdefault("first_token_s", wait)
            deadlines.setdefault("stall_s", wait)
        d["deadlines"] = deadlines
    d["litellm_params"] = params
    return d


def _move(d: dict[str, Any], key: str, value: Any) -> None:
    if key in d and d[key] != value:
        raise ValueError(f"{key} is given twice with different values ({d[key]!r} and {value!r} in litellm_params)")
    d[key] = value


def check_params(params: dict[str, Any]) -> list[str]:
    """Problems with a deployment's remaining litellm_params: secrets in clear, load-balancing keys."""
    problems = []
    secrets = sorted(k for k, v in params.items() if is_secret_name(k) and not is_env_ref(v))
    if secrets:
        problems.append(f"secrets do not belong in the routing file ({', '.join(secrets)}): write os.environ/VAR "
                        "(the name of an environment variable), or use api_key_env")
    problems.extend(msg for k, msg in _REFUSED_PARAMS.items() if k in params)
    return problems


def expand_model_list(data: dict[str, Any], path: Path) -> tuple[dict[str, Any], list[str]]:
    """The routing file with `model_list` (pasted, or read from `litellm_config: <path>`) turned into
    `deployments`, role chains naming a `model_name` expanded to its entries in file order, and the problems found
    (proxy-only settings, entries without a privacy class). Files without LiteLLM keys come back unchanged."""
    data = dict(data)
    problems: list[str] = []
    for key, why in _REFUSED_TOP.items():
        if key in data:
            problems.append(f"{key}: {why}")
            data.pop(key)
    defaults = _settings_defaults(data.pop("litellm_settings", None), data.pop("router_settings", None), problems)
    entries = _model_list(data.pop("model_list", None), data.pop("litellm_config", None), path, defaults, problems)
    if entries is None:
        if defaults:
            problems.append("router_settings/litellm_settings apply to model_list entries; this file has none")
        return data, problems
    if not isinstance(entries, list):
        problems.append("model_list: must be a list of entries with model_name and litellm_params")
        return data, problems
    deployments: dict[str, Any] = dict(data.get("deployments") or {})
    groups: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for e in entries:
        if isinstance(e, dict) and isinstance(e.get("model_name"), str):
            counts[e["model_name"]] = counts.get(e["model_name"], 0) + 1
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        dep = _entry_deployment(i, entry, defaults, problems)
        if dep is None:
            continue
        group = entry["model_name"]
        seen[group] = seen.get(group, 0) + 1
        info = entry.get("model_info") or {}
        name = str(dep.pop("name", None) or info.get("id") or (group if counts[group] == 1 else f"{group}-{seen[group]}"))
        if name in deployments:
            problems.append(f"model_list[{i}] (model_name {group!r}): deployment name {name!r} is used twice (set "
                            "name: to tell them apart)")
            continue
        deployments[name] = dep
        groups.setdefault(group, []).append(name)
    data["deployments"] = deployments
    configs = data.get("model_configs")
    if isinstance(configs, dict):
        data["model_configs"] = {n: _expand_config(c, groups) for n, c in configs.items()}
    return data, problems


def _settings_defaults(settings: Any, router: Any, problems: list[str]) -> dict[str, Any]:
    """Defaults for every model_list entry from `litellm_settings` and `router_settings` (retries, cooldown);
    what this project does not apply is a problem."""
    defaults: dict[str, Any] = {}
    if settings is not None:
        if not isinstance(settings, dict):
            problems.append("litellm_settings: must be a mapping")
        else:
            for k in settings:
                if k in _CALLBACK_KEYS:
                    problems.append(f"litellm_settings.{k}: callbacks are a LiteLLM proxy/SDK logging hook; they "
                                    "would send prompts (case data) to another service, and this project does not "
                                    "run them: remove them")
                elif k == "num_retries":
                    defaults["num_retries"] = settings[k]
                else:
                    problems.append(f"litellm_settings.{k}: not applied by this project (only num_retries is)")
    if router is not None:
        if not isinstance(router, dict):
            problems.append("router_settings: must be a mapping")
        else:
            for k, v in router.items():
                if k in _ROUTER_KEYS:
                    defaults[k] = v
                else:
                    problems.append(f"router_settings.{k}: not applied by this project (chains are tried in file "
                                    f"order; only {', '.join(sorted(_ROUTER_KEYS))} are read)")
    return defaults


def _model_list(entries: Any, pointer: Any, path: Path, defaults: dict[str, Any], problems: list[str]) -> Any:
    """The pasted `model_list`, or the one of the proxy config `litellm_config` points at (whose router
    retry/cooldown settings fill `defaults` where the routing file has none)."""
    if pointer is None:
        return entries
    if entries is not None:
        problems.append("litellm_config and model_list: give one of them")
        return entries
    target = (path.parent / str(pointer)) if not Path(str(pointer)).is_absolute() else Path(str(pointer))
    try:
        proxy = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        problems.append(f"litellm_config: cannot read {target}: {type(e).__name__}")
        proxy = {}
    # Only the model list (and the router's retry/cooldown settings) of a proxy config are read: the rest
    # configures the proxy server, which is not in this call path.
    entries = proxy.get("model_list") if isinstance(proxy, dict) else None
    if entries is None:
        problems.append(f"litellm_config: {target} has no model_list")
    for k, v in ((proxy.get("router_settings") or {}) if isinstance(proxy, dict) else {}).items():
        if k in _ROUTER_KEYS:
            defaults.setdefault(k, v)
    return entries


def _entry_deployment(i: int, entry: Any, defaults: dict[str, Any], problems: list[str]) -> dict[str, Any] | None:
    """The deployment mapping of model_list entry `i` (its `name` key still in it, when given), or None with
    the problem noted."""
    where = f"model_list[{i}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("model_name"), str):
        problems.append(f"{where}: needs model_name and litellm_params")
        return None
    where = f"{where} (model_name {entry['model_name']!r})"
    info = dict(entry.get("model_info") or {})
    dep: dict[str, Any] = {k: v for k, v in info.items() if k in PROJECT_KEYS}
    unknown = sorted(k for k in entry if k not in PROJECT_KEYS | {"model_name", "litellm_params", "model_info"})
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(unknown)}")
    dep.update({k: v for k, v in entry.items() if k in PROJECT_KEYS})
    if "privacy" not in dep:
        problems.append(f"{where}: no privacy class: add privacy: local | private_cloud | external (beside "
                        "model_name or in model_info); an entry cannot be used without knowing where its data goes")
        return None
    params = dict(entry.get("litellm_params") or {})
    if "max_input_tokens" in info:
        params.setdefault("max_input_tokens", info["max_input_tokens"])
    if "max_output_tokens" in info:
        dep.setdefault("max_output_tokens", info["max_output_tokens"])
    for k in ("input_cost_per_token", "output_cost_per_token"):
        if k in info:
            params.setdefault(k, info[k])
    if "num_retries" in defaults:
        params.setdefault("num_retries", defaults["num_retries"])
    if ("allowed_fails" in defaults or "cooldown_time" in defaults) and "cooldown" not in dep:
        cooldown = {}
        if "allowed_fails" in defaults:
            cooldown["after_failures"] = int(defaults["allowed_fails"]) + 1
        if "cooldown_time" in defaults:
            cooldown["seconds"] = defaults["cooldown_time"]
        dep["cooldown"] = cooldown
    dep["litellm_params"] = params
    return dep


def _expand_chain(chain: Any, groups: dict[str, list[str]]) -> Any:
    if isinstance(chain, str):
        chain = [chain]
    if not isinstance(chain, list):
        return chain
    out: list[Any] = []
    for name in chain:
        out.extend(groups.get(name, [name]) if isinstance(name, str) else [name])
    return out


def _expand_config(cfg: Any, groups: dict[str, list[str]]) -> Any:
    if not isinstance(cfg, dict):
        return cfg
    cfg = dict(cfg)
    for role in ("drafter", "guard"):
        if role in cfg:
            cfg[role] = _expand_chain(cfg[role], groups)
    if isinstance(cfg.get("judges"), list):
        cfg["judges"] = [_expand_chain(c, groups) for c in cfg["judges"]]
    return cfg
