"""What is sensitive in one case, from its `case.yaml`: match patterns (for redaction) and needles (for checking).

Names: the party's name and every alias, plus forms derived from the name: without accents, each surname alone
(and each part of a hyphenated surname), first name + any run of later names ("Lucía Montoya"), any run of two or
more consecutive names, and "Surnames, Given names". Forms listed in `case.yaml` match case-insensitively; forms
derived to a single word match only when capitalized in the text ("Reyes", not "los reyes"), and a single word
shared by several parties ("Ortega") becomes its own NAME entity rather than being pinned on one person.
Dates of birth in the usual English and Spanish spellings; IDs, phones and streets with flexible separators.
"""

from __future__ import annotations

import calendar
import itertools
import re
from dataclasses import dataclass, field
from datetime import date

from ..cases.models import CaseRecord, Party
from .recognizers import a_number_key, phone_key, postal_key, postal_pattern, street_key
from .text import (
    BEFORE,
    AFTER,
    alnum_pattern,
    bounded,
    collapse,
    digit_pattern,
    digits,
    fold,
    match_key,
    phrase_pattern,
)

PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "dela", "delos", "van", "von", "der", "den", "da",
                       "das", "do", "dos", "di", "du", "le", "st.", "san", "santa", "mc", "bin", "ibn", "al"})
TITLES = frozenset({"boss", "sir", "ma'am", "maam", "madam", "rev.", "rev", "reverend", "pastor", "dona", "don",
                    "sa", "dr.", "dr", "mr.", "mr", "mrs.", "mrs", "ms.", "ms", "officer", "agent", "senor", "senora",
                    "sr.", "sra.", "jr.", "jr", "sr", "sra", "hermano", "hermana", "tia", "tio"})
MIN_DERIVED_WORD = 3

MONTHS_EN = [calendar.month_name[i] for i in range(1, 13)]
MONTHS_ES = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
             "noviembre", "diciembre"]

# Priorities break ties between overlapping matches of equal length: listed > derived > recognizer.
PRIORITY_LISTED = 3
PRIORITY_DERIVED = 2
PRIORITY_DERIVED_WORD = 1
PRIORITY_RECOGNIZER = 0


@dataclass(frozen=True)
class Term:
    """One pattern to look for in folded text, and the entity it stands for."""

    pattern: str
    entity_key: str
    kind: str
    canonical: str
    priority: int
    capitalized_only: bool = False


@dataclass
class CaseCatalog:
    terms: list[Term] = field(default_factory=list)
    # entity key -> (kind, canonical): registered in this order so numbering is stable for a case.
    entities: dict[str, tuple[str, str]] = field(default_factory=dict)
    needles: list[tuple[str, str]] = field(default_factory=list)  # (kind, sensitive string) for the final check

    def entity(self, key: str, kind: str, canonical: str) -> str:
        self.entities.setdefault(key, (kind, canonical))
        return key

    def compiled(self) -> list[tuple[re.Pattern[str], Term]]:
        return [(re.compile(t.pattern, re.IGNORECASE), t) for t in self.terms]


# --- names ---------------------------------------------------------------------------------------------------
def name_groups(name: str) -> list[str]:
    """Tokens of a name with particles glued to what follows ("Dela Cruz", "de Benítez")."""
    tokens = name.replace(",", " ").split()
    groups: list[str] = []
    pending: list[str] = []
    for t in tokens:
        if fold(t).casefold() in PARTICLES:
            pending.append(t)
            continue
        groups.append(" ".join([*pending, t]))
        pending = []
    if pending:
        groups.append(" ".join(pending))
    return groups


def _alternatives(group: str) -> list[str]:
    """A name group and, for a hyphenated group, each part alone ("Ruiz-Salcedo" -> also "Ruiz", "Salcedo")."""
    alts = [group]
    core = group.split()[-1]
    if any(h in core for h in "-\u2010\u2011"):
        alts.extend(p for p in re.split(r"[-\u2010\u2011]", core) if p)
    return alts


def _is_initial(token: str) -> bool:
    t = token.rstrip(".")
    return len(t) <= 1 or (token.endswith(".") and len(t) <= 2)


