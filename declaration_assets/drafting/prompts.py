"""Prompts of the drafting stage (named constants; the asset never holds prompt text)."""

from __future__ import annotations

# Bump when a prompt or a deterministic template changes: it is recorded in every draft's provenance.
DRAFT_PROMPT_VERSION = "draft-v1"

DRAFTER_SYSTEM = (
    "You help an immigrant write their own sworn statement. You write ONLY in the first person, as the "
    "person themself: use I, me, my. Use plain, simple words. Use only facts found in the passages you are "
    "given; never invent names, dates, places or numbers. After every sentence, copy the label of the "
    "passage it comes from, exactly as written, for example [Ex. B, p. 2]. Do not add titles, lists, notes "
    "or comments about the task."
)

# Slots: {element_title}, {must_show}, {evidence} (the evidence slot is filled and shrunk by the router).
DRAFTER_USER = (
    "Part of my statement: {element_title}.\n"
    "What this part must show: {must_show}\n\n"
    "Passages from my records, most relevant first. Each starts with its label:\n"
    "{evidence}\n\n"
    "Write 3 to 6 sentences in my own voice (I, me, my) telling these facts. "
    "End each sentence with the label of the passage it uses."
)

# Deterministic templates (no model): introduction and closing attestation.
ROLE_NOUN = {"vawa": "self-petitioner", "t_visa": "applicant"}
FILING_NOUN = {"vawa": "self-petition", "t_visa": "application"}

INTRO_OPENING = "I, {name}, declare as follows:"
INTRO_PURPOSE = (
    "I am the {role_noun} in this {title} (Form {form}). I make this declaration in support of my "
    "{filing_noun}. Everything I say here I know from my own experience, and the documents I refer to are "
    "listed as exhibits at the end of this declaration."
)
INTRO_CITIZENSHIP = "I am a citizen of {citizenship}."
INTRO_LANGUAGE = (
    "My own language is {language}. This declaration was prepared in English from what I said in {language}, "
    "and it was read back to me in {language} before I signed it."
)

CLOSING_ATTESTATION = (
    "I declare under penalty of perjury under the laws of the United States of America that the foregoing "
    "is true and correct to the best of my knowledge and belief."
)
CLOSING_SIGNATURE = "Signed: ______________________________  Date: ______________\n{name}"

# A section the pipeline could not draft honestly. Guards look for GAP_MARKER; it must never reach a filing.
GAP_MARKER = "[DRAFTING GAP"
GAP_NO_EVIDENCE = (
    GAP_MARKER + ": no evidence for \"{element_title}\" was found in the case record. The attorney must "
    "gather facts for this element with the client.]"
)
GAP_NO_TEXT = (
    GAP_MARKER + ": the drafting model produced no usable first-person text for \"{element_title}\" ({reason}). "
    "Evidence to draft from: {citations}.]"
)
