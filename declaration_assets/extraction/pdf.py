"""PDF pages to text: the text layer where there is one, Tesseract OCR (through pymupdf) where there is not.

Everything here is pure with respect to Dagster: bytes in, pydantic models out. The only side effect is an
optional on-disk cache of per-document results keyed by the PDF's sha256, so an unchanged scanned document is
never OCR'd twice.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

from .language import UNDETERMINED, detect_language, has_ocr_data
from .layout import in_reading_order
from .letters import assign_letters
from .models import DocumentFailure, DocumentInfo, ExhibitLetter, ExtractedCase, PageText
from .ocr import MIN_OSD_CONFIDENCE, detect_orientation, mean_confidence, ocr_words, upright_share, words_to_blocks

# Bump when the extraction output changes, so cached results from an older extractor are not reused.
# 2: orientation detection, column-aware reading order, OCR confidence, py3langid, de-hyphenation, titles.
EXTRACTOR_VERSION = "2"

# An OCR'd page whose mean word confidence is under this is unreliable ("low" quality) and never evidence.
# Measured: clean scans of the sample cases and generated Spanish scans score 94-97; a scan rendered at 40 dpi
# (blurred) 60-61 with half its words wrong; at 30 dpi 44-50; upside-down pages 38-42; noise 17-27
# (docs/BENCHMARKS.md).
MIN_OCR_CONFIDENCE = 75.0

# A page whose text layer holds fewer letters/digits than this has "no text layer" (a scan, perhaps with a
# stamped page number) and is OCR'd.
MIN_TEXT_LAYER_CHARS = 16

DEFAULT_OCR_LANGUAGES = ("eng", "spa")
DEFAULT_OCR_DPI = 300

# Text-extraction flags: no ligatures ("Oﬃce" would never match "Office"), keep MuPDF's block structure.
TEXT_FLAGS = pymupdf.TEXTFLAGS_BLOCKS & ~pymupdf.TEXT_PRESERVE_LIGATURES

TESSERACT_INSTALL_HINT = (
    "install the Debian packages tesseract-ocr, tesseract-ocr-eng and tesseract-ocr-spa "
    "(or set TESSDATA_PREFIX to a folder holding eng.traineddata / spa.traineddata)"
)

_TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/*/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/usr/local/share/tesseract-ocr/*/tessdata",
    "/opt/homebrew/share/tessdata",
)


class NothingExtractable(Exception):
    """No document of the case yielded any text."""


# --------------------------------------------------------------------------------------------- OCR setup


@dataclass(frozen=True)
class OcrSettings:
    """Where Tesseract's language data lives and how pages are rendered for it.

    `tessdata` None means OCR is unavailable; `unavailable_reason` says why and what to install.
    """

    tessdata: str | None
    languages: tuple[str, ...] = DEFAULT_OCR_LANGUAGES
    dpi: int = DEFAULT_OCR_DPI
    unavailable_reason: str | None = None

    @property
    def available(self) -> bool:
        return self.tessdata is not None and bool(self.languages)

    @property
    def language(self) -> str:
        return "+".join(self.languages)


def _has_traineddata(folder: str | os.PathLike[str]) -> bool:
    return Path(folder).is_dir() and any(Path(folder).glob("*.traineddata"))


def find_tessdata(env: dict[str, str] | None = None) -> str | None:
    """Tesseract's language-data folder: TESSDATA_PREFIX if it holds language files, else the usual places."""
    env = os.environ if env is None else env
    prefix = env.get("TESSDATA_PREFIX")
    if prefix:
        for candidate in (prefix, os.path.join(prefix, "tessdata")):
            if _has_traineddata(candidate):
                return str(Path(candidate))
    for pattern in _TESSDATA_CANDIDATES:
        for candidate in sorted(glob.glob(pattern), reverse=True):  # newest Tesseract major first
            if _has_traineddata(candidate):
                return candidate
    return None


