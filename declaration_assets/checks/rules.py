"""Deterministic guard rules: what no model can be trusted with.

Every rule is a pure function `(draft, facts, ...) -> list[Finding]`; `run_guards` applies them all.
- names, dates, addresses, phones, emails and ID numbers in the text occur in the case record, and a full date
  appears on a page its sentence cites;
- each required legal element has a section with at least one citation, and every citation points to an
  exhibit and page that exist;
- no placeholder or template token leaks;
- the length is within the case type's band (a warning: the band is a practice norm, not a filing rule).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..text import ABBREVIATIONS, WORD_RE, contains_phrase, fold
from ..drafting.models import Draft, Section
from .facts import (
    ADDRESS_RE,
    PHONE_RE,
    CaseFacts,
    alnum,
    digits,
    find_dates,
    find_ids,
    normalise_address,
)
from .models import Finding, GuardReport, Span

# --- walking the draft -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    section_index: int
    paragraph_index: int
    section_key: str
    text: str

    def span(self, start: int, end: int) -> Span:
        return Span(section=self.section_index, paragraph=self.paragraph_index, start=start, end=end,
                    text=self.text[start:end])


def section_key(section: Section) -> str:
    return section.element_id or section.title


def paragraphs(draft: Draft) -> Iterator[Paragraph]:
    for si, s in enumerate(draft.sections):
        for pi, text in enumerate(s.paragraphs):
            yield Paragraph(si, pi, section_key(s), text)


def _excerpt(text: str, start: int, end: int, width: int = 40) -> str:
    a, b = max(0, start - width), min(len(text), end + width)
    return ("..." if a else "") + text[a:b].replace("\n", " ") + ("..." if b < len(text) else "")


# --- citations -------------------------------------------------------------------------------------------------

CITATION_BLOCK_RE = re.compile(r"\[\s*Ex(?:hibit|\.)?\s[^\]]*\]", re.I)
CITATION_PART_RE = re.compile(r"^\s*(?:Ex(?:hibit|\.)?\s*)?([A-Z]{1,2})\s*,\s*pp?\.\s*(\d+)(?:\s*[-–]\s*(\d+))?\s*$", re.I)


@dataclass(frozen=True)
class CitationMention:
    start: int
    end: int
    exhibit: str | None
    pages: tuple[int, ...]
    text: str

    @property
    def well_formed(self) -> bool:
        return self.exhibit is not None and bool(self.pages)


def find_citations(text: str) -> list[CitationMention]:
    """`[Ex. B, p. 2]`, `[Ex. B, pp. 2-3]` and `[Ex. B, p. 2; Ex. C, p. 1]`; anything else in `[Ex...]` is malformed."""
    out: list[CitationMention] = []
    for m in CITATION_BLOCK_RE.finditer(text):
        inner = m.group(0)[1:-1]
        for part in inner.split(";"):
            pm = CITATION_PART_RE.match(part)
            if pm:
                first = int(pm.group(2))
                last = int(pm.group(3)) if pm.group(3) else first
                pages = tuple(range(first, last + 1)) if first <= last and last - first < 50 else (first, last)
                out.append(CitationMention(m.start(), m.end(), pm.group(1).upper(), pages, m.group(0)))
            else:
                out.append(CitationMention(m.start(), m.end(), None, (), m.group(0)))
    return out


def _citation_ok(c: CitationMention, facts: CaseFacts) -> bool:
    return c.well_formed and c.exhibit in facts.exhibits and all(1 <= p <= facts.exhibits[c.exhibit] for p in c.pages)


def check_citations(draft: Draft, facts: CaseFacts) -> list[Finding]:
    """Every citation names a known exhibit and a page within that exhibit's page count."""
    out: list[Finding] = []
    for para in paragraphs(draft):
        for c in find_citations(para.text):
            span = para.span(c.start, c.end)
            if not c.well_formed:
                out.append(Finding(rule="malformed_citation", severity="warning", section_key=para.section_key,
                                   evidence=span, message=f"citation {c.text!r} is not of the form [Ex. B, p. 2]"))
            elif c.exhibit not in facts.exhibits:
                known = ", ".join(sorted(facts.exhibits)) or "none"
                out.append(Finding(rule="unknown_exhibit", severity="serious", section_key=para.section_key,
                                   evidence=span, message=f"{c.text} cites exhibit {c.exhibit}, which does not exist (known: {known})"))
            elif not all(1 <= p <= facts.exhibits[c.exhibit] for p in c.pages):
                out.append(Finding(rule="page_out_of_range", severity="serious", section_key=para.section_key,
                                   evidence=span, message=f"{c.text} cites a page beyond exhibit {c.exhibit}'s "
                                                          f"{facts.exhibits[c.exhibit]} page(s)"))
    return out


