"""Typed results of the deterministic guards: findings with evidence spans, grouped in a report."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["serious", "warning"]


class Span(BaseModel):
    """Where a finding was seen: a paragraph of a section, and the character range inside that paragraph."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    section: int = Field(description="index of the section in the draft")
    paragraph: int = Field(description="index of the paragraph inside the section")
    start: int
    end: int
    text: str


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: str
    severity: Severity
    message: str
    section_key: str | None = Field(default=None, description="element id, or the section title for other sections")
    evidence: Span | None = None


class GuardReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    findings: list[Finding] = Field(default_factory=list)
    word_count: int = 0
    length_gap: int = Field(default=0, description="words below the minimum or above the maximum length (0 within)")

    @property
    def serious(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "serious"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def serious_count(self) -> int:
        return len(self.serious)

    @property
    def warning_count(self) -> int:
        return len(self.warnings)

    @property
    def ready(self) -> bool:
        return self.serious_count == 0

    def badness(self) -> tuple[int, int, int]:
        """Order used to keep the better of two versions: fewer serious findings wins, then fewer warnings, then
        the smaller distance to the length bounds (a rewrite must not shrink a declaration that is too short)."""
        return (self.serious_count, self.warning_count, self.length_gap)

    def counts_by_rule(self) -> dict[str, dict[str, int]]:
        c: Counter[tuple[str, str]] = Counter((f.rule, f.severity) for f in self.findings)
        out: dict[str, dict[str, int]] = {}
        for (rule, sev), n in sorted(c.items()):
            out.setdefault(rule, {"serious": 0, "warning": 0})[sev] = n
        return out

    def for_section(self, section_key: str) -> list[Finding]:
        return [f for f in self.findings if f.section_key == section_key]

    def reasons(self, limit: int = 10) -> list[str]:
        """One line per serious finding (the reasons a declaration is NOT READY)."""
        lines = [f"{f.rule}: {f.message}" for f in self.serious]
        if len(lines) > limit:
            lines = lines[:limit] + [f"... and {len(lines) - limit} more serious findings"]
        return lines

    def markdown_table(self, limit: int = 50, *, withhold_messages: str | None = None) -> str:
        """One row per finding; `withhold_messages` replaces every message (they quote the text) when given."""
        if not self.findings:
            return "No findings."
        rows = ["| severity | rule | section | message |", "| --- | --- | --- | --- |"]
        ordered = sorted(self.findings, key=lambda f: (f.severity != "serious", f.rule))
        for f in ordered[:limit]:
            msg = (f.message if withhold_messages is None else withhold_messages).replace("|", "\\|").replace("\n", " ")
            rows.append(f"| {f.severity} | {f.rule} | {f.section_key or ''} | {msg} |")
        if len(ordered) > limit:
            rows.append(f"| ... | | | {len(ordered) - limit} more |")
        return "\n".join(rows)