def ocr_settings(
    languages: Sequence[str] = DEFAULT_OCR_LANGUAGES,
    dpi: int = DEFAULT_OCR_DPI,
    tessdata: str | None = None,
    env: dict[str, str] | None = None,
) -> OcrSettings:
    """Detect Tesseract's data and keep the wanted languages that are installed."""
    folder = tessdata or find_tessdata(env)
    if folder is None:
        return OcrSettings(None, tuple(languages), dpi, f"OCR is unavailable: no Tesseract language data found; {TESSERACT_INSTALL_HINT}")
    installed = tuple(lang for lang in languages if (Path(folder) / f"{lang}.traineddata").is_file())
    if not installed:
        return OcrSettings(
            None, tuple(languages), dpi,
            f"OCR is unavailable: none of the languages {'+'.join(languages)} is installed in {folder}; "
            f"{TESSERACT_INSTALL_HINT}",
        )
    return OcrSettings(folder, installed, dpi)


# ---------------------------------------------------------------------------------------- page text

# A line ending in "<lowercase letter>-" followed by a line starting with a lowercase letter may be a word broken
# at the line end ("Maece-" + "nas") or a compound that happens to break at its own hyphen ("self-" +
# "petitioner"). No dictionary is installed, so the document decides: the pair is joined with a soft hyphen
# (SOFT_HYPHEN) and resolved once the whole document is read (resolve_line_breaks): "Maecenas" if the document
# spells the word whole elsewhere, else the hyphen stays. Anything else keeps its hyphen and is joined without a
# space: identifiers ("A-123-" + "456", "(713) 555-" + "0139", "23-" + "001874") and hyphenated names
# ("García-" + "López").
_BROKEN_WORD = re.compile(r"[a-zà-öø-ÿ]-$")
SOFT_HYPHEN = "\u00ad"
_SOFT_PAIR = re.compile(r"(\w+)\u00ad(\w+)")
_WORDS = re.compile(r"\w+")


def resolve_line_breaks(texts: Sequence[str]) -> list[str]:
    """Resolve the soft hyphens left by _join_lines against the words of all `texts` (one document)."""
    if not any(SOFT_HYPHEN in t for t in texts):
        return list(texts)
    vocabulary = {w.lower() for t in texts for w in _WORDS.findall(t.replace(SOFT_HYPHEN, "\u2060"))}

    def resolve(m: re.Match[str]) -> str:
        joined = m.group(1) + m.group(2)
        return joined if joined.lower() in vocabulary else f"{m.group(1)}-{m.group(2)}"

    return [_SOFT_PAIR.sub(resolve, t).replace(SOFT_HYPHEN, "-") for t in texts]


def _join_lines(block_text: str) -> str:
    """A block's wrapped lines become one paragraph (see _BROKEN_WORD for line-end hyphens)."""
    out = ""
    for line in (ln.strip() for ln in block_text.splitlines()):
        if not line:
            continue
        if not out:
            out = line
        elif out.endswith("-"):
            if _BROKEN_WORD.search(out) and line[0].islower():
                out = out[:-1] + SOFT_HYPHEN + line
            else:
                out += line
        else:
            out += " " + line
    out = re.sub(r"[ \t\u00a0]{2,}", " ", out)
    # List bullets come out as "•" from the text layer and as "»", "«", "*", "+", "¢" from Tesseract: one form.
    return _BULLET.sub("- ", out)


_BULLET = re.compile(r"^[•·»«*+¢®©°>]+\s+")


def _paragraphs(texts: Iterable[str]) -> list[str]:
    return [p for p in (_join_lines(t) for t in texts) if p]


def blocks_to_text(blocks: Iterable[tuple], page_width: float | None = None) -> str:
    """MuPDF text blocks (x0, y0, x1, y1, text, block_no, type) to page text: one paragraph per block, in
    column-aware reading order (see layout.py) when `page_width` is given, else in the given order; paragraphs
    separated by a blank line. Image blocks are skipped."""
    text_blocks = [b for b in blocks if len(b) > 6 and b[6] == 0]
    if page_width is not None:
        text_blocks = in_reading_order(text_blocks, [tuple(b[:4]) for b in text_blocks], page_width)
    return resolve_line_breaks(["\n\n".join(_paragraphs(b[4] for b in text_blocks))])[0]


