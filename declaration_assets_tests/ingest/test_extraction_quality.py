"""What a scanned, rotated, two-column case needs: orientation, reading order, OCR quality, language, titles."""

from __future__ import annotations

import random
from collections.abc import Callable

import pymupdf
import pytest

from declaration_assets.extraction.language import detect_language
from declaration_assets.extraction.layout import reading_order
from declaration_assets.extraction.models import ExtractedCase
from declaration_assets.extraction.pdf import (
    MIN_OCR_CONFIDENCE,
    OcrSettings,
    blocks_to_text,
    exhibit_title,
    extract_case,
    extract_document,
    title_from_file_name,
)

from .pdfs import PAGE, POLICE_LINES, SPANISH_PAGES, scanned, text_pdf, to_bytes

NO_OCR = OcrSettings(tessdata=None, unavailable_reason="OCR is unavailable (test)")
POLICE_FACTS = ("2021-88341", "Whitaker", "4410 Maple Avenue", "Ana Pereira")


# ------------------------------------------------------------------------------------------- orientation


def _rotated_image_pdf(degrees: int, dpi: int = 200) -> pymupdf.Document:
    """A scan whose picture itself is turned (the scanner fed the sheet sideways or upside down)."""
    src = text_pdf([POLICE_LINES])
    pix = src[0].get_pixmap(matrix=pymupdf.Matrix(dpi / 72, dpi / 72).prerotate(degrees), colorspace=pymupdf.csGRAY)
    out = pymupdf.open()
    w, h = (PAGE.height, PAGE.width) if degrees in (90, 270) else (PAGE.width, PAGE.height)
    page = out.new_page(width=w, height=h)
    page.insert_image(page.rect, pixmap=pix)
    return out


def test_scan_saved_with_rotate_90_reads_upright(ocr: OcrSettings) -> None:
    doc = scanned(text_pdf([POLICE_LINES]))
    doc[0].set_rotation(90)  # the viewer shows the page sideways, as the scanner saved it
    r = extract_document("police.pdf", to_bytes(doc), ocr)
    page = r.pages[0]
    assert page.method == "ocr" and page.quality == "ok", page
    for fact in POLICE_FACTS:
        assert fact in page.text, page.text
    assert page.rotation == 270  # turned back against the /Rotate 90
    assert page.ocr_confidence is not None and page.ocr_confidence >= 85


def test_upside_down_picture_is_turned_and_read(ocr: OcrSettings) -> None:
    r = extract_document("police.pdf", to_bytes(_rotated_image_pdf(180)), ocr)
    page = r.pages[0]
    for fact in POLICE_FACTS:
        assert fact in page.text, page.text
    assert page.rotation == 180 and page.quality == "ok" and page.language == "en"


def test_without_orientation_detection_the_best_rotation_wins(ocr: OcrSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    from declaration_assets.extraction import pdf as pdfmod

    monkeypatch.setattr(pdfmod, "detect_orientation", lambda *a, **k: None)  # e.g. no osd data installed
    r = extract_document("police.pdf", to_bytes(_rotated_image_pdf(180)), ocr)
    assert r.pages[0].rotation == 180
    for fact in POLICE_FACTS:
        assert fact in r.pages[0].text, r.pages[0].text
    assert r.pages[0].text.startswith("Police Incident Report")


# ------------------------------------------------------------------------------------------ OCR quality


def _blurred_scan(dpi: int = 30) -> pymupdf.Document:
    """A scan too coarse to read (a fax of a fax): Tesseract guesses, with low confidence."""
    return scanned(text_pdf([POLICE_LINES]), dpi=dpi)


def _noise_pdf(seed: int = 7) -> pymupdf.Document:
    rng = random.Random(seed)
    w, h = 300, 380
    data = bytes(rng.choice((0, 255, 255, 255)) for _ in range(w * h))
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE.width, height=PAGE.height)
    page.insert_image(page.rect, pixmap=pymupdf.Pixmap(pymupdf.csGRAY, w, h, data, False))
    return doc