def check_elements(draft: Draft, facts: CaseFacts, required: Sequence[tuple[str, str]]) -> list[Finding]:
    """Each required element (id, title) has a non-empty section with at least one valid citation; element
    paragraphs without any citation are warned about (every fact must cite its evidence)."""
    out: list[Finding] = []
    for element_id, title in required:
        s = draft.section_for(element_id)
        if s is None:
            out.append(Finding(rule="missing_element", severity="serious", section_key=element_id,
                               message=f"no section for the required element {title!r} ({element_id})"))
            continue
        if not s.text().strip():
            out.append(Finding(rule="empty_element", severity="serious", section_key=element_id,
                               message=f"the section {title!r} is empty"))
            continue
        if not any(_citation_ok(c, facts) for c in find_citations(s.text())):
            out.append(Finding(rule="element_without_citation", severity="serious", section_key=element_id,
                               message=f"the section {title!r} cites no existing exhibit page"))
    for para in paragraphs(draft):
        s = draft.sections[para.section_index]
        if s.kind == "element" and para.text.strip() and not find_citations(para.text):
            out.append(Finding(rule="uncited_paragraph", severity="warning", section_key=para.section_key,
                               evidence=para.span(0, min(len(para.text), 80)),
                               message=f"paragraph {para.paragraph_index + 1} of {s.title!r} cites no evidence"))
    return out


# --- placeholders ----------------------------------------------------------------------------------------------

PLACEHOLDER_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # The drafting stage's own marker for an element it could not draft; it may quote citations inside.
    ("drafting_gap", re.compile(r"\[DRAFTING GAP\b.*?\.\](?=\s|$)|\[DRAFTING GAP\b[^\]]*\]", re.S)),
    ("double_braces", re.compile(r"\{\{.*?\}\}", re.S)),
    ("double_brackets", re.compile(r"\[\[.*?\]\]", re.S)),
    ("brace_slot", re.compile(r"\{\s*[A-Za-z_][\w .-]{0,40}\}")),
    ("bracket_note", re.compile(r"\[[A-Z][A-Z0-9 _-]{2,40}:[^\]]*\]")),  # [DRAFTING GAP: ...], [NOTE: ...]
    ("insert_instruction", re.compile(r"\[\s*(?:insert|add|fill in|enter)\b[^\]]*\]", re.I)),
    ("bracket_token", re.compile(r"\[[A-Z][A-Z0-9_ ]{1,40}\]")),  # [NAME], [PERSON_1], [DATE OF BIRTH]
    ("angle_token", re.compile(r"<\s*[A-Z][A-Z0-9_]{1,40}\s*>")),  # <PERSON_1>
    ("redaction_token", re.compile(r"\b[A-Z][A-Z]+(?:_[A-Z]+)*_\d+\b", re.I)),  # PERSON_1 left unrestored
    ("marker", re.compile(r"\b(?:TODO|TBD|FIXME|XX+)\b")),
    ("lorem_ipsum", re.compile(r"lorem ipsum", re.I)),
]


def check_placeholders(draft: Draft) -> list[Finding]:
    """No template slot, redaction placeholder or editing marker leaks into the declaration."""
    out: list[Finding] = []
    for para in paragraphs(draft):
        taken: list[tuple[int, int]] = []
        for kind, pat in PLACEHOLDER_PATTERNS:
            for m in pat.finditer(para.text):
                if any(not (m.end() <= a or m.start() >= b) for a, b in taken):
                    continue
                taken.append((m.start(), m.end()))
                if kind == "drafting_gap":
                    out.append(Finding(rule="drafting_gap", severity="serious", section_key=para.section_key,
                                       evidence=para.span(m.start(), m.end()),
                                       message=f"a drafting gap is left in the text: {m.group(0)[1:-1][:200]}"))
                    continue
                out.append(Finding(rule="placeholder", severity="serious", section_key=para.section_key,
                                   evidence=para.span(m.start(), m.end()),
                                   message=f"placeholder {m.group(0)!r} ({kind}) left in the text"))
    return out


