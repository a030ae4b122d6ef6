"""Ollama (`ollama/`, `ollama_chat/` models).

- The request carries Ollama's own fields: `options` (with a `num_ctx` sized per call from the prompt, since
  Ollama's default window would silently cut RAG prompts), `think: false`, `keep_alive`, and `format` for JSON.
- Ollama has no tokenizer endpoint: prompts are estimated. Its final NDJSON object reports how many prompt tokens
  it evaluated; when that plus the answer exceeds the `num_ctx` it was given, the prompt may have been cut, and the
  call is asked again once with a larger window (`prompt_cut`).
- Its final object also carries load, prompt and generation durations (ns), which litellm's parser drops: the
  adapter keeps them for the record, and asks `/api/ps` for the model's memory after the call.
- Server care: which models are loaded (`/api/ps`), unloading one (`keep_alive: 0`), and verifying it left. On a
  memory-bound server two models do not fit at once, and asking for a second while the first is resident is how
  out-of-memory errors "come and go at the same settings". Before a different model is used there, the resident
  ones are unloaded and `/api/ps` is polled (bounded) until they are gone.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from .base import PromptCut, ProviderAdapter, ServerReport

if TYPE_CHECKING:
    import threading

    from ..models import PromptSpec
    from ..routing import Deployment
    from ..transport import StreamResult

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


def ollama_num_ctx(prompt_tokens: int, max_tokens: int, dep: Deployment) -> int:
    """`num_ctx` for Ollama: prompt plus answer, rounded up, at least the configured minimum, capped at the window."""
    settings = dep.ollama
    multiple = settings.num_ctx_multiple if settings else 1024
    minimum = settings.min_num_ctx if settings else 2048
    need = prompt_tokens + max_tokens
    rounded = max(minimum, math.ceil(need / multiple) * multiple)
    return min(rounded, dep.context_window)


NS = 1e9


class OllamaAdapter(ProviderAdapter):
    family: ClassVar[str] = "ollama"

    def provider_fields(self, dep: Deployment, prompt: PromptSpec, num_ctx: int | None) -> dict[str, Any]:
        kw: dict[str, Any] = dict(dep.ollama.options) if dep.ollama else {}
        if num_ctx is not None:
            kw["num_ctx"] = num_ctx  # litellm maps Ollama options (num_ctx, num_gpu, ...) into the request's `options`
        if dep.disable_thinking:
            kw["think"] = False
        if dep.ollama and dep.ollama.keep_alive is not None:
            kw["keep_alive"] = dep.ollama.keep_alive
        if prompt.json_mode:
            kw["format"] = prompt.json_schema or "json"
        return kw

    def num_ctx(self, prompt_tokens: int, max_tokens: int, dep: Deployment) -> int | None:
        return ollama_num_ctx(prompt_tokens, max_tokens, dep)

    def prompt_cut(self, dep: Deployment, result: StreamResult, num_ctx: int | None, max_tokens: int) -> PromptCut | None:
        evaluated = result.server.get("final", {}).get("prompt_eval_count")
        if num_ctx is None or not isinstance(evaluated, int) or evaluated + max_tokens <= num_ctx:
            return None
        return PromptCut(evaluated, min(dep.context_window, max(2 * num_ctx, ollama_num_ctx(evaluated, max_tokens, dep))))

    def before_send(self, dep: Deployment, switch_lock: threading.Lock) -> None:
        if dep.ollama and dep.ollama.memory_bound:
            with switch_lock:
                make_room_for(dep.api_base, model_name(dep.model), dep.ollama.unload_wait_s)

    def watch_stream(self, wrapper: Any, server: dict[str, Any]) -> None:
        """Keep Ollama's final NDJSON object: litellm's parser drops its timing fields (load/prompt/eval durations)."""
        stream = getattr(wrapper, "completion_stream", None)
        parser = getattr(stream, "chunk_parser", None)
        if parser is None:
            return
        final: dict[str, Any] = {}

        def capture(chunk: Any) -> Any:
            if isinstance(chunk, str):
                try:
                    parsed = json.loads(chunk)
                except ValueError:
                    parsed = None
            else:
                parsed = chunk
            if isinstance(parsed, dict) and parsed.get("done") is True:
                final.update({k: v for k, v in parsed.items() if k != "message"})
                server["final"] = final
            return parser(chunk)

        stream.chunk_parser = capture

    def server_memory(self, dep: Deployment) -> int | None:
        return memory_of(dep.api_base, model_name(dep.model))

    def server_report(self, result: StreamResult) -> ServerReport:
        f = result.server.get("final")
        if not f:
            return ServerReport()
        timing: dict[str, float | None] = {
            "load_s": f["load_duration"] / NS if f.get("load_duration") is not None else None,
            "prompt_eval_s": f["prompt_eval_duration"] / NS if f.get("prompt_eval_duration") is not None else None,
            "generation_s": f["eval_duration"] / NS if f.get("eval_duration") is not None else None,
        }
        if f.get("eval_count") and f.get("eval_duration"):
            timing["tokens_per_s"] = f["eval_count"] / (f["eval_duration"] / NS)
        return ServerReport(timing=timing, prompt_tokens=f.get("prompt_eval_count") or None,
                            completion_tokens=f.get("eval_count") or None)

    def warm_up_request(self, provider: str) -> dict[str, Any] | None:
        return {"model": f"{provider}/warm-up", "api_base": "http://127.0.0.1:9", "api_key": "warm-up"}