def meaningful_chars(text: str) -> int:
    return sum(1 for ch in text if ch.isalnum())


def has_text_layer(text: str) -> bool:
    return meaningful_chars(text) >= MIN_TEXT_LAYER_CHARS


def _page_has_marks(page: pymupdf.Page) -> bool:
    """Whether a page shows anything OCR could read: an image or vector drawings."""
    return bool(page.get_images(full=False)) or bool(page.get_drawings())


def text_direction(page: pymupdf.Page) -> int:
    """The dominant direction of the page's text lines, in degrees clockwise (0 = normal left-to-right lines;
    90 = lines running top to bottom), weighted by characters; 0 when there is no text."""
    weights: dict[int, int] = {}
    for block in page.get_text("dict", flags=TEXT_FLAGS)["blocks"]:
        for line in block.get("lines", ()):
            cos, sin = line["dir"]
            angle = round(math.degrees(math.atan2(sin, cos)) / 90) * 90 % 360
            n = sum(len(span["text"].strip()) for span in line["spans"])
            weights[angle] = weights.get(angle, 0) + n
    return max(weights, key=lambda a: weights[a]) if weights else 0


def _upright_box(box: tuple[float, float, float, float], degrees: int) -> tuple[float, float, float, float]:
    """A block's box in the frame where text running at `degrees` reads left to right."""
    a = math.radians(degrees)
    cos, sin = math.cos(a), math.sin(a)
    xs, ys = [], []
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])):
        xs.append(x * cos + y * sin)
        ys.append(-x * sin + y * cos)
    return (min(xs), min(ys), max(xs), max(ys))


def text_layer_text(page: pymupdf.Page) -> tuple[str, int]:
    """The page's text layer in reading order, and the direction of its text (see text_direction)."""
    blocks = [b for b in page.get_text("blocks", flags=TEXT_FLAGS) if len(b) > 6 and b[6] == 0]
    if not blocks:
        return "", 0
    degrees = text_direction(page)
    boxes = [_upright_box(tuple(b[:4]), degrees) for b in blocks]
    width = max(b[2] for b in boxes) - min(b[0] for b in boxes)
    ordered = in_reading_order(blocks, boxes, max(width, page.rect.width if degrees in (0, 180) else page.rect.height))
    return "\n\n".join(_paragraphs(b[4] for b in ordered)), degrees


# ------------------------------------------------------------------------------------------------ OCR


@dataclass(frozen=True)
class OcrPage:
    text: str
    confidence: float | None  # None = OCR found no words
    rotation: int  # degrees clockwise applied to the page as displayed


def _render(page: pymupdf.Page, dpi: int, rotate: int = 0) -> bytes:
    matrix = pymupdf.Matrix(dpi / 72, dpi / 72).prerotate(rotate)
    return page.get_pixmap(matrix=matrix, colorspace=pymupdf.csGRAY, alpha=False).tobytes("png")


@dataclass(frozen=True)
class _Read:
    text: str
    confidence: float | None
    upright: float  # see ocr.upright_share

    @property
    def score(self) -> float:
        return (self.confidence or 0.0) * self.upright


def _ocr_image(png: bytes, ocr: OcrSettings, dpi: int) -> _Read:
    words = ocr_words(png, ocr.language, ocr.tessdata, dpi)
    blocks = words_to_blocks(words)
    width = max((b.x1 for b in blocks), default=1) - min((b.x0 for b in blocks), default=0)
    ordered = in_reading_order(blocks, [(b.x0, b.y0, b.x1, b.y1) for b in blocks], width)
    return _Read("\n\n".join(_paragraphs(b.text for b in ordered)), mean_confidence(words), upright_share(words))


