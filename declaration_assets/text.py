"""Text helpers shared by drafting and the guards: folding, words, sentences, citations, and the normalisation
that lets a sentence be compared with the case record (numbers and number words, states and their
abbreviations, titles and honorifics, accents, possessives, "U.S." / "United States" / "America").

Hand-written with regular expressions on purpose: the offline NLP libraries that split sentences or normalise
names need downloaded models or data, and the text here is short declaration prose whose hard cases
(abbreviations, our own citation labels) are listed below.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

# --- folding and words ----------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Case-folded, accent-free, whitespace-collapsed text ("Benítez" == "benitez")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", stripped.casefold().replace("’", "'")).strip()


WORD_RE = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")


def words(text: str) -> list[str]:
    return [fold(m.group(0)) for m in WORD_RE.finditer(text)]


def contains_phrase(haystack_folded: str, phrase: str) -> bool:
    """Whether `phrase` occurs in the folded haystack at word boundaries."""
    p = fold(phrase)
    if not p:
        return False
    return re.search(r"(?<!\w)" + re.escape(p) + r"(?!\w)", haystack_folded) is not None


def strip_possessive(token: str) -> str:
    return re.sub(r"['’]s$", "", token)


# --- model answers --------------------------------------------------------------------------------------------

# A reasoning model's `<think>...</think>` block (or an unterminated one): never part of an answer.
THINK_RE = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)


def strip_thinking(text: str) -> str:
    """Remove `<think>...</think>` blocks (and an unterminated one) from an answer."""
    return THINK_RE.sub("", text).strip() if "<think" in text.lower() else text


# --- exhibits ---------------------------------------------------------------------------------------------------


def exhibit_letter(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA', 27 -> 'AB' (spreadsheet-style lettering)."""
    if index < 0:
        raise ValueError("exhibit index must be >= 0")
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


# --- citations --------------------------------------------------------------------------------------------------

# The canonical label `[Ex. B, p. 2]`; `CITATION_ANY_RE` also takes the grouped `[Ex. A, p. 2; Ex. F, p. 1]`.
CITATION_RE = re.compile(r"\[Ex\. ([A-Z]{1,2}), p\. (\d{1,4})\]")
CITATION_ANY_RE = re.compile(r"\[\s*Ex(?:hibit|\.)?\s[^\]]*\]", re.I)


def strip_citations(text: str) -> str:
    out = CITATION_ANY_RE.sub("", text)
    out = re.sub(r"[ \t]+([.,;:!?])", r"\1", out)
    return re.sub(r"\s{2,}", " ", out).strip()


def comparable(sentence: str) -> str:
    """A sentence without its citations, whitespace collapsed: how two versions of one sentence are compared."""
    return " ".join(strip_citations(sentence).split())


# --- sentences --------------------------------------------------------------------------------------------------

ABBREVIATIONS = {  # a period after these (or a single letter) does not end a sentence
    "mr", "mrs", "ms", "dr", "st", "ave", "apt", "no", "jr", "sr", "inc", "co", "vs", "u.s", "ex", "p", "pp",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "blvd", "rd", "dept",
    "a.m", "p.m", "d.c", "u.s.a", "rev", "sra", "srta", "lic", "hon", "det", "sgt", "ofc", "approx", "etc",
}
_SPLIT_RE = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]*\s+")
_DOTTED_RE = re.compile(r"(?:[a-z]\.)+[a-z]")  # a.m, d.c, u.s.a: initialisms never end a sentence mid-text


