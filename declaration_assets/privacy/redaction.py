"""Redaction into stable placeholders, and re-identification of the answer.

Every sensitive span becomes a placeholder naming its entity: `[PERSON_2]` for the party's name as written in
`case.yaml`, `[PERSON_2_3]` for another spelling of the same person seen in the text ("Rigo", "RODRIGO BENÍTEZ",
"Rodrigo\\nBenitez"), `[PHONE_1]`, `[DOB_1]`, `[ADDRESS_4]`, ... The map from placeholders to text is kept per
case (see `store`), so the same entity has the same placeholder in every call of the case, and restoring gives
back exactly what was written. Overlapping matches: the leftmost, then the longest, then the most specific source
wins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from ..cases.models import CaseRecord
from .catalog import PRIORITY_RECOGNIZER, CaseCatalog, build_catalog
from .recognizers import recognize
from .text import collapse, digits, fold, match_key, nfc

KINDS = ("PERSON", "NAME", "ORG", "DOB", "A_NUMBER", "SSN", "PASSPORT", "ID", "ADDRESS", "PHONE", "EMAIL")
_KIND_BY_LETTERS = {k.replace("_", ""): k for k in KINDS}
_KIND_ALT = "|".join(k.replace("_", r"[\s_\-]?") for k in sorted(KINDS, key=len, reverse=True))
# The model may alter a placeholder: "[PERSON_1]", "PERSON_1", "[Person 1]", "\[PERSON\_1\]", "{PERSON-1}".
_BRACKETED = re.compile(
    rf"\\?[\[{{<]\s*({_KIND_ALT})\\?[\s_\-]*(\d+)(?:\\?[_.\-](\d+))?\s*\\?[\]}}>]", re.IGNORECASE
)
_BARE = re.compile(
    rf"(?<![\w\[{{<\\])({'|'.join(k for k in sorted(KINDS, key=len, reverse=True))})\\?_(\d+)(?:\\?_(\d+))?(?![\w\]}}>])"
)

Restore = Callable[[str], str]


class Entity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    kind: str
    number: int
    canonical: str
    variants: list[str] = Field(default_factory=list, description="other spellings seen; [KIND_n_i] is variants[i-1]")

    def placeholder(self, variant: int = 0) -> str:
        return f"[{self.kind}_{self.number}]" if variant == 0 else f"[{self.kind}_{self.number}_{variant}]"

    def text_for(self, variant: int | None) -> str:
        if variant and 1 <= variant <= len(self.variants):
            return self.variants[variant - 1]
        return self.canonical


class RedactionMap(BaseModel):
    """Placeholder <-> text for one case. Sensitive: stored with mode 0600 and never logged."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    case_id: str
    entities: list[Entity] = Field(default_factory=list)

    def _index(self) -> dict[str, Entity]:
        return {e.key: e for e in self.entities}

    def ensure(self, key: str, kind: str, canonical: str) -> Entity:
        found = self._index().get(key)
        if found is not None:
            return found
        number = 1 + max((e.number for e in self.entities if e.kind == kind), default=0)
        ent = Entity(key=key, kind=kind, number=number, canonical=collapse(canonical))
        self.entities.append(ent)
        return ent

    def placeholder(self, key: str, kind: str, canonical: str, surface: str) -> str:
        ent = self.ensure(key, kind, canonical)
        surface = re.sub(r"(\w)-\s+(?=\w)", r"\1-", collapse(surface))  # "Ruiz-\nSalcedo" -> "Ruiz-Salcedo"
        if surface == ent.canonical:
            return ent.placeholder()
        if surface not in ent.variants:
            ent.variants.append(surface)
        return ent.placeholder(ent.variants.index(surface) + 1)

    def lookup(self, kind: str, number: int) -> Entity | None:
        for e in self.entities:
            if e.kind == kind and e.number == number:
                return e
        return None

    def fingerprint(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    key: str
    kind: str
    canonical: str
    priority: int


@lru_cache(maxsize=32)
def _compiled_catalog(record_json: str) -> tuple[CaseCatalog, list]:
    cat = build_catalog(CaseRecord.model_validate_json(record_json))
    return cat, cat.compiled()


def catalog_for(record: CaseRecord) -> tuple[CaseCatalog, list]:
    return _compiled_catalog(record.model_dump_json())


def find_spans(text: str, record: CaseRecord) -> list[Span]:
    """Non-overlapping sensitive spans of `nfc(text)`: leftmost, then longest, then by priority."""
    text = nfc(text)
    folded = fold(text)
    cat, compiled = catalog_for(record)
    candidates: list[Span] = []
    for pattern, term in compiled:
        for m in pattern.finditer(folded):
            if m.end() == m.start():
                continue
            if term.capitalized_only and not text[m.start()].isupper():
                continue
            candidates.append(Span(m.start(), m.end(), term.entity_key, term.kind, term.canonical, term.priority))
    for f in recognize(folded):
        kind, canonical = cat.entities.get(f.key, (f.kind, text[f.start:f.end]))
        candidates.append(Span(f.start, f.end, f.key, kind, canonical, PRIORITY_RECOGNIZER))
    # Leftmost-longest, as a regex alternation scans: at each position the longest match, then the most specific.
    candidates.sort(key=lambda s: (s.start, -(s.end - s.start), -s.priority))
    taken: list[Span] = []
    occupied = bytearray(len(text))
    for s in candidates:
        if any(occupied[s.start:s.end]):
            continue
        occupied[s.start:s.end] = b"\x01" * (s.end - s.start)
        taken.append(s)
    return sorted(taken, key=lambda s: s.start)


def register_case(rmap: RedactionMap, record: CaseRecord) -> None:
    """Number the case's entities in `case.yaml` order, so numbering does not depend on which call came first."""
    cat, _ = catalog_for(record)
    for key, (kind, canonical) in cat.entities.items():
        rmap.ensure(key, kind, canonical)


def redact(text: str, record: CaseRecord, rmap: RedactionMap) -> str:
    """`text` with every sensitive span replaced by its placeholder; `rmap` learns new entities and spellings."""
    register_case(rmap, record)
    text = nfc(text)
    out: list[str] = []
    pos = 0
    for s in find_spans(text, record):
        out.append(text[pos:s.start])
        out.append(rmap.placeholder(s.key, s.kind, s.canonical, text[s.start:s.end]))
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def _kind(raw: str) -> str | None:
    return _KIND_BY_LETTERS.get(re.sub(r"[^A-Za-z]", "", raw).upper())


def restore(text: str, rmap: RedactionMap) -> str:
    """Placeholders (also slightly altered ones) back to the text they stand for; unknown ones stay as they are."""

    def sub(m: re.Match[str]) -> str:
        kind = _kind(m.group(1))
        ent = rmap.lookup(kind, int(m.group(2))) if kind else None
        if ent is None:
            return m.group(0)
        return ent.text_for(int(m.group(3)) if m.group(3) else None)

    return _BARE.sub(sub, _BRACKETED.sub(sub, text))


def restorer(rmap: RedactionMap) -> Restore:
    snapshot = rmap.model_copy(deep=True)
    return lambda text: restore(text, snapshot)


# --- the final check ---------------------------------------------------------------------------------------
_NUMBER_RUN = re.compile(r"\d(?:\d|[\s().\-/]{1,2}(?=\d))*")


@dataclass(frozen=True)
class Leak:
    kind: str
    index: int  # position of the needle in the catalogue, to name it without repeating the value


def find_leaks(text: str, record: CaseRecord) -> list[Leak]:
    """Sensitive strings of the case still present in `text`, found independently of the redaction patterns:
    plain comparison of folded, case-folded text, digits compared as digit runs. Also any recognizer hit."""
    cat, _ = catalog_for(record)
    hay = match_key(text)
    runs = [digits(m.group(0)) for m in _NUMBER_RUN.finditer(nfc(text))]
    leaks: list[Leak] = []
    for i, (kind, needle) in enumerate(cat.needles):
        nd = digits(needle)
        letters = any(c.isalpha() for c in needle)
        if kind == "PHONE" or (not letters and len(nd) >= 4):
            if len(nd) == 11 and nd.startswith("1"):
                nd = nd[1:]
            if any((nd in r) if len(nd) >= 7 else (r == nd) for r in runs):
                leaks.append(Leak(kind, i))
            continue
        key = match_key(needle)
        if key and re.search(r"(?<![a-z0-9])" + re.escape(key) + r"(?![a-z0-9])", hay):
            leaks.append(Leak(kind, i))
    folded = fold(text)
    leaks.extend(Leak(f.kind, -1) for f in recognize(folded))
    return leaks
