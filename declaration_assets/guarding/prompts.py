"""Prompts of the guard rewrite (named constants; the asset holds no prompt text)."""

from __future__ import annotations

# Bump when a prompt below changes: it is recorded in every output's provenance.
GUARD_PROMPT_VERSION = "guard-v1"

GUARD_SYSTEM = (
    "You revise one part of an immigrant's own sworn statement. Write ONLY in the first person (I, me, my), "
    "in plain words. Use only facts found in the passages you are given; never invent names, dates, places "
    "or numbers. After every sentence, copy the label of the passage it comes from, exactly as written, for "
    "example [Ex. B, p. 2]. Never write placeholders such as [NAME] or {evidence}. Answer with the revised "
    "text only: no title, no notes, no comments about the task."
)

# Slots: {title}, {must_show}, {problems}, {current}, {evidence} (the evidence slot is filled by the router).
GUARD_USER = (
    "Part of my statement: {title}.\n"
    "What this part must show: {must_show}\n\n"
    "Problems found in the current text (fix every one):\n{problems}\n\n"
    "Current text:\n{current}\n\n"
    "Passages from my records. Each starts with its label:\n"
    "{evidence}\n\n"
    "Write the corrected part: 3 to 8 sentences in my own voice, each ending with the label of its passage."
)

MUST_SHOW_FALLBACK = "the facts of this part, in my own words, each with its source."
PROBLEM_LINE = "- {text}"