def test_garbage_pages_are_low_quality_and_never_evidence(ocr: OcrSettings) -> None:
    good = to_bytes(text_pdf([POLICE_LINES]))
    noisy = text_pdf([POLICE_LINES])
    noisy.insert_pdf(_blurred_scan())
    case, _ = extract_case("vawa-0009", [("01-report.pdf", to_bytes(noisy)), ("02-noise.pdf", to_bytes(_blurred_scan(35))),
                                         ("03-good.pdf", good)], ocr)
    low = {(p.document, p.page) for p in case.low_quality_pages}
    assert low == {("01-report.pdf", 2), ("02-noise.pdf", 1)}
    assert all(p.ocr_confidence is not None and p.ocr_confidence < MIN_OCR_CONFIDENCE for p in case.low_quality_pages)
    # Out of the evidence: not among the pages retrieval, drafting and the guards read.
    assert {(p.document, p.page) for p in case.pages} == {("01-report.pdf", 1), ("03-good.pdf", 1)}
    assert case.page_text("01-report.pdf", 2) is None
    # A document with nothing but garbage is unreadable: its letter is reserved, the attorney is told.
    assert [(e.letter, e.document, e.status) for e in case.letters] == [
        ("A", "01-report.pdf", "active"), ("B", "02-noise.pdf", "unreadable"), ("C", "03-good.pdf", "active")]
    assert any("unreadable scan" in f.reason for f in case.failures if f.document == "02-noise.pdf")
    notes = "\n".join(case.review_notes)
    assert "01-report.pdf p. 2: unreliable OCR" in notes and "Exhibit B (02-noise.pdf)" in notes


def test_low_quality_pages_can_be_included_on_request(ocr: OcrSettings) -> None:
    noisy = text_pdf([POLICE_LINES])
    noisy.insert_pdf(_blurred_scan())
    case, _ = extract_case("vawa-0009", [("a.pdf", to_bytes(noisy))], ocr, include_low_quality=True)
    assert [(p.page, p.quality) for p in case.pages] == [(1, "ok"), (2, "low")]


@pytest.mark.parametrize("case_id", ["vawa-0001", "vawa-0002", "tvisa-0001"])
def test_sample_scans_and_spanish_pages_pass_the_quality_bar(
    case_id: str, sample_case: Callable[[str], ExtractedCase]
) -> None:
    case = sample_case(case_id)
    assert case.low_quality_pages == []
    for p in case.ocr_pages:
        assert p.ocr_confidence is not None and p.ocr_confidence >= 85, (p.document, p.page, p.ocr_confidence)
    if case_id == "vawa-0001":
        assert any(p.document == "06-police-incident-report.pdf" for p in case.ocr_pages)
    if case_id == "vawa-0002":
        assert {p.language for p in case.pages_of("01-notas-de-entrevista.pdf")} == {"es"}
        spanish = case.document("01-notas-de-entrevista.pdf")
        assert spanish is not None and spanish.foreign_languages == ["es"]


# -------------------------------------------------------------------------------------------- reading order


def _two_column_pdf(left: list[str], right: list[str], title: str | None = None, footer: str | None = None,
                    ) -> pymupdf.Document:
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE.width, height=PAGE.height)
    css = "body {font-family: serif; font-size: 10pt;} p {margin: 0 0 8pt 0;}"
    top = 60
    if title:
        page.insert_htmlbox(pymupdf.Rect(60, 50, PAGE.width - 60, 110), f"<h2>{title}</h2>", css=css)
        top = 120
    bottom = PAGE.height - (120 if footer else 60)
    mid = PAGE.width / 2
    page.insert_htmlbox(pymupdf.Rect(60, top, mid - 12, bottom), "".join(f"<p>{t}</p>" for t in left), css=css)
    page.insert_htmlbox(pymupdf.Rect(mid + 12, top, PAGE.width - 60, bottom),
                        "".join(f"<p>{t}</p>" for t in right), css=css)
    if footer:
        page.insert_htmlbox(pymupdf.Rect(60, PAGE.height - 110, PAGE.width - 60, PAGE.height - 50),
                            f"<p>{footer}</p>", css=css)
    return doc


