"""Pure functions that turn retrieved evidence and a weak model's answers into a structured, cited declaration.

The drafting model (SmolLM2-135M by default) is not trusted with structure or citations: it is asked for a few
first-person sentences from ranked evidence, and everything here makes the result hold regardless of what it
answered. Sentences that are chatter, not in the declarant's voice, or carry names or numbers absent from the
evidence are dropped; citations are normalised to `[Ex. B, p. 2]` and kept only when they point at the evidence
sent to the model; a sentence without one gets the citation of the passage it shares the most words with.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..cases.models import CaseRecord
from ..extraction.models import DocumentInfo
from ..text import (  # noqa: F401  (re-exported: the shared text helpers drafting is built on)
    ABBREVIATIONS,
    CITATION_RE,
    STOPWORDS,
    WORD_RE,
    comparable,
    content_words,
    fold,
    has_first_person,
    is_staff_note,
    language_name,
    language_of,
    numbers_in,
    record_knows_word,
    sentence_numbers,
    split_paragraphs,
    split_sentences,
    strip_citations,
    vocabulary,
    words as folded_words,
)
from ..requirements.models import CaseRequirements, Element
from ..retrieval.models import ScoredChunk
from . import prompts
from .grounding import (
    GroundingRecord,
    SupportVerifier,
    lexical_support,
    page_supports,
    swapped_subject,
    third_person_declarant,
    unsupported_terms,
)
from .models import Citation, Exhibit, Section

# ---------------------------------------------------------------------------------------------------------------
# Exhibits


def exhibit_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, 27 -> AB ... (spreadsheet-style lettering)."""
    if index < 0:
        raise ValueError("exhibit index must be >= 0")
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def _letter_key(letter: str) -> tuple[int, str]:
    return (len(letter), letter)


def build_exhibits(documents: Sequence[DocumentInfo]) -> list[Exhibit]:
    """The exhibit list, in exhibit order, from the extracted documents (which carry their letters)."""
    ordered = sorted(documents, key=lambda d: _letter_key(d.exhibit))
    return [Exhibit(letter=d.exhibit, document=d.name, title=d.title, pages=d.pages, languages=d.languages)
            for d in ordered]


def lettering_problems(documents: Sequence[DocumentInfo]) -> list[str]:
    """Where two documents share a letter or a letter is malformed (empty when consistent).

    Letters come from the case's exhibit ledger (`extraction/letters.py`): assigned once, so a fixed or added
    document keeps or gets its own letter and file order no longer decides them.
    """
    problems = []
    holders: dict[str, list[str]] = {}
    for d in sorted(documents, key=lambda d: d.name):
        if not re.fullmatch(r"[A-Z]{1,3}", d.exhibit or ""):
            problems.append(f"{d.name}: exhibit letter {d.exhibit!r} is not a letter")
        holders.setdefault(d.exhibit, []).append(d.name)
    problems += [f"exhibit {letter} is held by {', '.join(names)}" for letter, names in holders.items() if len(names) > 1]
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Citations

# Lenient on input (the model writes "(Exhibit B, page 2)", "[Ex B p.2]", "Ex. B, pp. 2-3"), canonical on output.
_CITATION_RE = re.compile(
    r"[\[(]?\s*\b(?:Ex(?:h(?:ibit)?)?|Exh)\.?\s*([A-Z]{1,2})\b\s*[,;:]?\s*"
    r"(?:p(?:p|g|age|ages)?\.?)\s*(\d{1,4})(?:\s*[-\u2013]\s*(\d{1,4}))?\s*[\])]?"
)
_CANONICAL_RE = CITATION_RE
MAX_RANGE_PAGES = 5


