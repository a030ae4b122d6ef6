"""Values of `eval_report` (one case x model configuration) and `model_comparison` (across them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..exports.provenance import Provenance
from .bertscore import BertScoreResult
from .usage import RoleUsage


class JudgeSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    judges: list[str]
    shared_model: bool
    mean_by_element: dict[str, float | None]
    by_judge: dict[str, dict[str, float | None]]  # judge role -> element -> mean over criteria (None: not scored)
    overall_mean: float | None
    agreement: dict[str, float | None]
    overall_agreement: float | None
    unscorable: int  # calls made without a valid answer
    not_judged: int = 0  # (judge, element) pairs never asked (no section, or a gap marker)
    status: dict[str, dict[str, str]] = Field(default_factory=dict)  # judge role -> element -> score status
    alpha: dict[str, float | None] = Field(default_factory=dict)  # Krippendorff's alpha per element
    overall_alpha: float | None = None
    alpha_level: str = "ordinal"


class GuardSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str
    reasons: list[str]
    serious: int
    warnings: int
    by_rule: dict[str, dict[str, int]]
    draft_serious: int
    draft_warnings: int
    rewrite_outcomes: dict[str, int]


class EvalReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: str
    model_config_name: str
    run_id: str
    created_at: str
    reference_path: str
    reference_found: bool
    bertscore: BertScoreResult | None
    judges: JudgeSummary
    guards: GuardSummary
    usage: list[RoleUsage]
    usage_source: dict[str, str]  # asset -> "value" | "call log" | "none"
    totals: dict[str, float]
    declaration_words: int
    declaration_provenance: Provenance | None = None  # of the evaluated declaration (its run, routing file, prompts)
    eval_version: str = ""
    notes: list[str] = Field(default_factory=list)
    output_dir: str | None = None
    files: dict[str, str] = Field(default_factory=dict)


class ComparisonRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_config_name: str
    cases: int
    cases_with_reference: int
    ready: int
    mean_f1: float | None
    mean_judge: float | None
    guard_serious: int
    mean_guard_serious: float
    latency_s: float
    mean_latency_s: float
    cost_usd: float
    tokens: int


class ModelComparison(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str = ""
    created_at: str = ""
    rows: list[ComparisonRow]
    partitions: list[str]
    output_dir: str | None = None
    files: dict[str, str] = Field(default_factory=dict)