# --- facts: dates, phones, addresses, IDs ---------------------------------------------------------------------


def check_dates(draft: Draft, facts: CaseFacts) -> list[Finding]:
    """Full dates must be dates of the record (in any format); month-and-year mentions a month of the record."""
    out: list[Finding] = []
    for para in paragraphs(draft):
        for d in find_dates(para.text):
            if d.days and not (d.days & facts.days):
                out.append(Finding(rule="date_not_in_record", severity="serious", section_key=para.section_key,
                                   evidence=para.span(d.start, d.end),
                                   message=f"the date {d.text!r} occurs nowhere in the case record"))
            elif d.month and d.month not in facts.months:
                out.append(Finding(rule="month_not_in_record", severity="warning", section_key=para.section_key,
                                   evidence=para.span(d.start, d.end),
                                   message=f"no date of the case record falls in {d.text!r}"))
    return out


# A sentence ends at . ! or ? followed by a space, unless the period closes an abbreviation or an initial.
_STOP_RE = re.compile(r"(\S*?)([.!?])[\"'\u201d\u2019)]*\s")
# The drafting splitter's abbreviations, plus times and words an address or a list may hold mid-sentence.
_ABBREVIATIONS = ABBREVIATIONS | {"corp", "a.m", "p.m", "ste", "mt", "ft", "etc", "approx"}


def _ends_sentence(segment: str) -> bool:
    for m in _STOP_RE.finditer(segment):
        word = m.group(1).lstrip("(\"'\u201c").lower()
        if m.group(2) != "." or (word not in _ABBREVIATIONS and not (len(word) == 1 and word.isalpha())):
            return True
    return False


def cited_pages_after(text: str, pos: int) -> list[tuple[str, int]] | None:
    """The pages cited by the sentence that `pos` is in: the citation blocks that follow it before the sentence
    ends (adjacent blocks together). None when the sentence carries no citation after `pos`."""
    cites = [c for c in find_citations(text) if c.start >= pos]
    if not cites:
        return None
    first = cites[0]
    if _ends_sentence(CITATION_BLOCK_RE.sub(" ", text[pos:first.start])):
        return None  # the sentence ended before its first citation: the citation belongs to the next one
    pages: list[tuple[str, int]] = []
    end = first.start
    for c in cites:
        if text[end:c.start].strip(" ;,"):
            break
        pages += [(c.exhibit, p) for p in c.pages if c.exhibit]
        end = c.end
    return pages


def check_cited_dates(draft: Draft, facts: CaseFacts) -> list[Finding]:
    """A full date must appear on a page its sentence cites: a date of the record tied to the wrong event (the
    protective order's date given as the wedding's) is otherwise invisible to `check_dates`."""
    if not facts.page_days:
        return []
    out: list[Finding] = []
    for para in paragraphs(draft):
        for d in find_dates(para.text):
            if not d.days or not (d.days & facts.days):
                continue  # not a full date, or not in the record at all (check_dates reports that)
            pages = cited_pages_after(para.text, d.end)
            known = [p for p in pages or () if p in facts.page_days]
            if not known or any(d.days & facts.page_days[p] for p in known):
                continue
            cited = "; ".join(f"Ex. {e}, p. {n}" for e, n in known)
            out.append(Finding(rule="date_not_on_cited_page", severity="warning", section_key=para.section_key,
                               evidence=para.span(d.start, d.end),
                               message=f"the date {d.text!r} is in the record but not on the page it cites ({cited})"))
    return out


