"""Privacy switches read from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from .. import settings

PREVIEWS_ENV = "DECLARATION_UI_PREVIEWS"
# The extraction stage's older name for the same switch; either one set to off turns previews off.
LEGACY_PREVIEWS_ENV = "DECLARATION_METADATA_PREVIEWS"
_OFF = {"0", "false", "no", "off"}


def previews_enabled() -> bool:
    """Text previews (declaration, pages, chunks) in asset metadata. DECLARATION_UI_PREVIEWS=0 turns them off for a
    UI shared beyond the case team; asset values themselves stay in the instance's storage either way."""
    for var in (PREVIEWS_ENV, LEGACY_PREVIEWS_ENV):
        if os.environ.get(var, "1").strip().lower() in _OFF:
            return False
    return True


def redaction_dir() -> Path:
    """Where each case's placeholder map lives (mode 0700 folder, 0600 files)."""
    return settings.CACHE_DIR / "redaction"