def _para(tag: str, n: int = 45) -> str:
    return f"{tag} " + " ".join(f"palabra{tag.lower()}{i}" for i in range(n)) + "."


def _positions(text: str, tags: list[str]) -> list[int]:
    return [text.index(t + " ") for t in tags]


def test_two_columns_of_different_lengths_read_column_by_column() -> None:
    left = [_para(f"L{i}") for i in range(4)]
    right = [_para("R0", 20)]  # the short column: MuPDF's sort=True put it first
    r = extract_document("notas.pdf", to_bytes(_two_column_pdf(left, right, title="Notas de la entrevista")), NO_OCR)
    text = r.pages[0].text
    order = _positions(text, ["Notas", "L0", "L1", "L2", "L3", "R0"])
    assert order == sorted(order), text


def test_latex_style_two_column_page_is_not_interleaved() -> None:
    # Equal columns whose paragraph breaks line up (as LaTeX sets them): every y-gap is shared by both columns.
    left = [_para(f"L{i}", 30) for i in range(4)]
    right = [_para(f"R{i}", 30) for i in range(4)]
    doc = _two_column_pdf(left, right, title="A Study of Two Columns", footer="Footnote 1: a caption set across the whole page, under both columns, as LaTeX sets a figure*.")
    text = extract_document("paper.pdf", to_bytes(doc), NO_OCR).pages[0].text
    order = _positions(text, ["A Study", "L0", "L1", "L2", "L3", "R0", "R1", "R2", "R3", "Footnote"])
    assert order == sorted(order), text


def test_reading_order_keeps_a_form_and_single_column_top_to_bottom() -> None:
    # Label/value pairs of a form (narrow columns) stay row by row; full-width paragraphs stay top to bottom.
    form = [(60, 100, 140, 112), (300, 100, 380, 112), (60, 120, 140, 132), (300, 120, 380, 132)]
    assert reading_order(form, 612) == [0, 1, 2, 3]
    single = [(60, 300, 550, 340), (60, 100, 550, 140), (60, 200, 300, 212)]
    assert reading_order(single, 612) == [1, 2, 0]


def test_centered_lines_above_and_below_the_columns_do_not_hide_them() -> None:
    # Block boxes of page 1 of py-pdf/sample-files 026-latex-multicolumn: title, centered author and date, an
    # abstract at the top of the left column, the right column starting level with it, a centered page number.
    boxes = [(156, 155, 455, 170), (277, 187, 335, 198), (265, 211, 346, 221), (72, 246, 134, 259),
             (72, 271, 301, 292), (72, 295, 301, 507), (72, 510, 301, 639), (72, 642, 301, 675),
             (311, 249, 539, 389), (311, 398, 539, 514), (311, 522, 539, 675), (303, 696, 308, 705)]
    assert reading_order(boxes, 595) == list(range(12))


def test_scanned_two_column_page_reads_column_by_column(ocr: OcrSettings) -> None:
    left = [
        "Primera columna. La clienta dice que su esposo la insultaba todos los dias en la casa.",
        "Cuando ella queria llamar a su familia, el le quitaba el telefono y se lo escondia.",
        "Ella explico que tenia miedo de el porque la amenazaba con llamar a inmigracion.",
    ]
    right = ["Segunda columna. La vecina escucho los gritos y llamo a la policia esa noche."]
    r = extract_document("notas.pdf", to_bytes(scanned(_two_column_pdf(left, right), dpi=200)), ocr)
    text = r.pages[0].text
    assert r.pages[0].method == "ocr" and r.pages[0].language == "es"
    assert text.index("Primera") < text.index("inmigraci") < text.index("Segunda"), text