def _mask(text: str, spans: Sequence[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        chars[a:b] = " " * (b - a)
    return "".join(chars)


EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def check_numbers(draft: Draft, facts: CaseFacts) -> list[Finding]:
    """Emails, phones, street addresses and ID numbers (A-numbers, passports, case numbers) must be in the record."""
    out: list[Finding] = []
    for para in paragraphs(draft):
        text = para.text
        skip = [(c.start, c.end) for c in find_citations(text)] + [(d.start, d.end) for d in find_dates(text)]
        masked = _mask(text, skip)
        for m in EMAIL_RE.finditer(masked):
            if m.group(0).casefold() not in facts.text:
                out.append(Finding(rule="email_not_in_record", severity="serious", section_key=para.section_key,
                                   evidence=para.span(m.start(), m.end()),
                                   message=f"the email address {m.group(0)!r} is not in the case record"))
            skip.append((m.start(), m.end()))
        masked = _mask(text, skip)
        for m in PHONE_RE.finditer(masked):
            if digits(m.group(0))[-10:] not in facts.phones:
                out.append(Finding(rule="phone_not_in_record", severity="serious", section_key=para.section_key,
                                   evidence=para.span(m.start(), m.end()),
                                   message=f"the phone number {m.group(0).strip()!r} is not in the case record"))
            skip.append((m.start(), m.end()))
        for m in ADDRESS_RE.finditer(masked):
            if normalise_address(m.group(0)) not in facts.address_text:
                out.append(Finding(rule="address_not_in_record", severity="serious", section_key=para.section_key,
                                   evidence=para.span(m.start(), m.end()),
                                   message=f"the address {m.group(0).strip()!r} is not in the case record"))
            skip.append((m.start(), m.end()))
        for m in find_ids(_mask(text, skip)):
            token = m.group(0).strip()
            if alnum(token) not in facts.ids and digits(token) not in facts.id_digits:
                out.append(Finding(rule="number_not_in_record", severity="serious", section_key=para.section_key,
                                   evidence=para.span(m.start(), m.end()),
                                   message=f"the number {token!r} is not in the case record"))
    return out


# --- names -----------------------------------------------------------------------------------------------------

# Capitalised words that are not names: sentence starters, titles, legal and immigration vocabulary, months and
# days. Places and organisations need no list: they pass when the record mentions them.
ALLOWED_WORDS = frozenset(fold(w) for w in """
i me my mine we our us you your he him his she her they them their it its this that these those there here then
the a an and or but if when while after before during because since until as at in on of for to from with without
by into about over under between through once later soon also still even so yet both each every all some any no
not never always only just one two three four five six seven eight nine ten first second third last next
what which who whom whose why how where yes dear
mr mrs ms miss dr doctor officer detective sergeant deputy judge justice reverend pastor father sister brother
mother aunt uncle cousin grandmother grandfather don dona señor señora senor senora lic licenciado licenciada
attorney counsel honorable hon agent special supervisory inspector captain lieutenant sheriff nurse sir madam
ma'am maam senorita
declaration declarant exhibit exhibits page pages section part form forms petition self petitioner
united states america u s usa us uscis dhs ice cbp fbi hsi department homeland security citizenship immigration
services service court county district state city police report order protective protection temporary
statement certificate certified marriage birth death divorce decree lease bank statement notice receipt approval
law enforcement certification supplement trafficking victim victims severe physical presence compliance reasonable
requests extreme hardship removal battery cruelty good faith moral character residence abuser qualifying
relationship abuse vawa t visa visas act violence against women cfr ina policy manual volume vol chapter
penalty perjury laws true correct signature date signed translation translator interpreter english spanish
introduction conclusion background closing summary
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre
lunes martes miercoles jueves viernes sabado domingo
god lord christmas easter thanksgiving nochebuena navidad
""".split())

CONNECTORS = frozenset({"de", "del", "la", "las", "los", "y", "van", "von", "da", "dos", "di", "le"})


@dataclass(frozen=True)
class NameMention:
    start: int
    end: int
    text: str
    tokens: tuple[str, ...]  # folded name-like tokens (allow-listed words removed)


def _is_capitalised(token: str) -> bool:
    return token[0].isupper()


def _strip_possessive(token: str) -> str:
    return re.sub(r"['’]s$", "", token)


def _name_token(token: str) -> str:
    """Folded, without a possessive ("Donna's" -> "donna")."""
    return fold(_strip_possessive(token))


def _is_common(token: str, common: frozenset[str] | set[str]) -> bool:
    """A common word, or a hyphenated compound of common words ("Self-Petition")."""
    return token in common or all(part in common for part in re.split(r"['’\-]", token) if part)


def find_name_candidates(text: str, facts: CaseFacts | None = None) -> list[NameMention]:
    """Runs of two or more capitalised words (Spanish connectors allowed inside) that are not all common words.

    A word also counts as common when the record itself uses it in lower case.
    """
    common = ALLOWED_WORDS | (facts.lowercase_words if facts else set())
    toks = list(WORD_RE.finditer(text))
    out: list[NameMention] = []
    run: list[re.Match[str]] = []

    def flush() -> None:
        while run and (not _is_capitalised(run[-1].group(0))):
            run.pop()
        name_like = [m for m in run if _is_capitalised(m.group(0)) and not _is_common(_name_token(m.group(0)), common)]
        if len(name_like) >= 2:
            first, last = name_like[0], name_like[-1]
            end = last.end() - (len(last.group(0)) - len(_strip_possessive(last.group(0))))
            out.append(NameMention(first.start(), end, text[first.start():end],
                                   tuple(_name_token(m.group(0)) for m in name_like)))
        run.clear()

    for m in toks:
        tok = m.group(0)
        if run:
            gap = text[run[-1].end():m.start()]
            prev = run[-1].group(0)
            joined = gap == " " or (gap == ". " and len(prev) == 1)
            if not joined:
                flush()
        if _is_capitalised(tok) or (run and tok in CONNECTORS):
            run.append(m)
        else:
            flush()
    flush()
    return out


_SENTENCE_START = re.compile(r"(?:^|[.!?:;][\"'”’)\]]*)\s*$")


def check_names(draft: Draft, facts: CaseFacts) -> list[Finding]:
    """A capitalised multi-word name must occur in the record (as written, or as parts of one party's names).

    Serious when a word of it occurs nowhere in the record (an invented person or place); a warning when
    every word is known but never in that combination.
    """
    out: list[Finding] = []
    for para in paragraphs(draft):
        # Addresses and placeholders have rules of their own: a name inside them is not reported twice.
        skip = [(m.start(), m.end()) for m in ADDRESS_RE.finditer(para.text)]
        skip += [(m.start(), m.end()) for _, pat in PLACEHOLDER_PATTERNS for m in pat.finditer(para.text)]
        for n in find_name_candidates(para.text, facts):
            if any(a <= n.start < b for a, b in skip):
                continue
            if contains_phrase(facts.text, n.text):
                continue
            if any(set(n.tokens) <= party for party in facts.party_name_tokens):
                continue
            unknown = [t for t in n.tokens if t not in facts.vocabulary]
            if unknown == [n.tokens[0]] and _SENTENCE_START.search(para.text[: n.start]):
                # "Yesterday Rodrigo ...": a capitalised first word of a sentence is often no name at all.
                out.append(Finding(rule="name_not_in_record", severity="warning", section_key=para.section_key,
                                   evidence=para.span(n.start, n.end),
                                   message=f"{n.text!r} is not in the case record (unknown: {unknown[0]}, at the "
                                           "start of a sentence: a name, or an ordinary word?)"))
            elif unknown:
                out.append(Finding(rule="name_not_in_record", severity="serious", section_key=para.section_key,
                                   evidence=para.span(n.start, n.end),
                                   message=f"{n.text!r} is not in the case record (unknown: {', '.join(unknown)})"))
            else:
                out.append(Finding(rule="name_combination_not_in_record", severity="warning",
                                   section_key=para.section_key, evidence=para.span(n.start, n.end),
                                   message=f"{n.text!r} does not occur in the case record as written"))
    return out


# --- length ----------------------------------------------------------------------------------------------------


def check_length(draft: Draft, bounds: tuple[int, int]) -> list[Finding]:
    """The requirements file's length band is a practice norm, not a filing rule: outside it is a warning. What
    makes a declaration NOT READY is a missing or ungrounded element, an invented fact or a gap."""
    lo, hi = bounds
    n = draft.word_count()
    if n < lo:
        return [Finding(rule="too_short", severity="warning", message=f"{n} words; a {draft.case_type} declaration usually runs at least {lo}")]
    if n > hi:
        return [Finding(rule="too_long", severity="warning", message=f"{n} words; a {draft.case_type} declaration usually runs at most {hi}")]
    return []


# --- all rules -------------------------------------------------------------------------------------------------


def run_guards(
    draft: Draft, facts: CaseFacts, required: Sequence[tuple[str, str]], bounds: tuple[int, int]
) -> GuardReport:
    findings = (
        check_elements(draft, facts, required)
        + check_citations(draft, facts)
        + check_placeholders(draft)
        + check_dates(draft, facts)
        + check_cited_dates(draft, facts)
        + check_numbers(draft, facts)
        + check_names(draft, facts)
        + check_length(draft, bounds)
    )
    n = draft.word_count()
    gap = max(bounds[0] - n, n - bounds[1], 0)
    return GuardReport(findings=findings, word_count=n, length_gap=gap)
