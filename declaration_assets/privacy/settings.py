"""Privacy switches, from the project's settings."""

from __future__ import annotations

from pathlib import Path

from .. import settings

PREVIEWS_ENV = "DECLARATION_UI_PREVIEWS"
# The older name of the same switch (DECLARATION_METADATA_PREVIEWS): either one set to off turns previews off.
LEGACY_PREVIEWS_ENV = settings.LEGACY_PREVIEWS_VAR


def previews_enabled() -> bool:
    """Text previews (declaration, pages, chunks) in asset metadata. DECLARATION_UI_PREVIEWS=0 turns them off for a
    UI shared beyond the case team; asset values themselves stay in the instance's storage either way."""
    return settings.current().ui_previews


# What a metadata value shows in place of case text when previews are off.
WITHHELD = "withheld (DECLARATION_UI_PREVIEWS=0)"


def case_text(text: str, neutral: str = WITHHELD) -> str:
    """`text` (it may quote the documents, case.yaml or a model's answer) when previews are on, else `neutral`."""
    return text if previews_enabled() else neutral


def reason_label(reason: str) -> str:
    """A guard reason ("<rule>: <message quoting the text>") as shown with previews off: the rule name alone."""
    return case_text(reason, reason.split(":", 1)[0].strip())


def redaction_dir() -> Path:
    """Where each case's placeholder map lives (mode 0700 folder, 0600 files)."""
    return settings.current().redaction_dir()