# --------------------------------------------------------------------------------------------- language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Der Beschwerdeführer wohnte mit seiner Ehefrau in einer kleinen Wohnung in der Stadt und arbeitete dort.",
         "de"),
        ("La requérante a déclaré que son mari la frappait souvent et qu'elle avait peur de rentrer à la maison.",
         "fr"),
        ("Ela disse que o marido a agredia em casa e que tinha medo de chamar a polícia por causa da imigração.",
         "pt"),
        ("Case 23-001874 | 77023 | 555-0139 | A-219-804-356", "und"),
    ],
)
def test_language_identification_covers_more_than_english_and_spanish(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_ocr_page_in_a_language_without_ocr_data_is_flagged(ocr: OcrSettings) -> None:
    german = [["# Aussage", "Der Beschwerdeführer wohnte mit seiner Ehefrau in einer kleinen Wohnung in der Stadt. "
               "Sie hat ihn oft geschlagen und ihm gedroht, die Polizei zu rufen, wenn er etwas sagt."]]
    r = extract_document("aussage.pdf", to_bytes(scanned(text_pdf(german))), ocr)
    page = r.pages[0]
    assert page.language == "de"
    assert page.ocr_language_missing is (not ocr.tessdata or not __import__("pathlib").Path(
        ocr.tessdata, "deu.traineddata").is_file())


def test_line_end_hyphens_join_words_but_not_identifiers_or_names() -> None:
    blocks = [
        (0, 0, 1, 1, "Maece-\nnas tempor and a well-\nknown fact; Maecenas again\n", 0, 0),
        (0, 0, 1, 1, "A-number A-219-\n804-356, phone (713) 555-\n0139, case 23-\n001874\n", 1, 0),
        (0, 0, 1, 1, "Ana Lucía García-\nLópez signed\n", 2, 0),
    ]
    assert blocks_to_text(blocks) == (
        "Maecenas tempor and a well-known fact; Maecenas again\n\n"
        "A-number A-219-804-356, phone (713) 555-0139, case 23-001874\n\n"
        "Ana Lucía García-López signed"
    )


# ----------------------------------------------------------------------------------------------- titles


def test_title_is_the_first_heading_or_the_file_name_never_a_cut() -> None:
    sentence_first = [["Date of birth: February 14, 1990. The declarant arrived in the United States in 2015 and "
                       "has lived in Houston with her two children since then, working as a cook."]]
    r = extract_document("01-intake-questionnaire.pdf", to_bytes(text_pdf(sentence_first)), NO_OCR)
    assert r.title == "Intake questionnaire"
    r = extract_document("notas.pdf", to_bytes(text_pdf(SPANISH_PAGES)), NO_OCR)
    assert r.title == "Notas de la entrevista"
    r = extract_document("x.pdf", to_bytes(text_pdf(SPANISH_PAGES, title="Microsoft Word - notas.docx")), NO_OCR)
    assert r.title == "Notas de la entrevista"
    assert title_from_file_name("06-police_incident-report.pdf") == "Police incident report"
    assert exhibit_title("", "07-protective-order.pdf", []) == "Protective order"


def test_text_layer_set_sideways_records_its_rotation() -> None:
    # A landscape table printed sideways: the text layer is there, its lines run bottom to top.
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE.width, height=PAGE.height)
    paragraphs = [_para(f"P{i}", 25) for i in range(3)]
    page.insert_htmlbox(pymupdf.Rect(60, 60, PAGE.width - 60, PAGE.height - 60),
                        "".join(f"<p>{t}</p>" for t in paragraphs), css="p {margin-bottom: 10pt;}", rotate=90)
    p = extract_document("sideways.pdf", to_bytes(doc), NO_OCR).pages[0]
    assert p.method == "text" and p.rotation in (90, 270)
    order = _positions(p.text, ["P0", "P1", "P2"])
    assert order == sorted(order), p.text
