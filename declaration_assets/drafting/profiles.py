"""Drafting profiles: how a model configuration drafts. The routing file names one per model configuration
(`drafting_profile: capable`); the `draft` asset's run config can still override it or any of its settings.

- `small` suits a very small local model (the embedded SmolLM2-135M): one passage per call, a short answer, a
  prompt asking for two or three sentences. Weak answers become gaps, never invented text.
- `capable` suits the models teams run in production (Claude on Bedrock, Qwen3 or Llama 3.3 70B through Ollama,
  vLLM or OpenRouter): each element is drafted in one call with all of its ranked evidence and the case's
  structured facts from case.yaml, as a chronological narrative in paragraphs sized to the element's share of
  the target length; an answer that stops at the token limit is continued, and a sentence still cut off is
  dropped, so a truncated sentence never ships.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..llm.routing import RoutingFile, RoutingFileError

PromptVariant = Literal["small", "capable"]


class DraftingProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    prompt: PromptVariant = Field(description="which drafter prompt: short sentences, or one narrative per element")
    evidence_per_element: int = Field(ge=1, le=200, description="ranked passages kept per element")
    evidence_per_call: int = Field(ge=1, le=200, description="passages per drafter call")
    k_per_query: int = Field(ge=1, le=100, description="passages retrieved per query before the union")
    max_tokens: int = Field(ge=32, le=32000, description="answer budget of each drafter call")
    passage_chars: int = Field(ge=200, le=20000, description="a passage is cut after this many characters")
    continuations: int = Field(ge=0, le=8, description="follow-up calls when an answer stops at the token limit")
    case_facts: bool = Field(description="give the drafter case.yaml's parties and identifiers")
    target_words: int | None = Field(
        default=None, ge=100, description="words of the whole declaration; None: the middle of the requirements band")


PROFILES: dict[str, DraftingProfile] = {
    "small": DraftingProfile(
        name="small", prompt="small", evidence_per_element=4, evidence_per_call=1, k_per_query=4, max_tokens=160,
        passage_chars=900, continuations=0, case_facts=False,
    ),
    "capable": DraftingProfile(
        name="capable", prompt="capable", evidence_per_element=100, evidence_per_call=100, k_per_query=40,
        max_tokens=4096, passage_chars=4000, continuations=3, case_facts=True,
    ),
}
DEFAULT_PROFILE = "small"


def get_profile(name: str | None) -> DraftingProfile:
    key = name or DEFAULT_PROFILE
    try:
        return PROFILES[key]
    except KeyError:
        raise ValueError(f"unknown drafting profile {key!r} (profiles: {', '.join(PROFILES)})") from None


def routing_profile(routes: RoutingFile, model_config: str, path: Path) -> str:
    """The drafting profile the routing file gives `model_config` (the default when it names none). The routing
    file's schema keeps the name only; an unknown name is refused here, naming the file and the key."""
    cfg = routes.model_configs.get(model_config)
    name = cfg.drafting_profile if cfg is not None else DEFAULT_PROFILE
    try:
        get_profile(name)
    except ValueError as e:
        raise RoutingFileError(f"{path}: invalid routing file\n  model_configs.{model_config}.drafting_profile: {e}"
                               ) from None
    return name
