"""The declaration's fixed parts and order: the deterministic introduction and attestation, the gap marker of an
element without drafted text, and the order of the sections."""

from __future__ import annotations

from collections.abc import Sequence

from ..cases.models import CaseRecord
from ..requirements.models import CaseRequirements, Element
from ..retrieval.models import ScoredChunk
from ..text import language_name
from . import prompts
from .models import Section

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
