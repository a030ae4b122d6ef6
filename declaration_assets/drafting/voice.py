"""Whose voice a sentence is in: how others name the declarant, which documents are written about her by someone
else, and a first-person clause borrowed from such a passage (their "I" is not hers)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..cases.models import CaseRecord
from ..text import WORD_RE, fold, strip_citations
from ..text import words as folded_words

THIRD_PERSON_DECLARANT_RE = re.compile(
    r"\bthe (declarant|self-petitioner|petitioner|applicant|victim|survivor|affiant)\b|\bclients?\b", re.I
)
# Name particles that say nothing about who is meant ("Dela Cruz", "de la Torre").
_NAME_PARTICLES = {"de", "del", "dela", "la", "las", "los", "da", "das", "do", "dos", "di", "van", "von", "y", "e"}
# Singular only: a lease's or a joint letter's "we" may well include the declarant.
_FIRST_PERSON_SINGULAR = {"i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll"}
# "I, Lucía Montoya, ..." / "My name is ...": the passage is the declarant's own statement.
_SELF_NAMING_RE = re.compile(r"\b(?:i,|my name is|me llamo|yo,)\s+([^\W\d_]+)")
_HONORIFICS = ("ms", "mrs", "miss", "mr", "senora", "sra", "senorita", "srta", "sr", "dona", "don")


def _name_text(text: str) -> str:
    return " ".join(folded_words(text))


def declarant_name_words(record: CaseRecord) -> frozenset[str]:
    """How a third party names the declarant, folded: her full name and aliases, her first given name, and an
    honorific with a surname ("ms montoya"). Words another party's name shares are left out, and so are her middle
    names alone (a church called "Nueva Esperanza" is not her). In her own voice she is "I", so a first-person
    sentence that names her is someone else speaking about her."""
    try:
        own = record.declarant
    except ValueError:
        return frozenset()
    others = {w for p in record.parties if p is not own for n in p.all_names() for w in folded_words(n)}
    out: set[str] = set()
    for name in own.all_names():
        parts = [w for w in folded_words(name) if len(w) >= 3 and w not in _NAME_PARTICLES]
        if not parts:
            continue
        out.add(_name_text(name))
        if parts[0] not in others:
            out.add(parts[0])
        for surname in parts[1:]:
            if surname not in others:
                out.update(f"{h} {surname}" for h in _HONORIFICS)
    return frozenset(n for n in out if n)


def names_declarant(text: str, name_words: frozenset[str]) -> bool:
    if not name_words:
        return False
    padded = f" {_name_text(strip_citations(text))} "
    return any(f" {n} " in padded for n in name_words)


def _inside_quotes(text: str, pos: int) -> bool:
    before = text[:pos]
    return before.count('"') % 2 == 1 or before.count("\u201c") > before.count("\u201d")


def speaks_of_declarant(text: str, name_words: frozenset[str]) -> bool:
    """Whether `text` refers to the declarant in the third person (by name, or as the client, applicant, victim
    ...) and is not her own statement ("I, Lucía Montoya, ..." / "My name is ...")."""
    folded = fold(text)
    if not (THIRD_PERSON_DECLARANT_RE.search(folded) or names_declarant(folded, name_words)):
        return False
    return not any(m.group(1) in name_words for m in _SELF_NAMING_RE.finditer(folded))


def third_party_documents(pages: Iterable[tuple[str, str]], name_words: frozenset[str]) -> frozenset[str]:
    """Documents written about the declarant by someone else: a letter, a report, a certificate. Their text
    refers to her in the third person, and most of their "I" stands outside quotation marks (an intake
    questionnaire quotes her answers; a counselor's letter speaks for the counselor)."""
    text_of: dict[str, list[str]] = {}
    for document, text in pages:
        text_of.setdefault(document, []).append(text)
    out = set()
    for document, texts in text_of.items():
        inside = outside = 0
        for text in texts:
            folded = fold(text)
            for m in WORD_RE.finditer(folded):
                if m.group(0) in _FIRST_PERSON_SINGULAR:
                    if _inside_quotes(folded, m.start()):
                        inside += 1
                    else:
                        outside += 1
        if outside and outside >= inside and speaks_of_declarant("\n".join(texts), name_words):
            out.add(document)
    return frozenset(out)


def borrowed_voice(sentence: str, passage: str, name_words: frozenset[str], span: int = 4, *,
                   third_party: bool = False) -> bool:
    """True when `sentence` repeats a first-person clause ("I was present at ...") of a passage whose author is
    someone else, and the clause is not a quotation of her words there. The passage is someone else's when its
    document is (`third_party`, see `third_party_documents`) or when it speaks of the declarant in the third
    person itself. A counselor's, officer's or attorney's "I" is theirs, not the declarant's."""
    if not (third_party or speaks_of_declarant(passage, name_words)):
        return False
    folded = fold(passage)
    said = folded_words(strip_citations(sentence))
    tokens = list(WORD_RE.finditer(folded))
    plain = [t.group(0) for t in tokens]
    for i, w in enumerate(said):
        if w not in _FIRST_PERSON_SINGULAR or i + span > len(said):
            continue
        clause = said[i:i + span]
        for j in range(len(plain) - span + 1):
            if plain[j:j + span] == clause and not _inside_quotes(folded, tokens[j].start()):
                return True
    return False