def normalize_citations(text: str) -> str:
    """Rewrite every citation variant as `[Ex. B, p. 2]`; a page range becomes one citation per page."""

    def repl(m: re.Match[str]) -> str:
        letter, first = m.group(1), int(m.group(2))
        last = int(m.group(3)) if m.group(3) else first
        if last < first or last - first >= MAX_RANGE_PAGES:
            last = first
        return " " + " ".join(Citation(exhibit=letter, page=p).label() for p in range(first, last + 1)) + " "

    out = _CITATION_RE.sub(repl, text)
    # A grouped label "[Ex. A, p. 2; Ex. F, p. 1]" leaves "; " between the canonical labels it becomes.
    out = re.sub(r"(\[Ex\. [A-Z]{1,2}, p\. \d{1,4}\])\s*;\s*(?=\[Ex\. )", r"\1 ", out)
    out = re.sub(r"[ \t]+([.,;:!?])", r"\1", out)
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def parse_citations(text: str) -> list[Citation]:
    """Canonical citations in `text`, in order of appearance (call `normalize_citations` first)."""
    return [Citation(exhibit=m.group(1), page=int(m.group(2))) for m in _CANONICAL_RE.finditer(text)]


def existing_citations(exhibits: Iterable[Exhibit]) -> set[Citation]:
    return {Citation(exhibit=e.letter, page=p) for e in exhibits for p in range(1, e.pages + 1)}


# ---------------------------------------------------------------------------------------------------------------
# Evidence


def gather_evidence(
    queries: Sequence[str], search: Callable[[str], Sequence[ScoredChunk]], limit: int
) -> list[ScoredChunk]:
    """Union of the chunks found by every query, deduplicated and ranked, re-numbered 1..limit.

    Ranked round-robin: every query's best passage comes before any query's second best, so one document that
    matches many queries (a certificate's boilerplate) cannot crowd out the passage another query was written
    for. Within a round: higher similarity, then found by more queries, then first found.
    """
    best: dict[str, ScoredChunk] = {}
    best_rank: dict[str, int] = {}
    hits: Counter[str] = Counter()
    order: dict[str, int] = {}
    for q in queries:
        for position, sc in enumerate(search(q), start=1):
            cid = sc.chunk.chunk_id
            hits[cid] += 1
            order.setdefault(cid, len(order))
            best_rank[cid] = min(best_rank.get(cid, position), position)
            if cid not in best or sc.score > best[cid].score:
                best[cid] = sc

    def key(sc: ScoredChunk) -> tuple[int, float, int, int]:
        cid = sc.chunk.chunk_id
        return (best_rank[cid], -sc.score, -hits[cid], order[cid])

    ranked = sorted(best.values(), key=key)
    return [ScoredChunk(chunk=sc.chunk, score=sc.score, rank=i) for i, sc in enumerate(ranked[:limit], start=1)]


def evidence_line(sc: ScoredChunk, max_chars: int = 900) -> str:
    """One evidence item as the model sees it: its citation label, then the passage."""
    text = " ".join(sc.chunk.text.split())
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] + " ..."
    return f"{sc.chunk.citation()} {text}"


def batches(items: Sequence[ScoredChunk], size: int) -> list[list[ScoredChunk]]:
    size = max(1, size)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


# ---------------------------------------------------------------------------------------------------------------
# Sentences (splitting, folding and number normalisation live in the shared `declaration_assets.text` module)

_THIRD_PERSON_DECLARANT_RE = re.compile(
    r"\bthe (declarant|self-petitioner|petitioner|applicant|victim|survivor|affiant)\b|\bclients?\b", re.I
)
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
_THINK_RE = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)

_CAPITALIZED_OK = {
    "I", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    "God", "English", "Spanish", "Ex",
}


def clean_answer(text: str) -> str:
    """Remove reasoning blocks, markdown markers and labels the model copied from the prompt."""
    text = _THINK_RE.sub("", text).replace("**", "").replace("__", "")
    lines = []
    for line in text.splitlines():
        if _HEADING_RE.match(line):
            continue  # a heading is never a sentence of the declaration
        line = _LABEL_RE.sub("", _MARKDOWN_RE.sub("", line)).strip()
        if line:
            # A line break ends a sentence even when the model forgot the full stop.
            lines.append(line if re.search(r"[.!?\]\)\"'\u201d]$", line) else line + ".")
    return " ".join(" ".join(lines).split())


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
    if not (_THIRD_PERSON_DECLARANT_RE.search(folded) or names_declarant(folded, name_words)):
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


