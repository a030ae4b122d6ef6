"""The case record as the guards see it: normalised dates, names, addresses, phones and ID numbers.

The record is `case.yaml` (parties) plus the extracted text of the case's documents. Everything here is pure.

Date, phone, address and ID recognition is hand-written with regular expressions: `dateutil` cannot find
dates inside running text with their spans and knows no Spanish month names, and the pattern recognizers of
redaction libraries need spaCy models that this project cannot download at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from ..cases.models import CaseRecord
from ..extraction.models import ExtractedCase
from ..text import WORD_RE, fold, words

# --- dates ------------------------------------------------------------------------------------------------------

MONTHS: dict[str, int] = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10,
    "nov": 11, "dec": 12,
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8,
    "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
}
_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th|º|o)?"

DATE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"(?<![\d-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d-])")),
    ("numeric", re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\d/])")),
    ("month_day_year", re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+(\d{{4}})\b", re.I)),
    # "14 March 2019", "14 de marzo de 2019", and the certificates' "the 14th day of June, 2012"
    ("day_month_year", re.compile(rf"\b{_DAY}\s+(?:day\s+of\s+|of\s+|de\s+)?{_MONTH},?\s+(?:de\s+|del\s+)?(\d{{4}})\b", re.I)),
]
MONTH_YEAR_PATTERN = re.compile(rf"\b{_MONTH},?\s+(?:of\s+|de\s+|del\s+)?(\d{{4}})\b", re.I)


@dataclass(frozen=True)
class DateMention:
    start: int
    end: int
    text: str
    days: frozenset[date] = frozenset()  # full dates it may denote (numeric dates can be read two ways)
    month: tuple[int, int] | None = None  # (year, month) for "March 2018" / "marzo de 2018"


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _year(y: str) -> int:
    n = int(y)
    return n + (2000 if n < 50 else 1900) if len(y) == 2 else n


def find_dates(text: str) -> list[DateMention]:
    """Every date in `text`: full dates in the usual English, numeric and Spanish forms, then month-and-year."""
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in taken)

    for kind, pat in DATE_PATTERNS:
        for m in pat.finditer(text):
            if not free(m.start(), m.end()):
                continue
            g = m.groups()
            cands: set[date] = set()
            if kind == "iso":
                d = _safe_date(int(g[0]), int(g[1]), int(g[2]))
                cands |= {d} if d else set()
            elif kind == "numeric":
                y = _year(g[2])
                for mm, dd in ((int(g[0]), int(g[1])), (int(g[1]), int(g[0]))):  # US first, then day/month
                    d = _safe_date(y, mm, dd)
                    if d:
                        cands.add(d)
            elif kind == "month_day_year":
                d = _safe_date(int(g[2]), MONTHS[g[0].lower()], int(g[1]))
                cands |= {d} if d else set()
            else:
                d = _safe_date(int(g[2]), MONTHS[g[1].lower()], int(g[0]))
                cands |= {d} if d else set()
            if cands:
                found.append(DateMention(m.start(), m.end(), m.group(0), days=frozenset(cands)))
                taken.append((m.start(), m.end()))
    for m in MONTH_YEAR_PATTERN.finditer(text):
        if free(m.start(), m.end()):
            found.append(DateMention(m.start(), m.end(), m.group(0), month=(int(m.group(2)), MONTHS[m.group(1).lower()])))
            taken.append((m.start(), m.end()))
    return sorted(found, key=lambda d: d.start)


# --- phones, addresses, ID numbers -------------------------------------------------------------------------------

PHONE_RE = re.compile(r"(?<![\w-])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?![\w-])")

STREET_SUFFIXES = {
    "street": "st", "st": "st", "road": "rd", "rd": "rd", "drive": "dr", "dr": "dr", "avenue": "ave", "ave": "ave",
    "av": "ave", "boulevard": "blvd", "blvd": "blvd", "lane": "ln", "ln": "ln", "way": "way", "court": "ct",
    "ct": "ct", "place": "pl", "pl": "pl", "parkway": "pkwy", "pkwy": "pkwy", "highway": "hwy", "hwy": "hwy",
    "circle": "cir", "cir": "cir", "freeway": "fwy", "fwy": "fwy", "trail": "trl", "trl": "trl",
    "terrace": "ter", "ter": "ter",
}
ADDRESS_RE = re.compile(
    r"\b\d{1,6}\s+(?:[A-Z0-9][\w'.-]*\s+){1,4}?(?:" + "|".join(sorted(STREET_SUFFIXES, key=len, reverse=True)) + r")\b\.?",
    re.I,
)
# Numbers of 5+ digits, optionally with a short letter prefix and dashes: A-numbers, passports, case and incident numbers.
ID_RE = re.compile(r"(?<![\w$,.-])(?:[A-Z]{1,3}[-#]?\s?)?\d[\d-]{3,}\d[A-Z]?(?![\w,-])")
EMAIL_OR_URL_RE = re.compile(r"\S+@\S+|\bhttps?://\S+|\bwww\.\S+", re.I)
YEAR_RANGE_RE = re.compile(r"^\d{4}-\d{2,4}$")


def normalise_address(text: str) -> str:
    ws = re.findall(r"[a-z0-9]+", fold(text))
    return " ".join(STREET_SUFFIXES.get(w, w) for w in ws)


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def alnum(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def find_ids(text: str) -> list[re.Match[str]]:
    out = []
    for m in ID_RE.finditer(text):
        token = m.group(0)
        if len(digits(token)) < 5 or YEAR_RANGE_RE.match(token):
            continue
        out.append(m)
    return out


# --- the record ------------------------------------------------------------------------------------------------


@dataclass
class CaseFacts:
    """What the record contains, normalised for lookups. Built once per case by `build_case_facts`."""

    text: str  # folded record text (case.yaml strings and every extracted page)
    address_text: str  # the record text with street suffixes normalised ("Street" == "St")
    vocabulary: set[str]  # every folded word of the record
    lowercase_words: set[str]  # words the record uses in lower case (common words, not names)
    party_name_tokens: list[set[str]]  # per party: the folded tokens of its names and aliases
    days: set[date]
    months: set[tuple[int, int]]
    phones: set[str]  # last 10 digits
    ids: set[str]  # upper-case alphanumerics of every ID-like token
    id_digits: set[str]
    exhibits: dict[str, int] = field(default_factory=dict)  # exhibit letter -> page count
    page_days: dict[tuple[str, int], set[date]] = field(default_factory=dict)  # (exhibit, page) -> its dates


def _record_strings(record: CaseRecord) -> list[str]:
    """case.yaml's identifying strings, plus what the guards also accept as record facts: whole addresses
    (city, state, postal code) and citizenships."""
    out = record.sensitive_strings()
    out += [a.one_line() for p in record.parties for a in p.addresses]
    out += [p.citizenship for p in record.parties if p.citizenship]
    return out


def build_case_facts(
    record: CaseRecord | None, extracted: ExtractedCase | None, exhibits: dict[str, int] | None = None
) -> CaseFacts:
    """The record's facts. `exhibits` (letter -> pages) defaults to the extracted documents."""
    parts = _record_strings(record) if record else []
    if extracted is not None:
        parts.append(extracted.all_text())
    raw = "\n".join(parts)
    days: set[date] = set()
    months: set[tuple[int, int]] = set()
    for d in find_dates(raw):
        days |= d.days
        if d.month:
            months.add(d.month)
    if record:
        days |= {p.date_of_birth for p in record.parties if p.date_of_birth}
    months |= {(d.year, d.month) for d in days}
    ids = {alnum(m.group(0)) for m in find_ids(raw)}
    if record:
        for p in record.parties:
            ids |= {alnum(x) for x in (p.a_number, *p.other_ids.values()) if x}
    party_tokens = [set(words(" ".join(p.all_names()))) for p in (record.parties if record else ())]
    without_addresses = EMAIL_OR_URL_RE.sub(" ", raw)
    lowercase_words = {m.group(0).casefold() for m in WORD_RE.finditer(without_addresses) if m.group(0).islower()}
    if exhibits is None:
        exhibits = {d.exhibit: d.pages for d in extracted.documents} if extracted is not None else {}
    page_days: dict[tuple[str, int], set[date]] = {}
    if extracted is not None:
        letters = {d.name: d.exhibit for d in extracted.documents}
        for page in extracted.pages:
            if letters.get(page.document):
                key = (letters[page.document], page.page)
                page_days.setdefault(key, set()).update(x for m in find_dates(page.text) for x in m.days)
    return CaseFacts(
        text=fold(raw),
        address_text=normalise_address(raw),
        vocabulary=set(words(raw)),
        lowercase_words=lowercase_words - set().union(*party_tokens),
        party_name_tokens=party_tokens,
        days=days,
        months=months,
        phones={digits(m.group(0))[-10:] for m in PHONE_RE.finditer(raw)}
        | {digits(ph)[-10:] for p in (record.parties if record else ()) for ph in p.phones},
        ids=ids,
        id_digits={digits(i) for i in ids},
        exhibits=dict(exhibits),
        page_days=page_days,
    )
