"""The `extracted_text` and `chunk_index` assets: called as functions and materialized together."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.cases.assets import case_record
from declaration_assets.cases.models import CaseRecord, Party
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.extraction.assets import ExtractionConfig, extracted_text
from declaration_assets.extraction.models import ExtractedCase
from declaration_assets.extraction.pdf import OcrSettings
from declaration_assets.retrieval.assets import chunk_index
from declaration_assets.retrieval.embeddings import Embedder
from declaration_assets.retrieval.models import ChunkIndex

from .pdfs import (
    LEASE_PAGES,
    MARRIAGE_PAGES,
    POLICE_LINES,
    corrupt_bytes,
    encrypted_bytes,
    scanned,
    text_pdf,
    to_bytes,
    write_case,
)

CASE_ID = "vawa-0042"


def _good_case(root: Path) -> Path:
    lease = to_bytes(text_pdf(LEASE_PAGES, title="Residential Lease"))
    return write_case(
        root,
        CASE_ID,
        {
            "01-marriage.pdf": to_bytes(text_pdf(MARRIAGE_PAGES, title="Certificate of Marriage")),
            "02-encrypted.pdf": encrypted_bytes(text_pdf(LEASE_PAGES)),
            "03-police-scan.pdf": to_bytes(scanned(text_pdf([POLICE_LINES]))),
            "04-corrupt.pdf": corrupt_bytes(lease),
            "05-lease.pdf": lease,
            "notes.txt": b"not a PDF, ignored",
        },
    )


def _record() -> CaseRecord:
    return CaseRecord(case_id=CASE_ID, case_type="vawa", parties=(Party(role="declarant", name="Ana Lucia Pereira"),))


def _run_extracted_text(root: Path) -> dg.Output:
    context = dg.build_asset_context(partition_key=CASE_ID)
    return extracted_text(context, config=ExtractionConfig(), case_record=_record(),
                          case_storage=LocalCaseStorage(roots=[str(root)]))


def test_extracted_text_as_a_function(tmp_path: Path, isolated_cache: Path, ocr: OcrSettings) -> None:
    _good_case(tmp_path)
    out = _run_extracted_text(tmp_path)
    case = out.value
    assert isinstance(case, ExtractedCase) and case.case_id == CASE_ID
    assert [(d.exhibit, d.name) for d in case.documents] == [
        ("A", "01-marriage.pdf"), ("C", "03-police-scan.pdf"), ("E", "05-lease.pdf")
    ]
    assert {f.document for f in case.failures} == {"02-encrypted.pdf", "04-corrupt.pdf"}
    meta = out.metadata
    assert meta["pages"].value == 4
    assert meta["ocr_pages"].value == 1
    assert meta["ocr_page_list"].value == "03-police-scan.pdf p.1"
    assert meta["failed_documents"].value == 2
    assert "password-protected" in meta["failures"].value and "04-corrupt.pdf" in meta["failures"].value
    assert meta["case_type"].value == "vawa"
    rows = meta["document_table"].value.records
    assert [r.data["exhibit"] for r in rows] == ["A", "C", "E"]
    assert meta["skipped_files"].value == "notes.txt"
    assert "| B | 02-encrypted.pdf | unreadable |" in meta["exhibit_letters"].value
    assert rows[1].data["ocr_pages"] == 1
    assert "Ex. A" in meta["preview"].value
    # The extraction cache is under settings.current().cache_dir and re-used by a second run.
    assert list((isolated_cache / "extraction").glob("*.json"))
    again = _run_extracted_text(tmp_path)
    assert again.metadata["documents_from_cache"].value == 3
    assert again.value == case


def test_previews_can_be_turned_off(tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_case(tmp_path, CASE_ID, {"a.pdf": to_bytes(text_pdf(LEASE_PAGES))})
    settings.configure(ui_previews=False)
    assert "preview" not in _run_extracted_text(tmp_path).metadata




def test_missing_case_fails_clearly(tmp_path: Path, isolated_cache: Path) -> None:
    with pytest.raises(dg.Failure, match="not found"):
        _run_extracted_text(tmp_path)


def test_nothing_extractable_fails_and_says_so(tmp_path: Path, isolated_cache: Path) -> None:
    write_case(tmp_path, CASE_ID, {"a.pdf": b"", "b.pdf": encrypted_bytes(text_pdf(LEASE_PAGES))})
    with pytest.raises(dg.Failure) as info:
        _run_extracted_text(tmp_path)
    assert "nothing extractable" in info.value.description
    assert "a.pdf" in info.value.description and "encrypted" in info.value.description


def test_materialize_both_assets_and_reindex_without_embedding(
    tmp_path: Path, isolated_cache: Path, embedder: Embedder
) -> None:
    write_case(
        tmp_path,
        CASE_ID,
        {
            "01-marriage.pdf": to_bytes(text_pdf(MARRIAGE_PAGES, title="Certificate of Marriage")),
            "02-corrupt.pdf": corrupt_bytes(to_bytes(text_pdf(LEASE_PAGES))),
            "03-lease.pdf": to_bytes(text_pdf(LEASE_PAGES, title="Residential Lease")),
        },
    )
    resources = {"case_storage": LocalCaseStorage(roots=[str(tmp_path)]), "embedder": embedder}
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("cases", [CASE_ID])
        runs = [
            dg.materialize([case_record, extracted_text, chunk_index], partition_key=CASE_ID, resources=resources,
                           instance=instance)
            for _ in range(2)
        ]
        assert all(r.success for r in runs)
        index = runs[1].output_for_node("chunk_index")
        first_meta = {
            e.asset_key.path[-1]: e.materialization.metadata for e in runs[0].get_asset_materialization_events()
        }
        second_meta = {
            e.asset_key.path[-1]: e.materialization.metadata for e in runs[1].get_asset_materialization_events()
        }
        recorded = instance.get_latest_materialization_event(dg.AssetKey("chunk_index"))
        assert recorded is not None and recorded.dagster_event.partition == CASE_ID
    assert isinstance(index, ChunkIndex) and index.case_id == CASE_ID
    assert {c.exhibit for c in index.chunks} == {"A", "C"}
    assert first_meta["extracted_text"]["failed_documents"].value == 1
    n = first_meta["chunk_index"]["chunks"].value
    assert n == len(index.chunks) > 0
    assert first_meta["chunk_index"]["embedding_dim"].value == 384
    # Re-indexing the unchanged case computes no embedding.
    assert second_meta["chunk_index"]["embeddings_computed"].value == 0
    assert second_meta["chunk_index"]["embeddings_from_cache"].value == n
    assert second_meta["extracted_text"]["documents_from_cache"].value == 2
