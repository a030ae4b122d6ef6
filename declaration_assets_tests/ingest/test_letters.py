"""Exhibit letters assigned once per case: a fixed, added or removed document never re-letters the others."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.extraction.assets import ExtractionConfig, extracted_text
from declaration_assets.extraction.letters import (
    LEDGER_FILE,
    assign_letters,
    ledger_path,
    letter_index,
    load_ledger,
)
from declaration_assets.extraction.models import ExhibitLetter
from declaration_assets.text import exhibit_letter

from .pdfs import LEASE_PAGES, MARRIAGE_PAGES, POLICE_LINES, corrupt_bytes, text_pdf, to_bytes, write_case

CASE_ID = "vawa-0043"


def _letters(entries: list[ExhibitLetter]) -> list[tuple[str, str, str]]:
    return [(e.letter, e.document, e.status) for e in entries]


def test_letter_index_inverts_exhibit_letter() -> None:
    assert all(letter_index(exhibit_letter(i)) == i for i in range(0, 800, 7))


def test_fresh_case_is_lettered_in_document_order_failed_documents_included() -> None:
    got = assign_letters([], [("01.pdf", True), ("02.pdf", False), ("03.pdf", False)])
    assert _letters(got) == [("A", "01.pdf", "unreadable"), ("B", "02.pdf", "active"), ("C", "03.pdf", "active")]


def test_fixed_added_and_removed_documents_keep_everyone_elses_letter() -> None:
    first = assign_letters([], [("01.pdf", True), ("02.pdf", False), ("03.pdf", False)])
    # 01 fixed, 03 removed, 00 added (sorts first, but gets the next letter never used), 04 added.
    second = assign_letters(first, [("00.pdf", False), ("01.pdf", False), ("02.pdf", False), ("04.pdf", False)])
    assert _letters(second) == [
        ("A", "01.pdf", "active"), ("B", "02.pdf", "active"), ("C", "03.pdf", "retired"),
        ("D", "00.pdf", "active"), ("E", "04.pdf", "active"),
    ]
    # The removed document comes back: its own letter, not a new one.
    third = assign_letters(second, [("00.pdf", False), ("01.pdf", False), ("02.pdf", False), ("03.pdf", False)])
    assert ("C", "03.pdf", "active") in _letters(third) and ("E", "04.pdf", "retired") in _letters(third)


def _run(root: Path) -> dg.Output:
    context = dg.build_asset_context(partition_key=CASE_ID)
    record = LocalCaseStorage(roots=[str(root)]).read_case_record(CASE_ID)
    return extracted_text(context, config=ExtractionConfig(), case_record=record,
                          case_storage=LocalCaseStorage(roots=[str(root)]))


def test_fixing_a_failed_first_pdf_keeps_the_old_letters(tmp_path: Path, isolated_cache: Path) -> None:
    marriage = to_bytes(text_pdf(MARRIAGE_PAGES, title="Certificate of Marriage"))
    inbox = tmp_path / "inbox"
    folder = write_case(inbox, CASE_ID, {
        "01-marriage.pdf": corrupt_bytes(marriage),
        "02-police.pdf": to_bytes(text_pdf([POLICE_LINES])),
        "03-lease.pdf": to_bytes(text_pdf(LEASE_PAGES)),
    })
    before = _run(inbox).value
    assert [(d.exhibit, d.name) for d in before.documents] == [("B", "02-police.pdf"), ("C", "03-lease.pdf")]
    ledger = ledger_path(settings.current().outputs_dir, CASE_ID)
    assert ledger == isolated_cache.parent / "outputs" / CASE_ID / LEDGER_FILE and ledger.is_file()
    assert _letters(load_ledger(ledger))[0] == ("A", "01-marriage.pdf", "unreadable")

    (folder / "01-marriage.pdf").write_bytes(marriage)  # the attorney replaces the broken download
    after = _run(inbox).value
    assert [(d.exhibit, d.name) for d in after.documents] == [
        ("A", "01-marriage.pdf"), ("B", "02-police.pdf"), ("C", "03-lease.pdf")]
    assert after.failures == []


def test_a_damaged_ledger_stops_the_run_instead_of_re_lettering(tmp_path: Path, isolated_cache: Path) -> None:
    write_case(tmp_path / "inbox", CASE_ID, {"a.pdf": to_bytes(text_pdf(LEASE_PAGES))})
    ledger = ledger_path(settings.current().outputs_dir, CASE_ID)
    ledger.parent.mkdir(parents=True)
    ledger.write_text("{not json", encoding="utf-8")
    with pytest.raises(dg.Failure, match="ledger .* is damaged"):
        _run(tmp_path / "inbox")
    assert ledger.read_text(encoding="utf-8") == "{not json"


def test_purge_removes_the_ledger(tmp_path: Path, isolated_cache: Path) -> None:
    from declaration_assets.privacy.purge import Targets, purge_case

    write_case(tmp_path / "inbox", CASE_ID, {"a.pdf": to_bytes(text_pdf(LEASE_PAGES))})
    _run(tmp_path / "inbox")
    ledger = ledger_path(settings.current().outputs_dir, CASE_ID)
    assert json.loads(ledger.read_text(encoding="utf-8"))["letters"][0]["letter"] == "A"
    targets = Targets(outputs_dir=settings.current().outputs_dir, call_log=tmp_path / "calls.jsonl",
                      llm_cache=tmp_path / "llm.sqlite", extraction_cache=isolated_cache / "extraction",
                      embeddings_dir=tmp_path / "emb", redaction_dir=tmp_path / "maps",
                      case_dirs=[tmp_path / "inbox"], inbox_dir=tmp_path / "inbox")
    purge_case(CASE_ID, targets=targets)
    assert not ledger.exists()