def derived_names(name: str) -> tuple[set[str], set[str]]:
    """(multi-word forms, single-word forms) derived from a full name."""
    groups = [g for g in name_groups(name) if fold(g).casefold() not in TITLES]
    multi: set[str] = set()
    single: set[str] = set()
    n = len(groups)
    if n == 0:
        return multi, single
    options = [_alternatives(g) for g in groups]
    # Any run of two or more consecutive names; first name + any run of later names; first + last.
    for i in range(n):
        for j in range(i + 1, n):
            for combo in itertools.product(*options[i:j + 1]):
                multi.add(" ".join(combo))
    for i in range(1, n):
        for j in range(i, n):
            for combo in itertools.product(*options[i:j + 1]):
                for first in options[0]:
                    multi.add(" ".join((first, *combo)))
    # Surname-first: "Montoya Ferrer, Lucía Esperanza", "Montoya Ferrer, Lucía".
    for k in range(1, n):
        multi.add(" ".join(groups[k:]) + ", " + " ".join(groups[:k]))
        multi.add(" ".join(groups[k:]) + ", " + groups[0])
    multi = {m for m in multi if not all(_is_initial(t) for t in m.replace(",", " ").split())}
    # Single words: every name group and hyphen part, including the core word after a particle.
    for opts in options:
        for alt in opts:
            for cand in {alt, alt.split()[-1]}:
                core = cand.split()[-1]
                if _is_initial(core) or fold(core).casefold() in PARTICLES | TITLES:
                    continue
                if len(core.strip(".'")) < MIN_DERIVED_WORD:
                    continue
                single.add(cand)
    return multi, single


def _add_names(cat: CaseCatalog, parties: tuple[Party, ...]) -> None:
    # form key -> {party index: priority}; the form text kept for the pattern.
    owners: dict[str, dict[int, int]] = {}
    texts: dict[str, str] = {}
    for idx, p in enumerate(parties):
        def own(form: str, prio: int) -> None:
            form = collapse(form)
            if not form:
                return
            k = match_key(form)
            texts.setdefault(k, form)
            owners.setdefault(k, {})
            owners[k][idx] = max(prio, owners[k].get(idx, -1))

        for listed in p.all_names():
            own(listed, PRIORITY_LISTED)
            cat.needles.append(("PERSON", listed))
        multi, single = derived_names(p.name)
        for form in multi:
            own(form, PRIORITY_DERIVED)
        for form in single:
            own(form, PRIORITY_DERIVED_WORD)
        # Aliases made of several words give their own single words too ("Boss Vic" -> "Vic").
        for alias in p.aliases:
            if len(name_groups(alias)) > 1:
                for form in derived_names(alias)[1]:
                    own(form, PRIORITY_DERIVED_WORD)
    for idx, p in enumerate(parties):
        cat.entity(f"party:{idx}", "PERSON", p.name)
    for k, by_party in sorted(owners.items()):
        top = max(by_party.values())
        holders = sorted(i for i, pr in by_party.items() if pr == top)
        form = texts[k]
        if len(holders) == 1:
            ekey, kind, canonical = f"party:{holders[0]}", "PERSON", parties[holders[0]].name
        else:
            ekey, kind, canonical = f"name:{k}", "NAME", form
            cat.entity(ekey, kind, canonical)
        cat.terms.append(Term(bounded(phrase_pattern(form)), ekey, kind, canonical, top,
                              capitalized_only=top == PRIORITY_DERIVED_WORD))


# --- dates of birth ------------------------------------------------------------------------------------------
def dob_pattern(d: date) -> str:
    """The date in numeric (US and day-first), ISO, English and Spanish spellings."""
    y, yy = str(d.year), f"{d.year % 100:02d}"
    m = rf"(?:0?{d.month})"
    dd = rf"(?:0?{d.day})"
    year = rf"(?:{y}|{yy})"
    sep = r"\s*[/.\-]\s*"
    en_full, en_abbr = MONTHS_EN[d.month - 1], MONTHS_EN[d.month - 1][:3]
    es_full, es_abbr = MONTHS_ES[d.month - 1], MONTHS_ES[d.month - 1][:3]
    month_word = rf"(?:{en_full}|{en_abbr}\.?|{es_full}|{es_abbr}\.?|sept\.?)" if d.month == 9 else \
        rf"(?:{en_full}|{en_abbr}\.?|{es_full}|{es_abbr}\.?)"
    ordinal = r"(?:st|nd|rd|th|º|o)?"
    forms = [
        rf"{y}{sep}{m}{sep}{dd}",  # 1990-03-14
        rf"{m}{sep}{dd}{sep}{year}",  # 03/14/1990
        rf"{dd}{sep}{m}{sep}{year}",  # 14/03/1990
        rf"{month_word}\s+{dd}{ordinal},?\s+(?:de\s+|del\s+)?{y}",  # March 14, 1990 / marzo 14, 1990
        rf"{dd}{ordinal}\s+(?:of\s+|de\s+)?{month_word},?\s+(?:de\s+|del\s+)?{y}",  # 14 March 1990 / 14 de marzo de 1990
    ]
    return r"(?<![\w/.\-])(?:" + "|".join(forms) + r")(?![\w/\-]|\.\d)"


