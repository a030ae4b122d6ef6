"""The structured half of a case record: `case.yaml`, validated."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CASE_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*-\d{4,}$")



class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    street: str
    city: str
    state: str | None = None
    postal_code: str | None = None
    country: str = "USA"

    def one_line(self) -> str:
        parts = [self.street, self.city, " ".join(p for p in (self.state, self.postal_code) if p)]
        return ", ".join(p for p in parts if p)


class Party(BaseModel):
    """A person in the case: the declarant, the abuser or trafficker, children, witnesses."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    role: str = Field(description="declarant, abuser, trafficker, child, witness, ...")
    name: str
    aliases: tuple[str, ...] = ()
    date_of_birth: date | None = None
    a_number: str | None = Field(default=None, description="Alien registration number, e.g. A-123-456-789")
    other_ids: dict[str, str] = Field(default_factory=dict, description="passport, SSN, driver license, ...")
    addresses: tuple[Address, ...] = ()
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    citizenship: str | None = None
    relationship: str | None = Field(default=None, description="relationship to the declarant")

    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class CaseRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    case_id: str
    case_type: str = Field(description="a case type with a requirements file: vawa, t_visa, ... (adding one is adding a file)")
    language: str = Field(default="en", description="ISO 639-1 code of the declarant's language")
    parties: tuple[Party, ...] = ()
    notes: str | None = None

    @field_validator("case_type")
    @classmethod
    def _known_case_type(cls, v: str) -> str:
        from ..requirements.loader import available_case_types, requirements_dir

        known = available_case_types()
        if v not in known:
            raise ValueError(f"unknown case type {v!r}: expected one of {', '.join(known)} (files in {requirements_dir()})")
        return v

    @field_validator("case_id")
    @classmethod
    def _neutral_id(cls, v: str) -> str:
        if not CASE_ID_PATTERN.match(v):
            raise ValueError(f"case_id {v!r} must be neutral, like 'vawa-0001' (never a client's name)")
        return v

    @property
    def declarant(self) -> Party:
        for p in self.parties:
            if p.role == "declarant":
                return p
        raise ValueError(f"case {self.case_id} lists no party with role 'declarant'")

    def sensitive_strings(self) -> list[str]:
        """Every identifying string from case.yaml (names, aliases, DOBs, IDs, addresses, phones, emails)."""
        out: list[str] = []
        for p in self.parties:
            out.extend(p.all_names())
            if p.date_of_birth:
                out.append(p.date_of_birth.isoformat())
            if p.a_number:
                out.append(p.a_number)
            out.extend(p.other_ids.values())
            for a in p.addresses:
                out.append(a.street)
            out.extend(p.phones)
            out.extend(p.emails)
        return [s for s in out if s]


class CaseFileError(ValueError):
    """case.yaml is missing or invalid; the message names the file and the field."""


def load_case_record(path: Path) -> CaseRecord:
    if not path.exists():
        raise CaseFileError(f"{path}: missing (every case folder needs a case.yaml)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise CaseFileError(f"{path}: not valid YAML: {e}") from e
    if isinstance(raw, dict):
        raw.setdefault("case_id", path.parent.name)
    try:
        return CaseRecord.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
        raise CaseFileError(f"{path}: {problems}") from e
