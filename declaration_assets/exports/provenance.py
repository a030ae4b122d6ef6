"""Provenance carried by every output: run id, model configuration, routing file hash, prompt version, date."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..llm.routing_file import routes_path


class Provenance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    case_id: str
    model_config_name: str
    run_id: str
    routing_file: str
    routing_file_sha256: str
    prompt_version: str
    created_at: str  # ISO 8601, UTC
    version: str | None = None  # the versioned output folder's name, once written

    def fields(self) -> list[tuple[str, str]]:
        """(label, value) pairs, in the order documents show them."""
        return [
            ("case", self.case_id),
            ("model configuration", self.model_config_name),
            ("run id", self.run_id),
            ("routing file", self.routing_file),
            ("routing file sha256", self.routing_file_sha256),
            ("prompt version", self.prompt_version),
            ("date", self.created_at),
            ("version", self.version or ""),
        ]

    def one_line(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.fields() if v)


def file_sha256(path: Path) -> str:
    """sha256 of a file, or 'missing' when it cannot be read (recorded rather than failing an export)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def make_provenance(
    case_id: str,
    model_config_name: str,
    run_id: str,
    prompt_version: str,
    *,
    routing_file: Path | None = None,
    now: datetime | None = None,
) -> Provenance:
    path = routing_file or routes_path()
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    return Provenance(
        case_id=case_id,
        model_config_name=model_config_name,
        run_id=run_id,
        routing_file=str(path),
        routing_file_sha256=file_sha256(path),
        prompt_version=prompt_version,
        created_at=stamp.isoformat().replace("+00:00", "Z"),
    )
