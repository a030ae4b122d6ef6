"""Suite-wide settings and the real embedded model server fixture."""

from __future__ import annotations

import os

# Offline, deterministic, and no price-table download by litellm. Set before anything imports litellm.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DAGSTER_TELEMETRY_DISABLED", "1")
# Per-server call slots (lock files) of this session, shared with the processes the tests start.
os.environ.setdefault("DECLARATION_SLOTS_DIR", __import__("tempfile").mkdtemp(prefix="declaration-slots-"))

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from declaration_assets import settings  # noqa: E402
from declaration_assets.embedded.server import EmbeddedServer, free_port  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_settings():
    """Every test starts from the settings of the environment and leaves none behind: a test moves a folder or
    changes a knob with `settings.configure(outputs_dir=..., ...)` (or `settings.override(...)` for a block)."""
    settings.configure()
    yield
    settings.configure()


@pytest.fixture(scope="session")
def embedded_api_base(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real llama.cpp server with SmolLM2-135M on a free port, started once for the session and always stopped.

    Sets DECLARATION_EMBEDDED_API_BASE so the packaged routing file points at it.
    """
    run_dir: Path = tmp_path_factory.mktemp("embedded_server")
    server = EmbeddedServer(port=free_port(), run_dir=run_dir)
    api_base = server.start()
    previous = os.environ.get("DECLARATION_EMBEDDED_API_BASE")
    os.environ["DECLARATION_EMBEDDED_API_BASE"] = api_base
    try:
        yield api_base
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("DECLARATION_EMBEDDED_API_BASE", None)
        else:
            os.environ["DECLARATION_EMBEDDED_API_BASE"] = previous