def ocr_page(page: pymupdf.Page, ocr: OcrSettings) -> OcrPage:
    """OCR a page the right way up.

    Tesseract's orientation detection (OSD, on a half-resolution render) says how to turn the page. When it cannot
    tell (little text, or its confidence is under MIN_OSD_CONFIDENCE) and the page reads badly as displayed (low
    confidence, or sideways word boxes), the other three rotations are tried at half resolution and the best
    (confidence x share of upright words) wins.
    """
    osd_dpi = max(ocr.dpi // 2, 100)
    orientation = detect_orientation(_render(page, osd_dpi), ocr.tessdata, osd_dpi)
    sure = orientation is not None and orientation.confidence >= MIN_OSD_CONFIDENCE
    rotation = orientation.rotate if sure and orientation is not None else 0
    read = _ocr_image(_render(page, ocr.dpi, rotation), ocr, ocr.dpi)
    if not sure and read.confidence is not None and (read.confidence < MIN_OCR_CONFIDENCE or read.upright < 0.8):
        tries = {r: _ocr_image(_render(page, osd_dpi, r), ocr, osd_dpi) for r in (90, 180, 270)}
        best = max(tries, key=lambda r: tries[r].score)
        # Re-read at full resolution only a rotation that reads well: noise reads badly every way up, and each
        # full-resolution pass over it costs tens of seconds.
        if tries[best].score > read.score and (tries[best].confidence or 0.0) >= MIN_OCR_CONFIDENCE:
            rotation = best
            read = _ocr_image(_render(page, ocr.dpi, rotation), ocr, ocr.dpi)
    return OcrPage(read.text, read.confidence, rotation)


def page_quality(confidence: float | None) -> tuple[str, str | None]:
    """('ok', None) or ('low', why) for an OCR'd page."""
    if confidence is not None and confidence < MIN_OCR_CONFIDENCE:
        return "low", f"OCR confidence {confidence:.0f} < {MIN_OCR_CONFIDENCE:.0f}"
    return "ok", None


# ------------------------------------------------------------------------------------------------ titles

_TITLE_MAX_CHARS = 100
_TITLE_MAX_WORDS = 14
_BAD_META_TITLE = re.compile(r"^(untitled|document\d*|microsoft word\b.*)$|\.(docx?|pdf|odt|rtf|txt)$", re.I)


def title_from_file_name(name: str) -> str:
    """'03-police-incident-report.pdf' -> 'Police incident report' (the exhibit title that holds no case text)."""
    stem = re.sub(r"^\d+[\s._-]*", "", Path(name).stem)
    words = re.sub(r"[_-]+", " ", stem).strip()
    return (words[:1].upper() + words[1:]) if words else name


def _heading(paragraph: str) -> str | None:
    """The paragraph's first line when it reads as a heading: short, whole, not a sentence or a fragment."""
    line = paragraph.strip()
    words = line.split()
    if not (3 <= len(line) <= _TITLE_MAX_CHARS) or len(words) > _TITLE_MAX_WORDS or not re.search(r"[^\W\d_]{3}", line):
        return None
    if line[-1] in ",;-–—(" or (line.endswith(".") and len(words) > 6):
        return None
    return line.rstrip(":").strip()


def exhibit_title(meta_title: str, name: str, pages: Sequence[PageText]) -> str:
    """A document's title: its metadata title when it is a real one, else its first heading (among the first three
    paragraphs of its first readable page), else its file name. Never a cut through a sentence."""
    meta_title = " ".join(meta_title.split())
    if meta_title and len(meta_title) <= _TITLE_MAX_CHARS and not _BAD_META_TITLE.search(meta_title):
        return meta_title
    first = next((p for p in pages if p.quality == "ok" and p.text.strip()), None)
    if first is not None:
        for paragraph in first.text.split("\n\n")[:3]:
            heading = _heading(paragraph)
            if heading:
                return heading
    return title_from_file_name(name)


# ------------------------------------------------------------------------------------------ documents


@dataclass
class DocumentResult:
    """One document's extraction, before exhibit letters are assigned."""

    name: str
    title: str = ""
    page_count: int = 0
    pages: list[PageText] = field(default_factory=list)
    failures: list[DocumentFailure] = field(default_factory=list)
    text_seconds: float = 0.0
    ocr_seconds: float = 0.0
    from_cache: bool = False

    @property
    def failed(self) -> bool:
        """The whole document failed (no page with reliable text)."""
        return not any(p.text and p.quality == "ok" for p in self.pages)

    @property
    def languages(self) -> list[str]:
        """Its pages' languages, most pages first, without 'und'."""
        counts: dict[str, int] = {}
        for p in self.pages:
            if p.quality == "ok" and p.language != UNDETERMINED:
                counts[p.language] = counts.get(p.language, 0) + 1
        return sorted(counts, key=lambda lang: (-counts[lang], lang))

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "title": self.title,
                "page_count": self.page_count,
                "pages": [p.model_dump() for p in self.pages],
                "failures": [f.model_dump() for f in self.failures],
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> DocumentResult:
        d = json.loads(raw)
        return cls(
            name=d["name"],
            title=d["title"],
            page_count=d["page_count"],
            pages=[PageText.model_validate(p) for p in d["pages"]],
            failures=[DocumentFailure.model_validate(f) for f in d["failures"]],
            from_cache=True,
        )


def _whole_failure(name: str, reason: str) -> DocumentResult:
    return DocumentResult(name=name, failures=[DocumentFailure(document=name, reason=reason)])


def open_pdf(name: str, data: bytes) -> pymupdf.Document | DocumentResult:
    """The opened document, or the whole-document failure saying why it cannot be read (empty, not a PDF,
    corrupt, encrypted, no pages)."""
    if not data:
        return _whole_failure(name, "empty file (0 bytes): nothing to extract; replace it with the real PDF")
    if b"%PDF-" not in data[:1024]:  # MuPDF would happily open HTML or images; a case exhibit must be a PDF
        return _whole_failure(
            name, "corrupt PDF: the file is not a PDF (no PDF header; perhaps an error page saved as .pdf); "
            "ask for a new copy of the file"
        )
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except pymupdf.EmptyFileError:
        return _whole_failure(name, "empty file: nothing to extract; replace it with the real PDF")
    except (pymupdf.FileDataError, RuntimeError, ValueError) as e:
        return _whole_failure(name, f"corrupt PDF: it cannot be opened ({e}); ask for a new copy of the file")
    pymupdf.TOOLS.mupdf_warnings()  # drop warnings from opening; repair is reported through is_repaired
    if doc.needs_pass:
        doc.close()
        return _whole_failure(
            name, "encrypted PDF: it is password-protected and cannot be read; ask for an unprotected copy"
        )
    if doc.page_count == 0:
        doc.close()
        return _whole_failure(name, "empty PDF: it has no pages")
    return doc


@dataclass
class PageRead:
    """One page as read: its text and how it was read, the time it took, or why it could not be read."""

    number: int
    text: str = ""
    rotation: int = 0
    method: str = "text"
    confidence: float | None = None
    text_seconds: float = 0.0
    ocr_seconds: float = 0.0
    blank_image: bool = False  # an image page that OCR read nothing from
    failure: str | None = None


def read_page(doc: pymupdf.Document, index: int, ocr: OcrSettings) -> PageRead:
    """The page's text layer, or its OCR when it has none but shows marks. Never raises: a damaged page must not
    sink the rest of the document."""
    read = PageRead(number=index + 1)
    number = read.number
    try:
        page = doc[index]
        t0 = time.perf_counter()
        read.text, read.rotation = text_layer_text(page)
        read.text_seconds = time.perf_counter() - t0
        if not has_text_layer(read.text) and _page_has_marks(page):
            if not ocr.available:
                read.failure = f"page {number} has no text layer (a scan) and {ocr.unavailable_reason}"
                return read
            t0 = time.perf_counter()
            scan = ocr_page(page, ocr)
            read.ocr_seconds = time.perf_counter() - t0
            read.text, read.confidence, read.rotation, read.method = scan.text, scan.confidence, scan.rotation, "ocr"
            read.blank_image = not read.text.strip()
    except Exception as e:  # a damaged page must not sink the rest of the document
        read.failure = f"page {number} could not be read: {e}"
    return read


def page_text(name: str, read: PageRead, ocr: OcrSettings, repaired: bool) -> PageText | DocumentFailure:
    """The page as evidence (its language and quality), or why it is none."""
    number = read.number
    if read.failure is not None:
        return DocumentFailure(document=name, page=number, reason=read.failure)
    if repaired and not read.text.strip():
        return DocumentFailure(document=name, page=number, reason=f"page {number} is damaged: no readable content")
    language = detect_language(read.text)
    quality, why = page_quality(read.confidence) if read.method == "ocr" else ("ok", None)
    return PageText(
        document=name, page=number, method=read.method, language=language, text=read.text, rotation=read.rotation,
        ocr_confidence=None if read.confidence is None else round(read.confidence, 1), quality=quality,
        quality_reason=why,
        ocr_language_missing=read.method == "ocr" and not has_ocr_data(language, ocr.tessdata),
    )


def read_pages(doc: pymupdf.Document, name: str, ocr: OcrSettings, repaired: bool) -> tuple[DocumentResult, int]:
    """Every page of the document, in order, and how many image pages OCR read nothing from."""
    result = DocumentResult(name=name, page_count=doc.page_count)
    blank_images = 0
    for index in range(doc.page_count):
        read = read_page(doc, index, ocr)
        result.text_seconds += read.text_seconds
        result.ocr_seconds += read.ocr_seconds
        blank_images += read.blank_image
        outcome = page_text(name, read, ocr, repaired)
        if isinstance(outcome, DocumentFailure):
            result.failures.append(outcome)
        else:
            result.pages.append(outcome)
    return result, blank_images


def with_resolved_line_breaks(pages: Sequence[PageText]) -> list[PageText]:
    """The pages with their line-end hyphens resolved across the whole document (see resolve_line_breaks)."""
    resolved = resolve_line_breaks([p.text for p in pages])
    return [p.model_copy(update={"text": t}) if t != p.text else p for p, t in zip(pages, resolved)]


def document_failure_reason(result: DocumentResult, low: Sequence[PageText], repaired: bool,
                            blank_images: int) -> str:
    """Why no page of a failed document could serve as evidence."""
    if repaired:
        return "corrupt PDF: the file is damaged (truncated or malformed) and no page could be read; ask for a new copy"
    if result.failures:
        return "no page could be extracted: " + "; ".join(f.reason for f in result.failures)
    if low:
        return (f"unreadable scan: OCR of every page is unreliable ({low[0].quality_reason}); "
                "ask for a better scan")
    if blank_images:
        return (f"no text found: OCR ran on {blank_images} image page{'s' * (blank_images > 1)} and read "
                "nothing (blank or too faint a scan?)")
    return "no text found on any page (blank document)"


def extract_document(name: str, data: bytes, ocr: OcrSettings) -> DocumentResult:
    """Extract every page of one PDF. Never raises for a bad document: the reason is in `failures`."""
    opened = open_pdf(name, data)
    if isinstance(opened, DocumentResult):
        return opened
    with opened as doc:
        repaired = doc.is_repaired
        result, blank_images = read_pages(doc, name, ocr, repaired)
        pymupdf.TOOLS.mupdf_warnings()
        result.pages = with_resolved_line_breaks(result.pages)
        result.title = exhibit_title((doc.metadata or {}).get("title") or "", name, result.pages)
    if result.failed:
        low = [p for p in result.pages if p.quality == "low"]
        result.failures = [DocumentFailure(document=name, reason=document_failure_reason(result, low, repaired,
                                                                                          blank_images))]
        result.pages = low  # kept for the report, never as evidence
    return result


def _cache_key(data: bytes, ocr: OcrSettings) -> str:
    h = hashlib.sha256()
    h.update(f"{EXTRACTOR_VERSION}|{pymupdf.VersionBind}|{ocr.language}|{ocr.dpi}|".encode())
    h.update(data)
    return h.hexdigest()


def extract_document_cached(name: str, data: bytes, ocr: OcrSettings, cache_dir: Path | None) -> DocumentResult:
    """`extract_document`, re-using the stored result for identical bytes. Results with failures are never
    stored (installing Tesseract or replacing a file must take effect on the next run)."""
    if cache_dir is None:
        return extract_document(name, data, ocr)
    path = Path(cache_dir) / f"{_cache_key(data, ocr)}.json"
    if path.is_file():
        try:
            cached = DocumentResult.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError):
            cached = None
        if cached is not None:
            # The same bytes may arrive under another file name.
            cached.name = name
            cached.pages = [p.model_copy(update={"document": name}) for p in cached.pages]
            return cached
    result = extract_document(name, data, ocr)
    if not result.failures:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(result.to_json(), encoding="utf-8")
        tmp.replace(path)  # atomic: concurrent runs never read half a file
    return result


