"""Privileged case data stays where it may go.

- `catalog`: what is sensitive in a case (from `case.yaml`), as match patterns and as verification needles.
- `recognizers`: pattern recognizers for identifiers that appear in documents but not in `case.yaml`.
- `redaction`: text -> stable placeholders (`[PERSON_1]`, `[PHONE_2]`) and back.
- `store`: the per-case placeholder map on disk (mode 0600, never logged).
- `gate`: what the LLM privacy gate calls before an outbound request.
- `purge`: one command that removes a case from everywhere the project put it.
"""
