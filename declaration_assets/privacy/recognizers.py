"""Pattern recognizers for identifiers that documents carry beyond what `case.yaml` lists.

Hand-written rather than Microsoft Presidio: Presidio's analyzer needs a spaCy language model, a hub download this
project cannot make at run time (no network besides package indexes, no weights outside installed packages). The
identifiers it would find by pattern are few and regular, so plain regular expressions cover them; names that occur
only in the documents are out of reach without a named-entity model, which is why a case whose `case.yaml` lists
no parties is refused on external routes.

Every recognizer runs on the folded text (`text.fold`) and returns spans with an entity key, so the same phone
written "(713) 555-0142" and "713.555.0142" is one entity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .text import digits, match_key

STREET_SUFFIXES = {
    "street": "st", "st": "st", "avenue": "ave", "ave": "ave", "av": "ave", "road": "rd", "rd": "rd",
    "drive": "dr", "dr": "dr", "boulevard": "blvd", "blvd": "blvd", "lane": "ln", "ln": "ln", "court": "ct",
    "ct": "ct", "way": "way", "place": "pl", "pl": "pl", "parkway": "pkwy", "pkwy": "pkwy", "highway": "hwy",
    "hwy": "hwy", "circle": "cir", "cir": "cir", "terrace": "ter", "ter": "ter", "trail": "trl", "trl": "trl",
}
DIRECTIONS = {"north": "n", "south": "s", "east": "e", "west": "w", "n": "n", "s": "s", "e": "e", "w": "w"}
UNIT_WORDS = r"(?:Apt|Apartment|Suite|Ste|Unit|Room|Rm|Depto|Departamento|Interior|Int)"

_SUFFIX_ALT = "|".join(sorted({k for k in STREET_SUFFIXES}, key=len, reverse=True))
_STREET = re.compile(
    r"(?<![\w\-/.])\d{1,6}(?:-\d{1,4})?\s+"
    r"(?:(?:North|South|East|West|[NSEW])\.?\s+)?"
    r"(?:(?:[A-Z][A-Za-z'\-]*\.?|\d{1,3}(?:st|nd|rd|th))\s+){0,4}?"
    rf"(?:{_SUFFIX_ALT.title()}|{_SUFFIX_ALT.upper()}|{_SUFFIX_ALT})\.?(?![\w])"
    rf"(?:\s*,?\s*{UNIT_WORDS}\.?\s*#?\s*[\w-]+|\s*,?\s*#\s*[\w-]+)?"
)
_STREET_ES = re.compile(
    r"(?<![\w])(?:Calle|Avenida|Av\.|Carrera|Cra\.|Privada|Callejon|Camino|Colonia|Col\.)\s+"
    r"(?:[A-Z][A-Za-z'\-]*\.?\s+){0,4}?(?:No\.?\s*|#\s*)?\d{1,5}(?![\w])"
)
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w])")
_A_NUMBER = re.compile(
    r"(?<![\w])A\s*(?:-|#|:|No\.?|Number:?)?\s*(?:\d{3}[\s-]?\d{3}[\s-]?\d{3}|\d{8})(?![\w-])", re.IGNORECASE
)
_SSN = re.compile(r"(?<![\w-])\d{3}[-\s]\d{2}[-\s]\d{4}(?![\w-])")
_PHONE_US = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s*|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"
)
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?![\w-])")
# Passport-like: one to four capital letters then 6-10 digits, maybe a trailing letter (AR418273, G18472095).
_PASSPORT = re.compile(r"(?<![A-Za-z0-9-])[A-Z]{1,4}\d{6,10}[A-Z]?(?![A-Za-z0-9])")
# Long bare numbers (9-12 digits) are identifiers in this material (I-94, passport, A-number without prefix).
_LONG_NUMBER = re.compile(r"(?<![\d,.$\w-])\d{9,12}(?![\d\w-]|[.,]\d)")


def phone_key(text: str) -> str:
    ds = digits(text)
    if len(ds) == 11 and ds.startswith("1"):
        ds = ds[1:]
    return f"phone:{ds}"


def a_number_key(text: str) -> str:
    return f"anum:{digits(text).zfill(9)}"


def street_key(text: str) -> str:
    """'7340 Gulfton Drive, Apt. 208' and '7340 gulfton dr apt 208' give the same key."""
    words = re.findall(r"[a-z0-9#]+", match_key(text))
    out = []
    for w in words:
        w = STREET_SUFFIXES.get(w, DIRECTIONS.get(w, w))
        if w in ("apartment", "apt", "suite", "ste", "unit", "room", "rm", "#"):
            w = "unit"
        out.append(w)
    return "addr:" + " ".join(out)


def postal_key(code: str) -> str:
    """'85705', '85705-1234' and '85705 1234' are one ZIP code; other postal codes compare by letters and digits."""
    alnum = "".join(c for c in code.upper() if c.isalnum())
    return f"zip:{alnum[:5] if alnum.isdigit() and len(alnum) in (5, 9) else alnum}"


def postal_pattern(code: str) -> str:
    """A listed postal code as a whole token: a US ZIP with or without its +4 extension; other codes with any
    spacing or hyphen between their letters and digits ('SW1A 1AA', 'sw1a1aa')."""
    alnum = "".join(c for c in code if c.isalnum())
    if alnum.isdigit() and len(alnum) in (5, 9):
        return rf"(?<![\w-]){re.escape(alnum[:5])}(?:[\s-]?\d{{4}})?(?![\w-])"
    return r"(?<![\w-])" + r"[\s-]?".join(re.escape(c) for c in alnum) + r"(?![\w-])"


@dataclass(frozen=True)
class Recognizer:
    kind: str
    pattern: re.Pattern[str]
    key: Callable[[str], str]


RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer("EMAIL", _EMAIL, lambda s: f"email:{s.casefold()}"),
    Recognizer("A_NUMBER", _A_NUMBER, a_number_key),
    Recognizer("SSN", _SSN, lambda s: f"ssn:{digits(s)}"),
    Recognizer("PHONE", _PHONE_US, phone_key),
    Recognizer("PHONE", _PHONE_INTL, phone_key),
    Recognizer("ADDRESS", _STREET, street_key),
    Recognizer("ADDRESS", _STREET_ES, street_key),
    Recognizer("PASSPORT", _PASSPORT, lambda s: f"id:{s.upper()}"),
    Recognizer("ID", _LONG_NUMBER, lambda s: f"id:{digits(s)}"),
)


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    kind: str
    key: str
    text: str


def recognize(folded: str) -> Iterator[Found]:
    """Every recognizer hit in the folded text (overlaps included; the redactor keeps the longest)."""
    for r in RECOGNIZERS:
        for m in r.pattern.finditer(folded):
            s = m.group(0).rstrip(" ,")
            if r.kind == "PHONE" and len(digits(s)) < 10:
                continue
            yield Found(m.start(), m.start() + len(s), r.kind, r.key(s), s)