def is_chatter(sentence: str) -> bool:
    s = strip_citations(sentence).strip(" \"'\u201c\u201d")
    return bool(_CHATTER_RE.match(s)) or "passage" in s.lower() or "[label" in s.lower()


def unsupported_tokens(sentence: str, evidence_text: str, record: GroundingRecord | None = None) -> list[str]:
    """Numbers and capitalised names in `sentence` that appear nowhere in the evidence or the record (likely
    invented); see `grounding.unsupported_terms`."""
    return unsupported_terms(sentence, evidence_text, record)


def best_source(
    sentence: str, evidence: Sequence[ScoredChunk], min_overlap: int = 2, min_share: float = 0.4
) -> ScoredChunk | None:
    """The evidence passage sharing the most content words with `sentence` (ties: better rank), or None when no
    passage shares at least `min_overlap` of them (all of them for a shorter sentence) and `min_share` of the
    sentence's content words: the sentence is then not grounded in what the model was shown."""
    words = content_words(sentence)
    if not words:
        return None
    needed = min(min_overlap, len(words))
    best: tuple[int, int] | None = None
    choice = None
    for sc in evidence:
        overlap = len(words & content_words(sc.chunk.text))
        key = (overlap, -sc.rank)
        if overlap >= needed and overlap / len(words) >= min_share and (best is None or key > best):
            best, choice = key, sc
    return choice


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


@dataclass
class ComposedParagraph:
    """One model answer after post-processing: its paragraphs, and what was removed or flagged, with reasons."""

    text: str
    sentences: int
    citations: list[Citation]
    citations_removed: list[str] = field(default_factory=list)
    attributed: int = 0  # sentences whose citation was attached from their source passage
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> count
    paragraphs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # review notes for the attorney: drops, flags, removed citations
    unverified: int = 0


def _note(kind: str, reason: str, sentence: str) -> str:
    return f"{kind} ({reason}): {' '.join(sentence.split())[:400]}"


