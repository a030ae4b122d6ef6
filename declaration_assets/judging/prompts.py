"""Prompts of the judging stage: a rubric, distinct judge personas, and the retry instruction."""

from __future__ import annotations

from dataclasses import dataclass

from .models import CRITERIA

JUDGE_PROMPT_VERSION = "judge-v3"

CRITERION_TEXT = {
    "supported_by_evidence": "every fact in the section is backed by the cited evidence passages",
    "legally_sufficient": "the section establishes what the legal element requires",
    "consistent": "no contradiction inside the section or with the evidence (dates, names, places, order of events)",
    "first_person_voice": "written in the declarant's own first-person voice (I, me, my), plain and natural",
}


@dataclass(frozen=True)
class Persona:
    """How one judge reads a section. Judges sharing a model get different personas, so they are not clones."""

    name: str
    system: str
    criteria_order: tuple[str, ...]

    def __post_init__(self) -> None:
        if sorted(self.criteria_order) != sorted(CRITERIA):
            raise ValueError(f"persona {self.name}: criteria_order must be a permutation of {CRITERIA}")


PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="supervising attorney",
        system=(
            "You are a supervising immigration attorney reviewing one section of a client's sworn declaration "
            "before filing. You care first about whether the section proves the legal element. Be strict: a "
            "score of 5 means ready to file. Answer with one JSON object only."
        ),
        criteria_order=("legally_sufficient", "supported_by_evidence", "consistent", "first_person_voice"),
    ),
    Persona(
        name="evidence reviewer",
        system=(
            "You check citations in legal declarations. For each sentence, look at the cited passage and decide "
            "whether it says that. Unsupported facts lower the score a lot. Answer with one JSON object only."
        ),
        criteria_order=("supported_by_evidence", "consistent", "legally_sufficient", "first_person_voice"),
    ),
    Persona(
        name="adjudicating officer",
        system=(
            "You are a USCIS officer deciding whether this part of a declaration is credible: detailed, "
            "consistent with the evidence, and in the applicant's own voice. Answer with one JSON object only."
        ),
        criteria_order=("consistent", "first_person_voice", "legally_sufficient", "supported_by_evidence"),
    ),
    Persona(
        name="plain-language editor",
        system=(
            "You edit declarations written for people who tell their own story. You read for a natural "
            "first-person voice, then for facts that match the evidence. Answer with one JSON object only."
        ),
        criteria_order=("first_person_voice", "supported_by_evidence", "legally_sufficient", "consistent"),
    ),
)

# Slots: {element_title}, {must_show}, {sources}, {section}, {rubric}, {schema}; {evidence} is filled by the router.
JUDGE_USER = (
    "Legal element: {element_title} ({sources}).\n"
    "It must show: {must_show}\n\n"
    "Section of the declaration:\n\"\"\"\n{section}\n\"\"\"\n\n"
    "Evidence passages cited by the section:\n{evidence}\n\n"
    "Score each criterion from 1 (very poor) to 5 (excellent):\n{rubric}\n\n"
    "Reply with only this JSON object, integers 1-5 and a short reason:\n{schema}"
)

JUDGE_RETRY = (
    "\n\nYour previous answer could not be used: {error}\n"
    "Reply again with ONLY the JSON object, exactly these keys, integer scores from 1 to 5:\n{schema}"
)


JUDGE_RETRY_MISSING = (
    "\n\nYour previous answer could not be used: {error}\n"
    "You already gave: {given}\n"
    "Reply with ONLY a JSON object with the missing keys:\n{schema}"
)


def rubric_lines(persona: Persona) -> str:
    return "\n".join(f"- {c}: {CRITERION_TEXT[c]}" for c in persona.criteria_order)


def answer_schema(persona: Persona, only: set[str] | None = None) -> dict:
    """The rubric answer as a JSON schema, keys in the persona's order: servers that can (llama.cpp grammars,
    Ollama, OpenAI-style structured outputs) constrain the judge's answer to it. Still validated afterwards."""
    keys = [c for c in persona.criteria_order if only is None or c in only]
    props: dict = {c: {"type": "integer", "minimum": 1, "maximum": 5} for c in keys}
    if only is None or "reasons" in only:
        props["reasons"] = {"type": "string", "minLength": 1}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def schema_example(persona: Persona, only: set[str] | None = None) -> str:
    keys = [f'"{c}": <1-5>' for c in persona.criteria_order if only is None or c in only]
    if only is None or "reasons" in only:
        keys.append('"reasons": "<one or two sentences>"')
    return "{" + ", ".join(keys) + "}"
