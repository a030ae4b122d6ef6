"""Per-page language identification (py3langid, offline: its model ships inside the package) and the Tesseract
language data each language needs."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

# The languages a page may be labelled with: those the project names for declarants and exhibits, plus the
# European languages an exhibit commonly arrives in. A closed set keeps short pages from being labelled with a
# language no case will ever hold (py3langid knows 97).
LANGUAGES = ("en", "es", "pt", "fr", "de", "it", "nl", "pl", "ro", "ht", "zh", "vi", "ko", "tl", "ar", "ru", "hi",
             "uk", "qu")
# Tesseract's traineddata name for each language (ISO 639-1 -> Tesseract code).
TESSERACT_CODES = {
    "en": "eng", "es": "spa", "pt": "por", "fr": "fra", "de": "deu", "it": "ita", "nl": "nld", "pl": "pol",
    "ro": "ron", "ht": "hat", "zh": "chi_sim", "vi": "vie", "ko": "kor", "tl": "tgl", "ar": "ara", "ru": "rus",
    "hi": "hin", "uk": "ukr", "qu": "que",
}
UNDETERMINED = "und"
MIN_LETTERS = 40  # fewer letters than this (a page of numbers, a signature page) is "und"
MIN_PROBABILITY = 0.9

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(LANGUAGES))
    return ident


def detect_language(text: str) -> str:
    """An ISO 639-1 code from LANGUAGES, or 'und' when the page has too few letters or the guess is unsure."""
    if len(_LETTER.findall(text)) < MIN_LETTERS:
        return UNDETERMINED
    lang, prob = _identifier().classify(text)
    return str(lang) if prob >= MIN_PROBABILITY else UNDETERMINED


def has_ocr_data(language: str, tessdata: str | None) -> bool:
    """Whether Tesseract's data for `language` is installed ('und' and unknown codes count as covered: there is
    nothing specific to install)."""
    code = TESSERACT_CODES.get(language)
    if code is None or tessdata is None:
        return code is None
    return (Path(tessdata) / f"{code}.traineddata").is_file()
