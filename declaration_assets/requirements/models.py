"""Legal requirements of a case type, as validated data (one YAML file per case type)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class LengthBounds(BaseModel):
    """Word-count bounds of the whole declaration."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_words: int = Field(gt=0)
    max_words: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "LengthBounds":
        if self.min_words >= self.max_words:
            raise ValueError(f"min_words ({self.min_words}) must be below max_words ({self.max_words})")
        return self

    def contains(self, words: int) -> bool:
        return self.min_words <= words <= self.max_words


class Element(BaseModel):
    """One legal element the declaration must prove, with where the law states it and what proves it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    sources: tuple[str, ...] = Field(min_length=1, description="regulation and policy citations")
    must_show: str = Field(min_length=1, description="what the declarant's account must establish")
    evidence: tuple[str, ...] = Field(min_length=1, description="evidence that usually proves the element")
    queries: tuple[str, ...] = Field(min_length=2, description="retrieval queries; results are unioned")


class CaseRequirements(BaseModel):
    """The requirements file of one case type (e.g. `vawa.yaml`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    case_type: str = Field(pattern=ID_PATTERN)
    form: str
    title: str
    legal_basis: tuple[str, ...] = Field(min_length=1)
    length: LengthBounds
    elements: tuple[Element, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "CaseRequirements":
        seen: set[str] = set()
        for e in self.elements:
            if e.id in seen:
                raise ValueError(f"element id {e.id!r} appears twice")
            seen.add(e.id)
        return self

    def element(self, element_id: str) -> Element:
        for e in self.elements:
            if e.id == element_id:
                return e
        raise KeyError(f"{self.case_type}: no element {element_id!r}")

    def element_ids(self) -> list[str]:
        return [e.id for e in self.elements]
