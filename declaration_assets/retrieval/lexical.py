"""Lexical retrieval: BM25 (the `bm25s` library) over the chunk texts kept in the `chunk_index` value.

Dense retrieval with all-MiniLM-L6-v2 reads English only: a Spanish passage (interview notes taken in the
declarant's language) sits far from every English query. BM25 matches words, so a query written in the
declarant's language finds it. Text is folded (lower case, accents removed, so "policía" = "policia"), English
and Spanish stopwords are dropped, and each word is stemmed with the Snowball stemmer of its text's language
("golpes", "golpear" -> "golp"; "threatened", "threatening" -> "threaten").

The documents holding the declarant's own account (intake or interview notes) are recognised here too, by their
file name or headings (`own_account_documents`), for the fusion's prior (`retrieval.hybrid`).

The index is rebuilt from the chunks on first use (a case holds hundreds of chunks: milliseconds), so it needs
no new field in the persisted value and can never disagree with the chunks it ranks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ..extraction.language import detect_language
from .models import Chunk

_TOKEN = re.compile(r"[a-z0-9]+")
# Snowball stemmer names per ISO 639-1 code; any other language (or 'und') keeps English stemming.
STEMMER_LANGUAGES = {"en": "english", "es": "spanish"}
DEFAULT_LANGUAGE = "en"


def fold(text: str) -> str:
    """Lower case without accents: 'María Policía' -> 'maria policia' (ñ folds to n)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """English and Spanish stopwords (bm25s's lists), folded like the text they filter."""
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_SPANISH

    return frozenset(fold(w) for w in (*STOPWORDS_EN, *STOPWORDS_SPANISH))


@lru_cache(maxsize=8)
def _stemmer(language: str):  # snowballstemmer's stemmer objects are untyped
    import snowballstemmer

    return snowballstemmer.stemmer(STEMMER_LANGUAGES.get(language, STEMMER_LANGUAGES[DEFAULT_LANGUAGE]))


def tokenize(text: str, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """Folded, stopword-free, stemmed word tokens of `text` written in `language`."""
    stop = stopwords()
    words = [w for w in _TOKEN.findall(fold(text)) if w not in stop]
    return list(_stemmer(language).stemWords(words)) if words else []


def lexical_text(chunk: Chunk) -> str:
    """What BM25 indexes for a chunk: its document's file name words, its heading, and its text (the same
    context the dense embedding gets, so "notas de entrevista" finds every page of the interview notes)."""
    name = re.sub(r"^\d+[-_ ]*", "", chunk.document.rsplit(".", 1)[0]).replace("-", " ").replace("_", " ")
    parts = [name, chunk.heading or "", chunk.text]
    return "\n".join(p for p in parts if p)


def chunk_language(chunk: Chunk) -> str:
    lang = detect_language(chunk.text)
    return lang if lang in STEMMER_LANGUAGES else DEFAULT_LANGUAGE


# Words (folded) in a document's file name or headings that mark it as the declarant's own account: what she told
# the legal team in an intake or an interview, in English or Spanish. Her account is the backbone of every section.
OWN_ACCOUNT_MARKERS = (
    "intake", "interview", "questionnaire", "personal statement", "client statement", "declarant statement",
    "entrevista", "cuestionario", "declaracion personal", "relato",
)


def own_account_documents(chunks: Sequence[Chunk]) -> set[str]:
    """The documents that hold the declarant's own account, by the markers in their file name or headings."""
    out: set[str] = set()
    for c in chunks:
        words = " ".join(_TOKEN.findall(fold(f"{c.document} {c.heading or ''}")))
        if any(marker in words for marker in OWN_ACCOUNT_MARKERS):
            out.add(c.document)
    return out


class LexicalIndex:
    """BM25 over a case's chunks; `scores(query)` gives every chunk's score (0 where no query word occurs)."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        import bm25s

        self.size = len(chunks)
        own = own_account_documents(chunks)
        self.own_account = frozenset(i for i, c in enumerate(chunks) if c.document in own)
        corpus = [tokenize(lexical_text(c), chunk_language(c)) for c in chunks]
        # bm25s rejects an empty vocabulary; a case whose chunks have no indexable word scores 0 everywhere.
        self._bm25 = None
        if any(corpus):
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query`.

        A query is short and may mix languages (a Spanish query naming "Pasadena Police"), so each of its words
        is stemmed in every supported language and the forms the corpus knows are kept.
        """
        if self._bm25 is None:
            return np.zeros(self.size, dtype=np.float32)
        vocab = self._bm25.vocab_dict
        tokens = dict.fromkeys(t for lang in STEMMER_LANGUAGES for t in tokenize(query, lang))
        known = [t for t in tokens if t in vocab]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def rank(self, query: str, limit: int) -> list[tuple[int, float]]:
        """(chunk position, score) of the best `limit` chunks with a positive score, best first (ties: document
        order)."""
        s = self.scores(query)
        hits = np.flatnonzero(s > 0)
        ordered = sorted(hits.tolist(), key=lambda i: (-float(s[i]), i))[:limit]
        return [(i, float(s[i])) for i in ordered]
