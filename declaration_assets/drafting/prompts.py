"""Prompts of the drafting stage (named constants; the asset never holds prompt text)."""

from __future__ import annotations

# Bump when a prompt, a template or the post-processing changes: it is the asset code version and is recorded in
# every draft's provenance.
DRAFT_PROMPT_VERSION = "draft-v5"

# Written for a very small model (SmolLM2-135M): short, concrete, evidence first, no legal wording it could parrot.
# The element's legal test stays out of the prompt on purpose: small models copy it back as if it were a fact.
DRAFTER_SYSTEM = (
    "You write part of a person's sworn statement in their own voice. Write as the person: use I, me, my. "
    "Use only facts from the notes you are given. Never add names, dates, places or numbers that are not in "
    "the notes. Write only the sentences, nothing else."
)
# Separates evidence items inside the "Note:" slot.
EVIDENCE_SEPARATOR = "\nNote: "

# Slots: {element_title}; {evidence} is filled (and shrunk, lowest-ranked first) by the router.
# The worked example uses a name, a place and years no case holds: copied into an answer, those sentences are
# dropped by the pipeline as unsupported by the evidence.
DRAFTER_USER = (
    "Example.\n"
    "Note: [Ex. Q, p. 7] The client said: \"I studied nursing at Escuela Santa Brigida in Xelaju from 1987 "
    "to 1989. My teacher Dona Abelina helped me.\"\n"
    "Sentences: I studied nursing at Escuela Santa Brigida in Xelaju from 1987 to 1989 [Ex. Q, p. 7]. "
    "My teacher Dona Abelina helped me [Ex. Q, p. 7].\n\n"
    "Now my notes about {element_title}. Each note starts with its label.\n"
    "Note: {evidence}\n"
    "Rewrite the facts in my notes as 2 or 3 short sentences in my own voice (I, me, my), each ending with the "
    "label of its note.\n"
    "Sentences:"
)

# The `capable` profile: one call per element with all of its ranked evidence and the case's structured facts.
# Slots: {element_title}, {must_show}, {case_facts}, {words}, {paragraphs}; {evidence} is filled by the router.
DRAFTER_CAPABLE_SYSTEM = (
    "You draft one section of a sworn declaration for an immigration filing, in the declarant's own voice: the "
    "first person (I, me, my), plain and concrete words, a chronological narrative. Use only facts stated in "
    "the case facts and the evidence passages; never add a name, date, place or number they do not hold. "
    "Passages may be in another language: translate what the declarant said faithfully into English. "
    "What other people did stays theirs (\"he hit me\", never \"I hit him\"); what a letter, report or staff "
    "note says about the declarant is not her own statement unless it quotes her; never copy a staff or "
    "attorney note. After every sentence, cite the passage it comes from with its label exactly as written, "
    "for example [Ex. B, p. 2]; a sentence drawing on two passages cites both. Answer with the section's "
    "paragraphs only: no heading, no notes, no comments."
)
DRAFTER_CAPABLE_USER = (
    "Section: {element_title}.\n"
    "What this section must show: {must_show}\n\n"
    "Case facts (from the case file):\n{case_facts}\n\n"
    "Evidence passages, best first. Each starts with its label:\n\n{evidence}\n\n"
    "Write this section as about {words} words in {paragraphs} paragraphs, separated by a blank line, in "
    "chronological order, every sentence ending with the label of its passage."
)
DRAFTER_CAPABLE_SEPARATOR = "\n\n"
# A continuation request repeats the answer so far after this line (the answer stopped at its token limit).
CONTINUE_MARKER = "Your answer so far (continue it exactly where it stops):"
CONTINUE_USER = "\n\n" + CONTINUE_MARKER + "\n{so_far}"

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