# ------------------------------------------------------------------------------------------------ case


def assemble_case(
    case_id: str,
    results: Sequence[DocumentResult],
    ledger: Sequence[ExhibitLetter] = (),
    *,
    include_low_quality: bool = False,
    skipped_files: Sequence[str] = (),
) -> ExtractedCase:
    """Documents that yielded text, with the letters of the updated ledger (see letters.py; a fresh ledger letters
    the documents A, B, C ... in the given order, failed ones included). Low-quality pages go to
    `low_quality_pages`, not `pages`, unless `include_low_quality`. Raises NothingExtractable when no document
    yielded text."""
    letters = assign_letters(ledger, [(r.name, r.failed) for r in results])
    letter_of = {e.document: e.letter for e in letters}
    documents: list[DocumentInfo] = []
    pages: list[PageText] = []
    low: list[PageText] = []
    failures: list[DocumentFailure] = []
    for r in results:
        failures.extend(r.failures)
        low.extend(p for p in r.pages if p.quality == "low")
        if r.failed:
            continue
        documents.append(
            DocumentInfo(name=r.name, title=r.title, pages=r.page_count, exhibit=letter_of[r.name], languages=r.languages)
        )
        pages.extend(p for p in r.pages if include_low_quality or p.quality == "ok")
    if not documents:
        detail = "; ".join(f"{f.document}: {f.reason}" for f in failures) or "the case has no PDF"
        raise NothingExtractable(f"case {case_id}: nothing extractable from any document ({detail})")
    return ExtractedCase(case_id=case_id, documents=documents, pages=pages, failures=failures,
                         low_quality_pages=low, letters=letters, skipped_files=list(skipped_files))


def extract_case(
    case_id: str,
    documents: Iterable[tuple[str, bytes]],
    ocr: OcrSettings | None = None,
    cache_dir: Path | None = None,
    ledger: Sequence[ExhibitLetter] = (),
    *,
    include_low_quality: bool = False,
    skipped_files: Sequence[str] = (),
) -> tuple[ExtractedCase, list[DocumentResult]]:
    """Extract a case's documents (given in document order) and assemble them. Returns the case and the
    per-document results (timings, cache use) for metadata."""
    ocr = ocr or ocr_settings()
    results = [extract_document_cached(name, data, ocr, cache_dir) for name, data in documents]
    case = assemble_case(case_id, results, ledger, include_low_quality=include_low_quality, skipped_files=skipped_files)
    return case, results
