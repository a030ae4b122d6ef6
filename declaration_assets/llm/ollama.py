"""Ollama server care: which models are loaded (`/api/ps`), unloading one (`keep_alive: 0`), and verifying it left.

On a memory-bound server two models do not fit at once, and asking for a second while the first is resident is
how out-of-memory errors "come and go at the same settings". Before a different model is used there, the
resident ones are unloaded and `/api/ps` is polled (bounded) until they are gone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

PS_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class LoadedModel:
    name: str
    size_vram: int | None
    size: int | None


def server_root(api_base: str | None) -> str:
    return (api_base or "http://localhost:11434").rstrip("/")


def model_name(litellm_model: str) -> str:
    return litellm_model.split("/", 1)[1] if "/" in litellm_model else litellm_model


def loaded_models(api_base: str | None, timeout_s: float = PS_TIMEOUT_S) -> list[LoadedModel]:
    r = httpx.get(f"{server_root(api_base)}/api/ps", timeout=timeout_s)
    r.raise_for_status()
    out = []
    for m in r.json().get("models") or []:
        name = m.get("name") or m.get("model")
        if name:
            out.append(LoadedModel(name=name, size_vram=m.get("size_vram"), size=m.get("size")))
    return out


def _same(a: str, b: str) -> bool:
    """Ollama reports `qwen3:8b` for a request of `qwen3:8b`, and `llama3:latest` for `llama3`."""
    norm = lambda s: s if ":" in s else f"{s}:latest"  # noqa: E731
    return norm(a) == norm(b)


def memory_of(api_base: str | None, model: str, timeout_s: float = PS_TIMEOUT_S) -> int | None:
    """`size_vram` the server reports for `model` (bytes), or None when it is not listed or the server is silent."""
    try:
        for m in loaded_models(api_base, timeout_s):
            if _same(m.name, model):
                return m.size_vram if m.size_vram is not None else m.size
    except (httpx.HTTPError, ValueError):
        return None
    return None


def unload(api_base: str | None, model: str, timeout_s: float = PS_TIMEOUT_S) -> None:
    r = httpx.post(
        f"{server_root(api_base)}/api/generate", json={"model": model, "keep_alive": 0}, timeout=timeout_s
    )
    r.raise_for_status()


def make_room_for(api_base: str | None, model: str, wait_s: float, poll_s: float = 0.2) -> list[str]:
    """Unload every resident model other than `model` and wait (at most `wait_s`) until `/api/ps` stops listing them.

    Returns the names unloaded. Raises TimeoutError naming the models still resident when the wait runs out.
    """
    deadline = time.monotonic() + wait_s
    others = [m.name for m in loaded_models(api_base) if not _same(m.name, model)]
    for name in others:
        unload(api_base, name, timeout_s=max(0.1, min(PS_TIMEOUT_S, deadline - time.monotonic())))
    while others:
        resident = {m.name for m in loaded_models(api_base)}
        still = [n for n in others if n in resident]
        if not still:
            break
        if time.monotonic() >= deadline:
            raise TimeoutError(f"Ollama at {server_root(api_base)} still lists {', '.join(still)} {wait_s:.0f} s after unloading")
        time.sleep(poll_s)
    return others