def compose_paragraph(
    answer: str,
    evidence: Sequence[ScoredChunk],
    valid: set[Citation],
    *,
    min_words: int = 4,
    declarant_names: frozenset[str] = frozenset(),
    third_party_docs: frozenset[str] = frozenset(),
    record: GroundingRecord | None = None,
    element_evidence: Sequence[ScoredChunk] | None = None,
    kept_elsewhere: set[frozenset[str]] | None = None,
    truncated: bool = False,
    verifier: SupportVerifier | None = None,
    voice_per_paragraph: bool = True,
    paraphrase_flags: bool = False,
) -> ComposedParagraph:
    """Make paragraphs out of a model answer written from `evidence` (see `grounding` for the mechanism).

    Voice is judged per paragraph (a first-person narrative has sentences without "I"), and a third party's voice
    is refused: a sentence that speaks of the declarant in the third person, names her, repeats the "I" of a
    passage written about her by someone else, turns another person's act into hers ("he was kind" -> "I was
    kind"), or is a staff or attorney note. Names and numbers must be in the record (`record`: case.yaml, plus
    every passage of `element_evidence`, default `evidence`). A kept sentence cites pages that exist and bear it
    out; when the passages it relies on are in another language, it is kept with an `unverified` note. A sentence
    kept before (here, or under another element: `kept_elsewhere`) is not repeated. With `truncated` (the answer
    stopped at its token limit), the last sentence is dropped: a cut-off sentence never ships.
    `voice_per_paragraph=False` demands I/me/my in every sentence (the `small` profile's stricter rule).
    `paraphrase_flags`: a sentence citing a real page in its own language that shares some of its words, but not
    enough to count as support, is kept with an `unverified` note instead of dropped (the `capable` profile:
    a strong model paraphrases; a small one invents, so its unsupported sentences go).
    """
    allowed = {Citation(exhibit=sc.chunk.exhibit, page=sc.chunk.page) for sc in evidence} & valid
    shown = list(element_evidence) if element_evidence is not None else list(evidence)
    evidence_text = "\n".join(sc.chunk.text for sc in shown)
    pages = dict(record.page_texts) if record else {}
    for sc in shown:
        pages.setdefault(Citation(exhibit=sc.chunk.exhibit, page=sc.chunk.page), sc.chunk.text)
    seen: set[frozenset[str]] = set()
    elsewhere = kept_elsewhere if kept_elsewhere is not None else set()
    result = ComposedParagraph(text="", sentences=0, citations=[])

    def drop(reason: str, sentence: str) -> None:
        result.dropped[reason] += 1
        result.notes.append(_note("dropped", reason, sentence))

    raw_paragraphs = [clean_answer(p) for p in re.split(r"\n\s*\n", answer)]
    split = [split_sentences(normalize_citations(p)) for p in raw_paragraphs if p]
    if truncated and split and split[-1]:
        drop("truncated", split[-1].pop())
    for sentences in split:
        voiced = voice_per_paragraph and any(
            has_first_person(strip_citations(x)) and not is_chatter(strip_citations(x)) for x in sentences)
        kept: list[str] = []
        for raw in sentences:
            cites = parse_citations(raw)
            body = strip_citations(raw)
            if len(body.split()) < min_words:
                drop("too_short", raw)
                continue
            if is_chatter(body):
                drop("chatter", raw)
                continue
            if is_staff_note(body):
                drop("staff_note", raw)
                continue
            if third_person_declarant(body, _THIRD_PERSON_DECLARANT_RE) or not (voiced or has_first_person(body)):
                drop("not_first_person", raw)
                continue
            if names_declarant(body, declarant_names):
                drop("third_party_voice", raw)
                continue
            # Names and numbers: the record, every passage shown for the element, and the real pages it cites.
            cited_pages_text = "\n".join(pages[c] for c in cites if c in valid and c in pages)
            if unsupported_terms(body, evidence_text + "\n" + cited_pages_text, record):
                drop("unsupported_name_or_number", raw)
                continue
            key = frozenset(content_words(body))
            if key in seen:
                drop("duplicate", raw)
                continue
            if key in elsewhere:
                drop("repeated_in_other_element", raw)
                continue
            real = [c for c in cites if c in valid]
            cited_texts = [pages[c] for c in real if c in pages]
            mine = [sc.chunk.text for sc in shown if sc.chunk.document not in third_party_docs]
            if swapped_subject(body, mine, record.other_subjects if record else frozenset()):
                drop("swapped_subject", raw)
                continue
            # Meaning: a shown passage, else a cited page of the case, bears the sentence out word for word;
            # else, when those passages are in another language, it is kept and flagged (see grounding).
            source = best_source(body, evidence)
            cited_source = next((c for c in real if lexical_support(body, pages.get(c, ""))), None)
            flag = None
            if source is None and cited_source is None:
                candidates = cited_texts or [sc.chunk.text for sc in evidence]
                foreign = [t for t in candidates if page_supports(body, t) is None]
                near = [t for t in cited_texts if page_supports(body, t)] if paraphrase_flags else []
                unsure = foreign or near
                verdict = verifier.supports(body, unsure) if (verifier is not None and unsure) else None
                if verdict is False or not unsure or not real:
                    drop("unsupported", raw)
                    continue
                if verdict is None:
                    flag = ("passages in another language; support not verified" if foreign else
                            "a paraphrase of its cited page; support not verified word for word")
            voice_sources = ([source.chunk] if source is not None else []) + [
                sc.chunk for sc in shown if Citation(exhibit=sc.chunk.exhibit, page=sc.chunk.page) in real]
            if any(borrowed_voice(body, ch.text, declarant_names, third_party=ch.document in third_party_docs)
                   for ch in voice_sources):
                drop("third_party_voice", raw)
                continue
            good = []
            for c in cites:
                supported = page_supports(body, pages[c]) if c in pages else None
                if c in valid and (c in allowed or c in pages) and supported is not False:
                    good.append(c)
                else:
                    result.citations_removed.append(c.label())
                    why = "no such page" if c not in valid else "its page does not bear the sentence out"
                    result.notes.append(_note("citation removed", f"{c.label()}: {why}", raw))
            if not good:
                anchor = source.chunk if source is not None else None
                if anchor is None:
                    drop("unsupported", raw)
                    continue
                good = [Citation(exhibit=anchor.exhibit, page=anchor.page)]
                result.attributed += 1
            seen.add(key)
            elsewhere.add(key)
            sentence = finish_sentence(body, good)
            if flag:
                result.unverified += 1
                result.notes.append(_note("unverified", flag, sentence))
            kept.append(sentence)
            result.citations += [c for c in good if c not in result.citations]
        if kept:
            result.paragraphs.append(" ".join(kept))
    result.text = " ".join(result.paragraphs)
    result.sentences = sum(len(split_sentences(p)) for p in result.paragraphs)
    return result


