"""Extraction on generated PDFs: text layer, OCR of an image-only page, language, broken documents."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from declaration_assets.extraction import pdf as pdfmod
from declaration_assets.extraction.pdf import (
    NothingExtractable,
    OcrSettings,
    assemble_case,
    blocks_to_text,
    extract_case,
    extract_document,
    extract_document_cached,
    find_tessdata,
    ocr_settings,
)
from declaration_assets.extraction.language import detect_language
from declaration_assets.text import exhibit_letter

from .pdfs import (
    LEASE_PAGES,
    MARRIAGE_PAGES,
    POLICE_LINES,
    SPANISH_PAGES,
    corrupt_bytes,
    encrypted_bytes,
    scanned,
    text_pdf,
    to_bytes,
)

NO_OCR = OcrSettings(tessdata=None, unavailable_reason="OCR is unavailable: install tesseract-ocr (test)")


def test_text_layer_pages_are_numbered_and_titled() -> None:
    data = to_bytes(text_pdf(MARRIAGE_PAGES, title="Marriage Certificate - Dallas County"))
    r = extract_document("02-marriage.pdf", data, NO_OCR)
    assert r.failures == []
    assert r.title == "Marriage Certificate - Dallas County"
    assert [(p.page, p.method, p.language) for p in r.pages] == [(1, "text", "en"), (2, "text", "en")]
    assert "June 5, 2018" in r.pages[0].text
    assert "2018-0045512" in r.pages[1].text
    # Blocks become paragraphs separated by blank lines; a heading is its own paragraph.
    assert "Certificate of Marriage\n\nThis certifies" in r.pages[0].text


def test_title_falls_back_to_first_line_without_metadata() -> None:
    r = extract_document("lease.pdf", to_bytes(text_pdf(LEASE_PAGES)), NO_OCR)
    assert r.title == "Residential Lease Agreement"


def test_image_only_page_is_ocrd_and_keeps_its_facts(ocr: OcrSettings) -> None:
    doc = text_pdf([MARRIAGE_PAGES[0], POLICE_LINES])
    mixed = scanned(doc)  # both pages as images
    data = to_bytes(mixed)
    r = extract_document("police.pdf", data, ocr)
    assert r.failures == []
    assert [p.method for p in r.pages] == ["ocr", "ocr"]
    police = r.pages[1].text
    for fact in ("2021-88341", "March 3, 2021", "Whitaker", "4410 Maple Avenue", "Ana Pereira"):
        assert fact in police, f"{fact!r} not found in OCR text: {police!r}"
    assert r.pages[1].language == "en"
    assert r.ocr_seconds > 0


def test_without_tesseract_scanned_pages_fail_with_install_hint() -> None:
    text_page = text_pdf(LEASE_PAGES)
    scan = scanned(text_pdf([POLICE_LINES]))
    text_page.insert_pdf(scan)
    r = extract_document("mixed.pdf", to_bytes(text_page), NO_OCR)
    assert [p.page for p in r.pages] == [1]
    assert len(r.failures) == 1
    assert r.failures[0].page == 2
    assert "no text layer" in r.failures[0].reason and "tesseract-ocr" in r.failures[0].reason


def test_ocr_settings_report_what_to_install(tmp_path: Path) -> None:
    # A folder without the wanted languages is reported as unavailable, naming the packages to install.
    (tmp_path / "fra.traineddata").write_bytes(b"x")
    only_french = ocr_settings(tessdata=str(tmp_path))
    assert not only_french.available
    assert "tesseract-ocr-eng" in (only_french.unavailable_reason or "")
    assert find_tessdata({"TESSDATA_PREFIX": str(tmp_path)}) == str(tmp_path)


def test_spanish_page_is_detected() -> None:
    r = extract_document("notas.pdf", to_bytes(text_pdf(SPANISH_PAGES)), NO_OCR)
    assert r.pages[0].language == "es"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The officer said that she was at the house with her husband when it happened.", "en"),
        ("Ella dijo que su esposo la golpeó en la cocina y que los niños estaban en la casa.", "es"),
        ("2018-0045512 | 77023 | 555-0139", "und"),
        ("", "und"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_broken_documents_are_recorded_and_the_case_proceeds() -> None:
    good = to_bytes(text_pdf(MARRIAGE_PAGES, title="Marriage"))
    lease = to_bytes(text_pdf(LEASE_PAGES, title="Lease"))
    documents = [
        ("01-marriage.pdf", good),
        ("02-encrypted.pdf", encrypted_bytes(text_pdf(LEASE_PAGES))),
        ("03-corrupt.pdf", corrupt_bytes(lease)),
        ("04-empty.pdf", b""),
        ("05-not-a-pdf.pdf", b"<html>error page from a download</html>"),
        ("06-lease.pdf", lease),
    ]
    case, results = extract_case("vawa-0009", documents, NO_OCR)
    reasons = {f.document: f.reason for f in case.failures}
    assert set(reasons) == {"02-encrypted.pdf", "03-corrupt.pdf", "04-empty.pdf", "05-not-a-pdf.pdf"}
    assert "encrypted" in reasons["02-encrypted.pdf"] and "password" in reasons["02-encrypted.pdf"]
    assert reasons["03-corrupt.pdf"].startswith("corrupt PDF")
    assert reasons["04-empty.pdf"].startswith("empty file")
    assert reasons["05-not-a-pdf.pdf"].startswith("corrupt PDF")
    assert all(f.page is None for f in case.failures)
    # Failed documents reserve their letters (for the fixed copy): the good ones are A and F.
    assert [(d.exhibit, d.name) for d in case.documents] == [("A", "01-marriage.pdf"), ("F", "06-lease.pdf")]
    assert [e.status for e in case.letters] == ["active"] + ["unreadable"] * 4 + ["active"]
    assert case.page_text("06-lease.pdf", 1) is not None and "950 dollars" in case.page_text("06-lease.pdf", 1)
    assert case.page_text("02-encrypted.pdf", 1) is None
    assert len(results) == 6


def test_a_case_with_nothing_extractable_says_so() -> None:
    with pytest.raises(NothingExtractable, match="nothing extractable") as info:
        extract_case("vawa-0009", [("a.pdf", b""), ("b.pdf", b"garbage")], NO_OCR)
    assert "a.pdf" in str(info.value) and "b.pdf" in str(info.value)
    with pytest.raises(NothingExtractable, match="no PDF"):
        assemble_case("vawa-0009", [])


def test_blank_page_is_not_ocrd_and_not_a_failure(ocr: OcrSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = text_pdf(LEASE_PAGES)
    doc.new_page()  # blank: no text, no image, no drawing
    calls: list[int] = []
    original = pdfmod.ocr_page

    def spy(page, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(page.number)
        return original(page, *args, **kwargs)

    monkeypatch.setattr(pdfmod, "ocr_page", spy)
    r = extract_document("lease.pdf", to_bytes(doc), ocr)
    assert calls == []
    assert r.failures == []
    assert [(p.page, p.method, p.text) for p in r.pages][1] == (2, "text", "")


def test_extraction_cache_reuses_results_for_identical_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = to_bytes(text_pdf(MARRIAGE_PAGES))
    first = extract_document_cached("a.pdf", data, NO_OCR, tmp_path)
    assert not first.from_cache

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("extracted again although the bytes are unchanged")

    monkeypatch.setattr(pdfmod, "extract_document", boom)
    again = extract_document_cached("renamed.pdf", data, NO_OCR, tmp_path)
    assert again.from_cache
    assert [p.text for p in again.pages] == [p.text for p in first.pages]
    assert {p.document for p in again.pages} == {"renamed.pdf"}


def test_results_with_failures_are_not_cached(tmp_path: Path) -> None:
    extract_document_cached("bad.pdf", b"garbage", NO_OCR, tmp_path)
    assert list(tmp_path.glob("*.json")) == []


def test_exhibit_letters() -> None:
    assert [exhibit_letter(i) for i in (0, 1, 25, 26, 27, 51, 52)] == ["A", "B", "Z", "AA", "AB", "AZ", "BA"]
    with pytest.raises(ValueError):
        exhibit_letter(-1)


def test_wrapped_lines_join_and_keep_hyphens_and_bullets_are_normalised() -> None:
    blocks = [
        (0, 0, 1, 1, "A-number A-219-\n804-356 and the\nrest of the line\n", 0, 0),
        (0, 0, 1, 1, "<image: DeviceGray>", 1, 1),
        (0, 0, 1, 1, "» Phone: (713) 555-0139\n", 2, 0),
    ]
    assert blocks_to_text(blocks) == "A-number A-219-804-356 and the rest of the line\n\n- Phone: (713) 555-0139"


def test_owner_password_only_pdf_is_read() -> None:
    # Encrypted with permissions only (no password needed to open): readable, so not a failure.
    data = text_pdf(LEASE_PAGES).tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="")
    r = extract_document("lease.pdf", data, NO_OCR)
    assert r.failures == [] and "950 dollars" in r.pages[0].text
