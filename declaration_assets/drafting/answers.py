"""A model answer's text: what is not a sentence of the declaration (reasoning blocks, markdown, labels copied
from the prompt, chatter), and a kept sentence finished with its citations."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..text import THINK_RE, strip_citations
from .models import Citation

_CHATTER_RE = re.compile(
    r"^(sure|certainly|okay|ok|of course|here is|here are|here's|below is|as an ai|i am an ai|i'm an ai|"
    r"i hope|i cannot|i can't|i can not|i'm sorry|i am sorry|note:|please note|in summary|to summarize|"
    r"this (statement|declaration|section|part)|the (passage|passages|evidence|text|document|record)s? "
    r"(show|shows|say|says|state|states|indicate|indicates|mention|mentions)|based on (the|these|this)|"
    r"according to the (passage|evidence|record)|let me|i will (now )?write|i have written|"
    r"write \d|sentence \d|label|rewrite|now my notes|notes? from my file|"
    r"i(?:'m| am) (?:writing|here to|excited|happy to|glad to|ready|going to (?:write|share|tell))|"
    r"i(?: would|'d) (?:like|love) to (?:share|tell|write|inform)|thank you|thanks)",
    re.I,
)
_HEADING_RE = re.compile(r"^\s*#{1,6}\s")
_MARKDOWN_RE = re.compile(r"^\s*([-*\u2022]\s+|\d{1,2}[.)]\s+|>\s*)")
_LABEL_RE = re.compile(r"^\s*(sentences?|answer|statement|rewrite|output)\s*:\s*", re.I)


def clean_answer(text: str) -> str:
    """Remove reasoning blocks, markdown markers and labels the model copied from the prompt."""
    text = THINK_RE.sub("", text).replace("**", "").replace("__", "")
    lines = []
    for line in text.splitlines():
        if _HEADING_RE.match(line):
            continue  # a heading is never a sentence of the declaration
        line = _LABEL_RE.sub("", _MARKDOWN_RE.sub("", line)).strip()
        if line:
            # A line break ends a sentence even when the model forgot the full stop.
            lines.append(line if re.search(r"[.!?\]\)\"'\u201d]$", line) else line + ".")
    return " ".join(" ".join(lines).split())


def is_chatter(sentence: str) -> bool:
    s = strip_citations(sentence).strip(" \"'\u201c\u201d")
    return bool(_CHATTER_RE.match(s)) or "passage" in s.lower() or "[label" in s.lower()


# A quotation mark, not an apostrophe: "didn't" and a plural possessive ("the traffickers' control") stay.
_QUOTE_MARK_RE = re.compile(r"(?<![A-Za-z\u00C0-\u024F])'|(?<![sS])'(?![A-Za-z\u00C0-\u024F])")


def balance_quotes(text: str) -> str:
    """Remove quotation marks left unpaired by sentence splitting (apostrophes, as in "didn't", stay)."""
    doubles = re.findall(r"[\"\u201c\u201d]", text)
    if len(doubles) % 2:
        text = re.sub(r"[\"\u201c\u201d]", "", text)
    singles = _QUOTE_MARK_RE.findall(text)
    if len(singles) % 2:
        text = _QUOTE_MARK_RE.sub("", text)
    return re.sub(r"\s{2,}", " ", text)


def finish_sentence(body: str, citations: Sequence[Citation]) -> str:
    """`I met him in 2018 [Ex. A, p. 1].` (citations before the closing punctuation, each once)."""
    body = balance_quotes(body.strip()).strip()
    if len(body) > 1 and body[0] in "\"\u201c'" and body[-1] in "\"\u201d'":
        body = body[1:-1].strip()
    m = re.match(r"^(.*?)([.!?]*)$", body, re.S)
    assert m is not None
    text, punct = m.group(1).rstrip(" ,;:"), (m.group(2) or ".")[:1]
    labels = " ".join(dict.fromkeys(c.label() for c in citations))
    return f"{text} {labels}{punct}" if labels else f"{text}{punct}"

