"""Judge answers and their aggregation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CRITERIA = ("supported_by_evidence", "legally_sufficient", "consistent", "first_person_voice")


class RubricAnswer(BaseModel):
    """What a judge must answer, as JSON. Validated strictly; anything else is retried, then unscorable."""

    model_config = ConfigDict(extra="forbid")
    supported_by_evidence: int = Field(ge=1, le=5)
    legally_sufficient: int = Field(ge=1, le=5)
    consistent: int = Field(ge=1, le=5)
    first_person_voice: int = Field(ge=1, le=5)
    reasons: str = Field(min_length=1)


class ElementScore(BaseModel):
    """One judge on one element. `unscorable`: the judge was asked and gave no valid answer (or its call failed);
    `not_judged`: no call was made (the draft has no section for the element, or only a gap marker)."""

    model_config = ConfigDict(extra="forbid")
    judge_role: str
    element_id: str
    status: Literal["scored", "unscorable", "not_judged"]
    scores: dict[str, int] = Field(default_factory=dict)  # criterion -> 1..5, empty unless scored
    reasons: str = ""
    error: str | None = None  # why unscorable (validation errors of both attempts) or why not judged
    attempts: int = 1
    deployment: str | None = None

    @property
    def mean(self) -> float | None:
        return sum(self.scores.values()) / len(self.scores) if self.scores else None


class JudgeScores(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: str
    model_config_name: str
    judges: list[str]
    shared_model: bool  # True when several judges run on the same underlying model
    judge_models: dict[str, list[str]]  # judge role -> deployment/model names of its chain
    scores: list[ElementScore]
    mean_by_element: dict[str, float | None]  # mean over scored judges and criteria
    agreement: dict[str, float | None]  # per element: agreement between judges (see judging.aggregate)
    overall_agreement: float | None
    mean_by_element_criterion: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    unscorable: int = 0  # judge calls made that gave no valid answer
    not_judged: int = 0  # (judge, element) pairs never asked: no section, or a gap marker
    # Krippendorff's alpha (chance-corrected agreement) per element and overall; None where undefined.
    alpha: dict[str, float | None] = Field(default_factory=dict)
    overall_alpha: float | None = None
    alpha_level: str = "ordinal"
    personas: dict[str, str] = Field(default_factory=dict)  # judge role -> persona name used in its prompts
    prompt_version: str = ""

    def for_element(self, element_id: str) -> list[ElementScore]:
        return [s for s in self.scores if s.element_id == element_id]
