"""Grounding: is a drafted sentence the declarant's, and does the case record bear it out?

How support is decided (the mechanism, in order):
1. Names and numbers are checked against the whole record: case.yaml (parties, aliases, IDs, addresses) and
   every passage shown for the element, with normalisation (accents, possessives, state abbreviations, titles
   and honorifics, numerals and number words, "U.S." / "United States" / "America"). One unknown is a drop.
2. Meaning, by word overlap (light-stemmed content words and numbers) with a shown passage, or with a page the
   sentence cites (a real page of the case supports it even when it was not shown).
3. Across languages word overlap cannot judge: when the passages a sentence cites are in another language than
   the sentence (Spanish interview notes, an English declaration), the sentence is kept only when its names,
   numbers and dates passed step 1, and it carries a visible `unverified` flag in the review notes. A
   `SupportVerifier` (entailment asked of the guard or a judge role on a capable route) is the place where a
   model may settle those; without one, nothing is settled silently.
Each kept citation is checked against its own page the same way: a citation to a page in the sentence's language
that shares nothing with it is removed (and said so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..cases.models import CaseRecord
from ..text import (
    content_words,
    fold,
    language_of,
    numbers_in,
    record_knows_word,
    sentence_numbers,
    strip_citations,
    vocabulary,
    words,
)
from .models import Citation


class SupportVerifier(Protocol):
    """Says whether `passages` support `sentence` in meaning (True/False), or None when it cannot tell."""

    def supports(self, sentence: str, passages: Sequence[str]) -> bool | None: ...


@dataclass(frozen=True)
class GroundingRecord:
    """The case record as drafting checks it: case.yaml's vocabulary and numbers, the case's page texts."""

    vocab: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    page_texts: Mapping[Citation, str] = field(default_factory=dict)
    other_subjects: frozenset[str] = frozenset()  # folded first names of the other parties
    language: str = "en"

    @classmethod
    def from_case(cls, record: CaseRecord | None, page_texts: Mapping[Citation, str] | None = None) -> "GroundingRecord":
        strings: list[str] = []
        others: set[str] = set()
        language = "en"
        if record is not None:
            strings = list(record.sensitive_strings())
            strings += [a.one_line() for p in record.parties for a in p.addresses]
            strings += [p.citizenship for p in record.parties if p.citizenship]
            strings += [p.relationship for p in record.parties if getattr(p, "relationship", None)]
            language = record.language
            try:
                own = record.declarant
            except ValueError:
                own = None
            others = {words(p.name)[0] for p in record.parties if p is not own and words(p.name)}
        joined = "\n".join(strings)
        return cls(vocab=frozenset(vocabulary([joined])), numbers=frozenset(numbers_in(joined)),
                   page_texts=dict(page_texts or {}), other_subjects=frozenset(others), language=language)


_CAPITALIZED_OK = frozenset({
    "I", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    "God", "English", "Spanish", "Ex",
    # Plural weekdays and holidays: an English declaration names them however the (Spanish) notes do.
    "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays",
    "Christmas", "Eve", "Easter", "Thanksgiving", "New", "Year", "Year's", "Holy", "Week", "Mother's", "Day",
})


def unsupported_terms(sentence: str, evidence_text: str, record: GroundingRecord | None = None,
                      stopwords: frozenset[str] = frozenset()) -> list[str]:
    """Numbers and capitalised names of `sentence` that neither the evidence nor the record holds (likely invented).
    Without a `record`, the evidence alone (and no normalisation beyond folding) decides."""
    import re

    body = strip_citations(sentence)
    known_numbers = numbers_in(evidence_text) | (set(record.numbers) if record else set())
    missing = [n for n in re.findall(r"\d+", body) if str(int(n)) not in known_numbers]
    vocab = vocabulary([evidence_text]) | (set(record.vocab) if record else set())
    first = re.match(r"\W*([\w\u00C0-\u024F'-]+)", body)
    first_word = first.group(1) if first else ""
    for w in re.findall(r"\b[A-Z\u00C0-\u00DE][\w\u00C0-\u024F'’-]*", body):
        if w in _CAPITALIZED_OK or w == first_word:
            continue
        if record is None:
            if fold(w) not in fold(evidence_text):
                missing.append(w)
        elif not record_knows_word(w, vocab) and not all(record_knows_word(part, vocab) for part in re.split(r"-", w)
                     if len(part) > 1 and not any(ch.isdigit() for ch in part)):  # numbers are checked above
            missing.append(w)
    return missing


# "as the victim of the assault", "I am the petitioner": a predicate about herself, not narration about her.
_PREDICATE_BEFORE = ("as", "am", "was", "be", "been", "being", "were")


def third_person_declarant(body: str, pattern) -> bool:  # pattern: compose's third-person regex
    from ..text import has_first_person

    for m in pattern.finditer(body):
        before = body[: m.start()].split()
        if has_first_person(body) and before and fold(before[-1]) in _PREDICATE_BEFORE:
            continue
        return True
    return False


_OBJECTS = {"me": "OBJ", "him": "OBJ", "her": "OBJ", "them": "OBJ", "us": "OBJ"}


def _normalised(ws: list[str]) -> list[str]:
    return [_OBJECTS.get(w, w) for w in ws]


def swapped_subject(body: str, sources: Sequence[str], other_subjects: frozenset[str] = frozenset(),
                    span: int = 3) -> bool:
    """True when the sentence says "I <clause>" where its passages say "he/<another party> <clause>" and none
    says "I <clause>": "he was kind and funny" must not become "I was kind and funny"."""
    said = _normalised(words(strip_citations(body)))
    clauses = [tuple(said[i + 1:i + 1 + span]) for i, w in enumerate(said) if w == "i" and i + span < len(said)]
    if not clauses:
        return False
    # "he" and the other parties' names: never the declarant. "she" may be the declarant herself in a report or a
    # letter about her ("she could not breathe" -> "I could not breathe" is her account, not a swap).
    subjects = {"he"} | set(other_subjects)
    for clause in clauses:
        other = mine = False
        for text in sources:
            ws = _normalised(words(text))
            for j in range(len(ws) - span):
                if tuple(ws[j + 1:j + 1 + span]) == clause:
                    if ws[j] == "i":
                        mine = True
                    elif ws[j] in subjects:
                        other = True
        if other and not mine:
            return True
    return False


def lexical_support(sentence: str, passage: str, min_overlap: int = 2, min_share: float = 0.4) -> bool:
    words_ = content_words(sentence)
    if not words_:
        return False
    overlap = len(words_ & content_words(passage))
    return overlap >= min(min_overlap, len(words_)) and overlap / len(words_) >= min_share


def page_supports(sentence: str, page_text: str) -> bool | None:
    """Whether a cited page bears the sentence out: True/False by shared content words and numbers when the page is
    in the sentence's language; None when it is not (word overlap cannot judge a translation)."""
    if language_of(page_text) not in ("en", "und"):  # the declaration is written in English
        return None
    shared = content_words(sentence) & content_words(page_text)
    return len(shared) >= 1 and bool(shared - set(sentence_numbers(sentence))) or len(shared) >= 2