def dob_strings(d: date) -> list[str]:
    """Plain spellings of a date of birth, for the final check."""
    en, es = MONTHS_EN[d.month - 1], MONTHS_ES[d.month - 1]
    return [d.isoformat(), f"{d.month:02d}/{d.day:02d}/{d.year}", f"{d.month}/{d.day}/{d.year}",
            f"{en} {d.day}, {d.year}", f"{d.day} {en} {d.year}", f"{d.day} de {es} de {d.year}"]


# --- addresses -----------------------------------------------------------------------------------------------
_UNIT = re.compile(r"^(?:apt|apartment|suite|ste|unit|room|rm|#)\.?\s*#?\s*\S+$", re.IGNORECASE)
_SUFFIX_FORMS = {
    "street": ["Street", "St"], "st": ["Street", "St"], "drive": ["Drive", "Dr"], "dr": ["Drive", "Dr"],
    "road": ["Road", "Rd"], "rd": ["Road", "Rd"], "avenue": ["Avenue", "Ave", "Av"], "ave": ["Avenue", "Ave", "Av"],
    "boulevard": ["Boulevard", "Blvd"], "blvd": ["Boulevard", "Blvd"], "lane": ["Lane", "Ln"], "ln": ["Lane", "Ln"],
    "court": ["Court", "Ct"], "ct": ["Court", "Ct"], "place": ["Place", "Pl"], "pl": ["Place", "Pl"],
}
_DIRECTION_FORMS = {"w": ["W", "West"], "west": ["W", "West"], "e": ["E", "East"], "east": ["E", "East"],
                    "n": ["N", "North"], "north": ["N", "North"], "s": ["S", "South"], "south": ["S", "South"]}


def _street_words_pattern(part: str) -> str:
    words = fold(part).split()
    out = []
    for i, w in enumerate(words):
        lw = w.rstrip(".").casefold()
        if i == len(words) - 1 and lw in _SUFFIX_FORMS:
            out.append("(?:" + "|".join(re.escape(f) for f in _SUFFIX_FORMS[lw]) + r")\.?")
        elif lw in _DIRECTION_FORMS and i > 0 and i < len(words) - 1:
            out.append("(?:" + "|".join(re.escape(f) for f in _DIRECTION_FORMS[lw]) + r")\.?")
        else:
            out.append(phrase_pattern(w))
    return r"\s+".join(out)


def street_pattern(street: str) -> tuple[str, str | None]:
    """(pattern for the whole street line, pattern for its first part alone when a unit follows)."""
    parts = [p.strip() for p in street.split(",") if p.strip()]
    pieces = []
    for p in parts:
        if _UNIT.match(p):
            num = p.split()[-1].lstrip("#")
            pieces.append(r"(?:Apt|Apartment|Suite|Ste|Unit|Room|Rm|#)\.?\s*#?\s*" + re.escape(fold(num)))
        else:
            pieces.append(_street_words_pattern(p))
    whole = bounded(r"\s*,?\s*".join(pieces))
    base = bounded(pieces[0]) if len(pieces) > 1 and re.match(r"^\d", parts[0]) else None
    return whole, base


# --- the catalogue -------------------------------------------------------------------------------------------
def _id_kind(label: str) -> str:
    label = label.casefold()
    if "passport" in label:
        return "PASSPORT"
    if "ssn" in label or "itin" in label or "social" in label:
        return "SSN"
    return "ID"