# ---------------------------------------------------------------------------------------------------------------
# Sections



_COUNTRIES_WITH_THE = {
    "philippines", "united states", "dominican republic", "netherlands", "gambia", "bahamas", "czech republic",
    "united kingdom", "central african republic", "democratic republic of the congo", "republic of the congo",
    "united arab emirates", "maldives", "marshall islands", "solomon islands", "comoros", "seychelles",
}


def country_phrase(country: str) -> str:
    """'Colombia' -> 'Colombia'; 'Philippines' -> 'the Philippines'."""
    c = country.strip()
    return f"the {c}" if c.lower() in _COUNTRIES_WITH_THE else c



def introduction(record: CaseRecord, req: CaseRequirements) -> Section:
    """The deterministic opening: who declares, for which filing, in which language."""
    declarant = record.declarant
    case_type = str(getattr(record.case_type, "value", record.case_type))
    paragraphs = [
        prompts.INTRO_OPENING.format(name=declarant.name),
        prompts.INTRO_PURPOSE.format(
            role_noun=prompts.ROLE_NOUN.get(case_type, "applicant"),
            title=req.title,
            form=req.form,
            filing_noun=prompts.FILING_NOUN.get(case_type, "application"),
        ),
    ]
    if declarant.citizenship:
        paragraphs.append(prompts.INTRO_CITIZENSHIP.format(citizenship=country_phrase(declarant.citizenship)))
    if record.language.lower() != "en":
        paragraphs.append(prompts.INTRO_LANGUAGE.format(language=language_name(record.language)))
    return Section(kind="introduction", title="Introduction", paragraphs=paragraphs)


def closing(declarant_name: str) -> Section:
    return Section(
        kind="closing",
        title="Attestation",
        paragraphs=[prompts.CLOSING_ATTESTATION, prompts.CLOSING_SIGNATURE.format(name=declarant_name)],
    )


def gap_paragraph(element: Element, evidence: Sequence[ScoredChunk], reason: str) -> str:
    if not evidence:
        return prompts.GAP_NO_EVIDENCE.format(element_title=element.title)
    cites = ", ".join(dict.fromkeys(sc.chunk.citation() for sc in evidence))
    return prompts.GAP_NO_TEXT.format(element_title=element.title, reason=reason, citations=cites)


def order_sections(sections: Sequence[Section], req: CaseRequirements) -> list[Section]:
    """Introduction, the elements in the requirements file's order, then the closing."""
    rank = {eid: i for i, eid in enumerate(req.element_ids())}

    def key(s: Section) -> tuple[int, int]:
        if s.kind == "introduction":
            return (0, 0)
        if s.kind == "closing":
            return (2, 0)
        return (1, rank.get(s.element_id or "", len(rank)))

    return sorted(sections, key=key)
