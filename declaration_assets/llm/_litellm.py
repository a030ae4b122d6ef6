"""The one place the package imports litellm.

Importing litellm fetches its model price map from the network unless LITELLM_LOCAL_MODEL_COST_MAP is set when
litellm is first imported; nothing here may reach the network at import time (and the map is never needed: the
router registers every deployment's window and price itself). Every module of the package that needs litellm
imports it from here (`from ._litellm import litellm`), so the variable is set before the first import whichever
module a process loads first. A value the environment already holds is respected.
"""

from __future__ import annotations

import os

# A write for a third-party library, not a setting of the project: litellm reads this variable itself, once, at its
# own import (which must stay offline), so it cannot come from the project's settings object.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

litellm.suppress_debug_info = True  # no "Give Feedback" banners in run logs

__all__ = ["litellm"]