def _is_org_like(value: str) -> bool:
    return len(value.split()) >= 2 and sum(c.isalpha() for c in value) > len(value) / 2


def build_catalog(record: CaseRecord) -> CaseCatalog:
    cat = CaseCatalog()
    parties = record.parties
    _add_names(cat, parties)
    for p in parties:
        if p.date_of_birth:
            key = cat.entity(f"dob:{p.date_of_birth.isoformat()}", "DOB", f"{MONTHS_EN[p.date_of_birth.month - 1]} {p.date_of_birth.day}, {p.date_of_birth.year}")
            cat.terms.append(Term(dob_pattern(p.date_of_birth), key, "DOB", cat.entities[key][1], PRIORITY_LISTED))
            cat.needles.extend(("DOB", s) for s in dob_strings(p.date_of_birth))
        if p.a_number:
            key = cat.entity(a_number_key(p.a_number), "A_NUMBER", p.a_number)
            cat.terms.append(Term(r"(?<![\w])(?:A\s*(?:-|#|:|No\.?|Number:?)?\s*)?" + digit_pattern(p.a_number, r"[\s.\-]?"),
                                  key, "A_NUMBER", p.a_number, PRIORITY_LISTED))
            cat.needles.append(("A_NUMBER", p.a_number))
        for label, value in p.other_ids.items():
            if _is_org_like(value):
                key = cat.entity(f"org:{match_key(value)}", "ORG", value)
                cat.terms.append(Term(bounded(phrase_pattern(value)), key, "ORG", value, PRIORITY_LISTED))
                words = name_groups(re.sub(r",?\s*(LLC|Inc\.?|Corp\.?|Ltd\.?|S\.A\.?)$", "", value).strip())
                for k in range(2, len(words)):
                    prefix = " ".join(words[:k])
                    cat.terms.append(Term(bounded(phrase_pattern(prefix)), key, "ORG", value, PRIORITY_DERIVED))
                cat.needles.append(("ORG", value))
                continue
            kind = _id_kind(label)
            norm = "".join(c for c in fold(value).upper() if c.isalnum())
            key = cat.entity(f"ssn:{digits(value)}" if kind == "SSN" else f"id:{norm}", kind, value)
            cat.terms.append(Term(alnum_pattern(value), key, kind, value, PRIORITY_LISTED))
            cat.needles.append((kind, value))
        for a in p.addresses:
            key = cat.entity(street_key(a.street), "ADDRESS", a.street)
            whole, base = street_pattern(a.street)
            cat.terms.append(Term(whole, key, "ADDRESS", a.street, PRIORITY_LISTED))
            cat.needles.append(("ADDRESS", a.street))
            if base is not None:
                first = a.street.split(",")[0].strip()
                bkey = cat.entity(street_key(first), "ADDRESS", first)
                cat.terms.append(Term(base, bkey, "ADDRESS", first, PRIORITY_DERIVED))
                cat.needles.append(("ADDRESS", first))
            if a.postal_code and a.postal_code.strip():
                # The postal code is its own entity: "[ADDRESS_1], Tucson, AZ 85705" would still narrow the street
                # down to a few blocks. City and state stay (docs/PRIVACY.md).
                code = a.postal_code.strip()
                zkey = cat.entity(postal_key(code), "ADDRESS", code)
                cat.terms.append(Term(postal_pattern(code), zkey, "ADDRESS", code, PRIORITY_LISTED))
                cat.needles.append(("ADDRESS", code))
        for phone in p.phones:
            key = cat.entity(phone_key(phone), "PHONE", phone)
            ds = digits(phone)
            pattern = digit_pattern(ds[1:] if len(ds) == 11 and ds.startswith("1") else ds)
            cat.terms.append(Term(r"(?:\+?1[\s.\-]?)?" + pattern if len(ds) == 10 else r"\+?" + pattern,
                                  key, "PHONE", phone, PRIORITY_LISTED))
            cat.needles.append(("PHONE", phone))
        for email in p.emails:
            key = cat.entity(f"email:{email.casefold()}", "EMAIL", email)
            cat.terms.append(Term(BEFORE + re.escape(fold(email)) + AFTER, key, "EMAIL", email, PRIORITY_LISTED))
            cat.needles.append(("EMAIL", email))
    return cat
