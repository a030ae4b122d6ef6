"""Writing one version of a declaration's outputs: a new versioned folder, the files, then `latest`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..drafting.models import Draft
from .docx import render_docx
from .markdown import render_markdown
from .provenance import Provenance
from .versioning import create_version_dir, output_base, point_latest, write_new

DECLARATION_MD = "declaration.md"
DECLARATION_DOCX = "declaration.docx"
PROVENANCE_JSON = "provenance.json"


@dataclass(frozen=True)
class WrittenVersion:
    folder: Path
    markdown: str
    files: dict[str, str]  # file name -> absolute path
    provenance: Provenance


def write_declaration_version(
    outputs_dir: Path,
    draft: Draft,
    *,
    status: str,
    reasons: list[str],
    provenance: Provenance,
    filing: str | None = None,
    now: datetime | None = None,
    record_notes: Sequence[str] = (),
) -> WrittenVersion:
    base = output_base(outputs_dir, provenance.case_id, provenance.model_config_name)
    folder = create_version_dir(base, provenance.run_id, now)
    prov = provenance.model_copy(update={"version": folder.name})
    md = render_markdown(draft, status=status, reasons=reasons, provenance=prov, filing=filing,
                         record_notes=record_notes)
    files = {
        DECLARATION_MD: write_new(folder / DECLARATION_MD, md),
        DECLARATION_DOCX: write_new(
            folder / DECLARATION_DOCX, render_docx(draft, status=status, reasons=reasons, provenance=prov, filing=filing,
                                                  record_notes=record_notes)
        ),
        PROVENANCE_JSON: write_new(folder / PROVENANCE_JSON, prov.model_dump_json(indent=2)),
    }
    point_latest(base, folder)
    return WrittenVersion(folder=folder, markdown=md, files={k: str(v) for k, v in files.items()}, provenance=prov)