def _is_abbreviation(word: str) -> bool:
    return word in ABBREVIATIONS or bool(re.fullmatch(r"[a-z]", word)) or bool(_DOTTED_RE.fullmatch(word))


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`; citations stay with the sentence they close; abbreviations ("a.m.", "D.C.", "Mr.")
    never end one."""
    protected: list[str] = []

    def protect(m: re.Match[str]) -> str:
        protected.append(m.group(0))
        return f"\x00{len(protected) - 1}\x00"

    body = CITATION_ANY_RE.sub(protect, text)
    pieces = _SPLIT_RE.split(body)
    merged: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if merged:
            last_word = merged[-1].rstrip(".!?\"'").rsplit(" ", 1)[-1].lower().rstrip(".").lstrip("\"'(\u201c\u2018")
            if _is_abbreviation(last_word) and not piece.startswith("\x00"):
                merged[-1] = f"{merged[-1]} {piece}"
                continue
        merged.append(piece)
    # A citation written after the full stop ("... 2018. [Ex. A, p. 1] Then ...") belongs to the sentence before.
    out: list[str] = []
    for s in merged:
        lead = re.match(r"^((?:\x00\d+\x00\s*[.!?]?\s*)+)(.*)$", s)
        if lead and out:
            out[-1] = f"{out[-1]} {lead.group(1).strip()}"
            s = lead.group(2).strip()
        if s:
            out.append(s)
    return [re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m.group(1))], s) for s in out]


def split_paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


# --- voice --------------------------------------------------------------------------------------------------------

# "I" followed by a hyphen or digit is a form number (I-94, I-914), not the pronoun.
FIRST_PERSON_RE = re.compile(
    r"\b(I|me|my|mine|myself|we|us|our|ours|ourselves)\b(?![-\u2010-\u2013]?\d)|\bI'(?:m|ve|d|ll)\b", re.I
)


def has_first_person(sentence: str) -> bool:
    # "US" is the country, not the pronoun.
    return any(m.group(0) != "US" for m in FIRST_PERSON_RE.finditer(strip_citations(sentence)))


# --- content words --------------------------------------------------------------------------------------------------

STOPWORDS = frozenset(
    """a an the and or but if then so to of in on at by for from with without into onto over under about after
    before during since until while as is are was were be been being am do does did have has had having i me my
    mine myself we us our you your he him his she her it its they them their this that these those there here
    what which who whom when where why how not no yes very also just than too can could would should will shall
    may might must one all any some more most other such only own same each both few many much again once""".split()
)


def stem(word: str) -> str:
    """A light English stem: enough for 'pushed'/'pushes'/'pushing' to meet (no stemming library needed)."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=4096)  # drafting compares every sentence with every passage: passages repeat
def content_words(text: str) -> frozenset[str]:
    """Folded content words (light-stemmed) and numbers of `text`, number words read as numbers."""
    out: set[str] = set()
    for w in re.findall(r"[^\W\d_]+|\d+", fold(strip_citations(text))):
        if w.isdigit():
            out.add(str(int(w)) if len(w) < 6 else w)
        elif w in NUMBER_WORDS:
            out.add(str(NUMBER_WORDS[w]))
        elif len(w) > 2 and w not in STOPWORDS:
            out.add(stem(w))
    return frozenset(out)


# --- numbers ---------------------------------------------------------------------------------------------------------

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "twice": 2, "once": 1, "dozen": 12,
    # Spanish
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "nueve": 9, "diez": 10, "doce": 12, "quince": 15, "veinte": 20, "treinta": 30,
    "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90, "cien": 100,
    "ciento": 100, "mil": 1000,
}
_TENS = {"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}


@lru_cache(maxsize=1024)
def numbers_in(text: str) -> frozenset[str]:
    """Every number `text` states, as digits without leading zeros: numerals, number words ("sixty", "forty-five",
    "veinte"), and the parts of grouped numbers ("2019-0619842" gives 2019 and 619842)."""
    folded = fold(text)
    out = {str(int(n)) for n in re.findall(r"\d+", folded)}
    for m in re.finditer(r"[a-z]+(?:-[a-z]+)?", folded):
        parts = m.group(0).split("-")
        if len(parts) == 2 and parts[0] in _TENS and parts[1] in NUMBER_WORDS:
            out.add(str(NUMBER_WORDS[parts[0]] + NUMBER_WORDS[parts[1]]))
        for p in parts:
            if p in NUMBER_WORDS:
                out.add(str(NUMBER_WORDS[p]))
    return frozenset(out)


def sentence_numbers(sentence: str) -> set[str]:
    """The numerals a sentence states (not number words: "two nights" is no claim a record must spell out)."""
    return {str(int(n)) for n in re.findall(r"\d+", strip_citations(sentence))}


# --- names, places and titles ------------------------------------------------------------------------------------

US_STATES = {
    "al": "alabama", "ak": "alaska", "az": "arizona", "ar": "arkansas", "ca": "california", "co": "colorado",
    "ct": "connecticut", "de": "delaware", "fl": "florida", "ga": "georgia", "hi": "hawaii", "id": "idaho",
    "il": "illinois", "in": "indiana", "ia": "iowa", "ks": "kansas", "ky": "kentucky", "la": "louisiana",
    "me": "maine", "md": "maryland", "ma": "massachusetts", "mi": "michigan", "mn": "minnesota",
    "ms": "mississippi", "mo": "missouri", "mt": "montana", "ne": "nebraska", "nv": "nevada",
    "nh": "new hampshire", "nj": "new jersey", "nm": "new mexico", "ny": "new york", "nc": "north carolina",
    "nd": "north dakota", "oh": "ohio", "ok": "oklahoma", "or": "oregon", "pa": "pennsylvania",
    "ri": "rhode island", "sc": "south carolina", "sd": "south dakota", "tn": "tennessee", "tx": "texas",
    "ut": "utah", "vt": "vermont", "va": "virginia", "wa": "washington", "wv": "west virginia",
    "wi": "wisconsin", "wy": "wyoming", "dc": "district of columbia", "pr": "puerto rico",
}
# Words that name the country in any of its spellings: one of them in the record vouches for the others.
COUNTRY_US = frozenset({"u.s", "u.s.a", "us", "usa", "united", "states", "america", "american", "americans",
                        "estados", "unidos", "eeuu", "ee.uu"})
# Titles and honorifics: they qualify a name and are no claim of their own.
TITLES = frozenset({
    "mr", "mrs", "ms", "miss", "dr", "doctor", "rev", "reverend", "pastor", "father", "sister", "brother",
    "officer", "detective", "det", "sergeant", "sgt", "deputy", "agent", "special", "judge", "justice", "hon",
    "honorable", "don", "dona", "senor", "senora", "senorita", "sr", "sra", "srta", "lic", "licenciado",
    "licenciada", "nurse", "counselor", "attorney", "sheriff", "captain", "lieutenant", "inspector", "mother",
    "aunt", "uncle", "cousin", "grandmother", "grandfather", "abuela", "abuelo", "tia", "tio", "prima", "primo",
})


_STATE_NAMES = {state: abbr for abbr, state in US_STATES.items()}


def name_variants(token: str) -> set[str]:
    """Forms under which the record may hold a name token: itself folded, without a possessive, and a state's
    name for its abbreviation written in capitals ("TX" -> "texas"; lower-case "in", "me", "or" stay words)."""
    t = strip_possessive(fold(token)).rstrip(".")
    out = {t}
    bare = strip_possessive(token).rstrip(".")
    if len(bare) == 2 and bare.isupper() and t in US_STATES:
        out.add(US_STATES[t])
    return out


def vocabulary(texts: Iterable[str]) -> set[str]:
    """Folded words (possessives removed) of `texts`, with the state names of their abbreviations and back."""
    out: set[str] = set()
    for text in texts:
        out |= _vocabulary_of(text)
    return out


@lru_cache(maxsize=256)
def _vocabulary_of(text: str) -> frozenset[str]:
    out: set[str] = set()
    tokens = {m.group(0) for m in WORD_RE.finditer(text)}
    tokens |= {part for t in tokens if "-" in t for part in t.split("-") if part}  # "Ruiz-Salcedo" vouches for both
    for w in tokens:
        variants = name_variants(w)
        out |= variants
        for v in variants:  # multi-word state names count word by word ("NM" vouches for "New" and "Mexico")
            if v in _STATE_NAMES:
                out.update(v.split())
    return frozenset(out)


def record_knows_word(word: str, vocab: set[str]) -> bool:
    """Whether a capitalised word of a sentence is vouched for by `vocab` (see `vocabulary`)."""
    variants = name_variants(word)
    if variants & vocab:
        return True
    base = strip_possessive(fold(word)).rstrip(".")
    if base in TITLES:
        return True
    # The country the declaration is filed in, in any spelling ("U.S.", "United States", "America").
    return base in COUNTRY_US or set(base.split(".")) <= COUNTRY_US | {""}


# --- notes that are not the declarant's words ------------------------------------------------------------------

# An intake form's or a file's working notes: "staff to confirm with a FOIA request", "attorney note: ...".
STAFF_NOTE_RE = re.compile(
    r"\b(?:staff|attorney|atty|counsel|paralegal|case ?manager|caseworker|advocate|legal team)\s+"
    r"(?:to|should|must|will|needs? to|has to|to please)\s+(?:confirm|verify|check|ask|follow|request|obtain|"
    r"get|review|file|send|call|contact|follow up)\b"
    r"|\bto be (?:confirmed|verified|determined)\b|\bpending confirmation\b"
    r"|^\s*(?:attorney|staff|internal|intake|case|file|paralegal)?\s*notes?\s*[:\-]"
    r"|\b(?:ask|confirm with|check with) (?:the )?client\b|\bclient (?:said|says|states|stated|reports|reported)\b",
    re.I,
)


def is_staff_note(sentence: str) -> bool:
    return bool(STAFF_NOTE_RE.search(strip_citations(sentence)))


# --- language -------------------------------------------------------------------------------------------------------

_LANGUAGE_MARKERS = {
    "es": frozenset("el la los las de del que y en por con para una un se su sus al lo como pero mi mis yo es fue "
                    "era muy cuando porque esta este".split()),
    "en": frozenset("the and of to in was were he she i my that with for on it his her is at by from as".split()),
}


def language_of(text: str) -> str:
    """'en', 'es' or 'und' from function words: enough to know when word overlap cannot judge support."""
    counts = {lang: 0 for lang in _LANGUAGE_MARKERS}
    for w in words(text):
        for lang, markers in _LANGUAGE_MARKERS.items():
            counts[lang] += w in markers
    best = max(counts, key=lambda k: counts[k])
    total = sum(counts.values())
    return best if total >= 5 and counts[best] >= 0.6 * total else "und"


# Language names for the declaration's certificate of translation and the exhibit list's translation notes.
LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "fr": "French", "ht": "Haitian Creole", "zh": "Chinese",
    "vi": "Vietnamese", "ko": "Korean", "tl": "Tagalog", "ar": "Arabic", "ru": "Russian", "hi": "Hindi",
    "uk": "Ukrainian", "qu": "Quechua", "mam": "Mam", "quc": "K'iche'", "de": "German", "it": "Italian",
    "nl": "Dutch", "pl": "Polish", "ro": "Romanian", "fa": "Persian", "so": "Somali", "am": "Amharic",
}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.lower(), code)


def translation_note(languages: list[str]) -> str | None:
    """'Spanish: certified translation required' for an exhibit with non-English pages (None when all English).
    Every foreign-language document filed with USCIS needs a full English translation certified by the translator
    (8 CFR 103.2(b)(3))."""
    foreign = [language_name(lang) for lang in languages if lang.lower() not in ("en", "und")]
    if not foreign:
        return None
    return f"{', '.join(foreign)}: certified translation required"
