"""The value of `guarded_declaration`: the final text, its guard results, what the rewrite did, where it was written."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..drafting.models import Draft
from ..exports.provenance import Provenance
from ..checks.models import GuardReport
from ..llm.records import CallRecord

Status = Literal["READY", "NOT READY"]
RewriteOutcome = Literal["kept_rewrite", "kept_original", "failed", "empty"]


class SectionRewrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    section_key: str
    title: str
    reasons: list[str]
    outcome: RewriteOutcome
    before: tuple[int, int, int]  # (serious, warnings, words outside the length bounds) before this rewrite
    after: tuple[int, int, int] | None = None  # ... with the rewrite applied (None when there was no usable rewrite)
    deployment: str | None = None
    error: str | None = None


class GuardedDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: str
    model_config_name: str
    status: Status
    reasons: list[str] = Field(description="why NOT READY (serious findings); empty when READY")
    declaration: Draft
    draft_report: GuardReport = Field(description="guards on the draft as it came in")
    report: GuardReport = Field(description="guards on the final text")
    rewrites: list[SectionRewrite] = Field(default_factory=list)
    records: list[CallRecord] = Field(default_factory=list, description="call records of the guard role")
    provenance: Provenance
    output_dir: str | None = None
    files: dict[str, str] = Field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.status == "READY"
