"""Text folding and flexible patterns shared by the recognizers and the case catalogue.

Matching happens on a *folded* copy of the text: NFC-normalized, each accented letter replaced by its base letter
("María" -> "Maria"), same length as the NFC text, so a span found in the folded copy is the same span in the text
that is sent. Patterns are built from folded strings and compiled case-insensitive unless stated otherwise.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

WS = r"\s+"  # between tokens of a name: spaces, tabs and line breaks
HYPHEN = r"\s*[-\u2010\u2011\u2012\u2013]\s*"
APOSTROPHE = r"['\u2019\u02bc]"
# Word boundaries that treat accented letters as letters (folding makes them ASCII anyway).
BEFORE = r"(?<![\w])"
AFTER = r"(?![\w])"


@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    if c.isascii():
        return c
    base = unicodedata.normalize("NFD", c)
    stripped = "".join(ch for ch in base if not unicodedata.combining(ch))
    return stripped if len(stripped) == 1 else c


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Accents removed, one character for one character of `nfc(text)`."""
    return "".join(_fold_char(c) for c in nfc(text))


def collapse(text: str) -> str:
    return " ".join(text.split())


def match_key(text: str) -> str:
    """Comparison key: folded, case-folded, whitespace collapsed."""
    return collapse(fold(text)).casefold()


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _token_pattern(token: str) -> str:
    """One whitespace-free token: hyphens may be spaces or line breaks, apostrophes any quote, dots followed by space."""
    out: list[str] = []
    for i, c in enumerate(token):
        if c in "-\u2010\u2011\u2012\u2013":
            out.append(rf"(?:{HYPHEN}|{WS})")
        elif c in "'\u2019\u02bc":
            out.append(APOSTROPHE)
        elif c == "." and i < len(token) - 1:
            out.append(r"\.\s*")
        elif c == ",":
            out.append(r"\s*,")
        else:
            out.append(re.escape(c))
    return "".join(out)


def phrase_pattern(phrase: str) -> str:
    """A flexible pattern for a name or phrase (folded): any whitespace between tokens, hyphen/space equivalence."""
    tokens = fold(phrase).split()
    return WS.join(_token_pattern(t) for t in tokens)


def bounded(pattern: str) -> str:
    return f"{BEFORE}(?:{pattern}){AFTER}"


def digit_pattern(number: str, allow_sep: str = r"[\s().\-/]{0,2}") -> str:
    """Digits of `number` with up to two separator characters between any two of them, not inside a longer number."""
    ds = digits(number)
    return r"(?<!\d)" + allow_sep.join(ds) + r"(?!\d)"


def alnum_pattern(value: str) -> str:
    """An ID like 'AR418273', 'EECH-0558213' or 'A-245-118-907': its letters and digits, optional separators."""
    chars = [c for c in fold(value) if c.isalnum()]
    return r"(?<![A-Za-z0-9])" + r"[\s\-./]?".join(re.escape(c) for c in chars) + r"(?![A-Za-z0-9])"
