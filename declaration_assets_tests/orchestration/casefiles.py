"""Building case folders for orchestration tests: small real PDFs, case.yaml, manifests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pymupdf

CASE_YAML = """case_id: {case_id}
case_type: vawa
language: en
parties:
  - role: declarant
    name: Test Declarant {case_id}
  - role: abuser
    name: Test Abuser
"""


def pdf_bytes(text: str) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), text)
    data = doc.tobytes()
    doc.close()
    return data


def case_files(case_id: str, n_pdfs: int = 2) -> dict[str, bytes]:
    files = {f"{i:02d}-exhibit.pdf": pdf_bytes(f"{case_id} exhibit {i}: I married him on 2015-06-01.") for i in range(1, n_pdfs + 1)}
    files["case.yaml"] = CASE_YAML.format(case_id=case_id).encode()
    return files


def manifest_for(files: dict[str, bytes]) -> bytes:
    entries = [{"name": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in sorted(files.items())]
    return json.dumps({"files": entries}).encode()


def write_case(root: Path, case_id: str, files: dict[str, bytes] | None = None) -> Path:
    folder = root / case_id
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (case_files(case_id) if files is None else files).items():
        (folder / name).write_bytes(data)
    return folder
