"""The draft declaration's structure: sections by legal element, exhibits, citations."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field


class Exhibit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    letter: str  # A, B, C ... in the case's document order
    document: str  # file name of the PDF
    title: str
    pages: int
    languages: list[str] = Field(default_factory=list, description="its pages' languages (from extraction)")


class Citation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    exhibit: str
    page: int

    def label(self) -> str:
        return f"[Ex. {self.exhibit}, p. {self.page}]"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="introduction | element | closing")
    element_id: str | None = None
    title: str
    paragraphs: list[str]
    evidence_chunk_ids: list[str] = Field(default_factory=list)
    evidence_dropped: int = 0
    deployment: str | None = None
    # Drafting diagnostics (element sections): why the section is a marker, what post-processing removed.
    gap: str | None = Field(default=None, description="set when the section is a drafting-gap marker, with the reason")
    sentences_dropped: dict[str, int] = Field(default_factory=dict, description="reason -> sentences removed")
    citations_removed: list[str] = Field(default_factory=list, description="model citations outside its evidence")
    citations_attributed: int = Field(default=0, description="sentences given their source passage's citation")
    review_notes: list[str] = Field(
        default_factory=list,
        description="for the attorney, not the filing: sentences dropped (with the reason), kept but unverified, "
                    "citations removed")
    coverage: dict[str, list[int]] = Field(
        default_factory=dict, description="document -> pages whose passages reached the drafter for this element")

    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    def citations(self) -> list[Citation]:
        """Canonical citations in the section's text, in order, with repeats."""
        return [Citation(exhibit=m.group(1), page=int(m.group(2)))
                for m in re.finditer(r"\[Ex\. ([A-Z]{1,2}), p\. (\d{1,4})\]", self.text())]

    def word_count(self) -> int:
        return len(self.text().split())


class Draft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: str
    model_config_name: str
    case_type: str
    declarant_name: str
    language: str
    sections: list[Section]
    exhibits: list[Exhibit]
    prompt_version: str
    warnings: list[str] = Field(default_factory=list, description="pipeline warnings, e.g. exhibit lettering")

    def gaps(self) -> list[Section]:
        """Element sections the pipeline could not draft (they hold a marker paragraph)."""
        return [s for s in self.sections if s.gap is not None]

    def element_sections(self) -> list[Section]:
        return [s for s in self.sections if s.kind == "element"]

    def section_for(self, element_id: str) -> Section | None:
        return next((s for s in self.sections if s.element_id == element_id), None)

    def markdown(self) -> str:
        lines = [f"# Declaration of {self.declarant_name}", ""]
        for s in self.sections:
            lines += [f"## {s.title}", ""]
            for p in s.paragraphs:
                lines += [p, ""]
        lines += ["## Exhibit List", ""]
        lines += [f"- Exhibit {e.letter}: {e.title} ({e.document}, {e.pages} pp.)" for e in self.exhibits]
        return "\n".join(lines).rstrip() + "\n"

    def word_count(self) -> int:
        return sum(len(s.text().split()) for s in self.sections)
