"""The structured half of a case record: `case.yaml`, validated."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# ASCII only (no fullwidth or Arabic-Indic digits), matched to the very end (`\Z`: no trailing newline) and short
# enough to name folders and files under any output path.
CASE_ID_MAX_LEN = 40
CASE_ID_PATTERN = re.compile(rf"^(?=.{{1,{CASE_ID_MAX_LEN}}}\Z)[a-z][a-z0-9_]*-[0-9]{{4,}}\Z")

# Limits on case.yaml, checked before (size) and after (list lengths) parsing, so that one careless or hostile
# drop cannot stall intake for every other case.
MAX_CASE_FILE_BYTES = 256 * 1024
MAX_PARTIES = 200
MAX_LIST_ITEMS = 50  # aliases, addresses, phones, emails, other IDs of one party



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
    name: str = Field(max_length=300)
    aliases: tuple[str, ...] = Field(default=(), max_length=MAX_LIST_ITEMS)
    date_of_birth: date | None = None
    a_number: str | None = Field(default=None, description="Alien registration number, e.g. A-123-456-789")
    other_ids: dict[str, str] = Field(default_factory=dict, max_length=MAX_LIST_ITEMS,
                                      description="passport, SSN, driver license, ...")
    addresses: tuple[Address, ...] = Field(default=(), max_length=MAX_LIST_ITEMS)
    phones: tuple[str, ...] = Field(default=(), max_length=MAX_LIST_ITEMS)
    emails: tuple[str, ...] = Field(default=(), max_length=MAX_LIST_ITEMS)
    citizenship: str | None = None
    relationship: str | None = Field(default=None, description="relationship to the declarant")

    @field_validator("name")
    @classmethod
    def _named(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a name is required (an empty name cannot be redacted or checked)")
        return v

    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class CaseRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    case_id: str
    case_type: str = Field(description="a case type with a requirements file: vawa, t_visa, ... (adding one is adding a file)")
    language: str = Field(default="en", description="ISO 639-1 code of the declarant's language")
    parties: tuple[Party, ...] = Field(default=(), max_length=MAX_PARTIES)
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
    """case.yaml is missing or invalid; the message names the file and the field (never a value from the file)."""


# What each top-level key looks like, shown with an error about that key. The most common mistake is a party
# written as its own top-level key (`declarant:`): the expected shape is a list under `parties`.
PARTIES_EXAMPLE = """parties:
  - role: declarant
    name: Full Name
    aliases: [Other Name]
    date_of_birth: 1990-01-31
    a_number: A-123-456-789
  - role: abuser
    name: Full Name
    relationship: husband"""
KEY_EXAMPLES = {
    "case_type": "case_type: vawa        # or t_visa",
    "language": "language: es           # ISO 639-1 code of the declarant's language",
    "parties": PARTIES_EXAMPLE,
    "case_id": "case_id: vawa-0001      # optional; must equal the folder name",
    "notes": "notes: free text about the case",
}
PARTY_KEYS = {"declarant", "abuser", "trafficker", "child", "children", "witness", "witnesses", "party", "name",
              "aliases", "date_of_birth", "a_number", "addresses", "phones", "emails", "other_ids", "role"}


def expected_shape(key: str) -> str:
    """An example snippet of case.yaml for a top-level key (a party-like key shows `parties`)."""
    if key in KEY_EXAMPLES:
        return KEY_EXAMPLES[key]
    if key.lower() in PARTY_KEYS:
        return PARTIES_EXAMPLE
    return "case_type: vawa\nlanguage: en\n" + PARTIES_EXAMPLE


class _NoAliasSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader refusing anchors and aliases: `&a` / `*a` let a few bytes expand into a huge document
    (a "billion laughs"), and a case record never needs them."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            raise yaml.MarkedYAMLError(problem="YAML anchors and aliases are not allowed in case.yaml",
                                       problem_mark=mark)
        return super().compose_node(parent, index)


def yaml_problem(e: yaml.YAMLError) -> str:
    """PyYAML's message without the text of the offending line (it quotes it, and that line may hold a name or an
    A-number): the problem and where it is."""
    problem = getattr(e, "problem", None) or "not valid YAML"
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    # The problem itself is PyYAML's own wording ("found character '\\t' that cannot start any token", "could not
    # determine a constructor for the tag ..."): it names a character or a tag, never the line's content.
    return f"not valid YAML: {problem}{where}"


def parse_case_bytes(data: bytes, where: str, folder_case_id: str) -> CaseRecord:
    """Validate case.yaml bytes from any store: size cap, safe YAML without aliases, the model, a named declarant."""
    if len(data) > MAX_CASE_FILE_BYTES:
        raise CaseFileError(f"{where}: {len(data):,} bytes, over the {MAX_CASE_FILE_BYTES:,}-byte limit for case.yaml")
    if not data.strip():
        raise CaseFileError(f"{where}: empty case.yaml; expected at least:\ncase_type: vawa\n{PARTIES_EXAMPLE}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CaseFileError(f"{where}: not UTF-8 text (byte {e.start})") from None
    try:
        raw = yaml.load(text, Loader=_NoAliasSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise CaseFileError(f"{where}: {yaml_problem(e)}") from None  # `from None`: the cause quotes the line
    if not isinstance(raw, dict):
        raise CaseFileError(f"{where}: expected a mapping of keys, like:\ncase_type: vawa\n{PARTIES_EXAMPLE}")
    raw.setdefault("case_id", folder_case_id)
    try:
        record = CaseRecord.model_validate(raw)
    except ValidationError as e:
        problems = []
        keys: list[str] = []
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"])
            problems.append(f"{loc}: {err['msg']}")
            top = str(err["loc"][0]) if err["loc"] else ""
            if top and top not in keys:
                keys.append(top)
        shapes = "\n".join(f"expected shape for {k!r}:\n{expected_shape(k)}" for k in keys[:2])
        raise CaseFileError(f"{where}: {'; '.join(problems)}" + (f"\n{shapes}" if shapes else "")) from None
    declarants = [p for p in record.parties if p.role == "declarant"]
    if not declarants:
        raise CaseFileError(f"{where}: parties: no party with role 'declarant' (the person whose declaration this "
                            f"is); expected shape:\n{PARTIES_EXAMPLE}")
    if len(declarants) > 1:
        raise CaseFileError(f"{where}: parties: {len(declarants)} parties with role 'declarant'; a case has one")
    return record


def load_case_record(path: Path) -> CaseRecord:
    if not path.exists():
        raise CaseFileError(f"{path}: missing (every case folder needs a case.yaml)")
    size = path.stat().st_size
    if size > MAX_CASE_FILE_BYTES:  # before reading: a 20 MB file is refused without being parsed
        raise CaseFileError(f"{path}: {size:,} bytes, over the {MAX_CASE_FILE_BYTES:,}-byte limit for case.yaml")
    return parse_case_bytes(path.read_bytes(), str(path), path.parent.name)
