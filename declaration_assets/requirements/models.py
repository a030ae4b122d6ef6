"""Legal requirements of a case type, as validated data (one YAML file per case type)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2}$")  # ISO 639-1, as case.yaml's `language`
QUERY_LANGUAGE = "en"  # the language of `queries`


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
    queries: tuple[str, ...] = Field(min_length=2, description="retrieval queries in English; results are unioned")
    queries_by_language: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="retrieval queries in other languages (ISO 639-1 code -> queries), used with the English ones "
        "when the declarant speaks that language: her own notes are written in it",
    )

    @field_validator("queries", mode="after")
    @classmethod
    def _non_blank(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not q.strip() for q in v):
            raise ValueError("a query is blank")
        return v

    @field_validator("queries_by_language", mode="after")
    @classmethod
    def _languages(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for lang, queries in v.items():
            if not LANGUAGE_PATTERN.match(lang):
                raise ValueError(f"{lang!r} is not an ISO 639-1 language code (two lower-case letters, e.g. 'es')")
            if lang == QUERY_LANGUAGE:
                raise ValueError(f"English queries belong in `queries`, not under {lang!r}")
            if not queries or any(not q.strip() for q in queries):
                raise ValueError(f"queries in {lang!r}: at least one, none blank")
        return v

    def queries_for(self, language: str) -> tuple[str, ...]:
        """The queries retrieval runs for a declarant speaking `language`: the English ones, then those written
        in her language (when the file has them)."""
        return tuple(dict.fromkeys((*self.queries, *self.queries_by_language.get(language, ()))))


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

    def for_language(self, language: str) -> "CaseRequirements":
        """The same requirements with each element's `queries` extended by those in `language`
        (see `Element.queries_for`): what drafting retrieves with for a declarant speaking it."""
        elements = tuple(e.model_copy(update={"queries": e.queries_for(language)}) for e in self.elements)
        return self.model_copy(update={"elements": elements})

    def element(self, element_id: str) -> Element:
        for e in self.elements:
            if e.id == element_id:
                return e
        raise KeyError(f"{self.case_type}: no element {element_id!r}")

    def element_ids(self) -> list[str]:
        return [e.id for e in self.elements]
