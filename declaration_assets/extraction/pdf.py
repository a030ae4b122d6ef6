"""PDF pages to text: the text layer where there is one, Tesseract OCR (through pymupdf) where there is not.

Everything here is pure with respect to Dagster: bytes in, pydantic models out. The only side effect is an
optional on-disk cache of per-document results keyed by the PDF's sha256, so an unchanged scanned document is
never OCR'd twice.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

from .models import DocumentFailure, DocumentInfo, ExtractedCase, PageText

# Bump when the extraction output changes, so cached results from an older extractor are not reused.
EXTRACTOR_VERSION = "1"

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


# ------------------------------------------------------------------------------------- language detection

# Per-page language from stop words. There is no offline language-identification model among our packages,
# and the case documents are English or Spanish: the share of each language's most frequent function words
# separates the two reliably on any page with a few sentences. Words shared by both ("a", "no", "me") count
# for neither. Too few hits means "und" (undetermined, ISO 639-2), e.g. for a page of numbers.
_EN_STOP = frozenset(
    "the and of to in is was that for on with as by at from this be are were it he she his her they them "
    "we our you your i my an or not have has had which would will there their been who what when".split()
)
_ES_STOP = frozenset(
    "el la los las de del y en que por para con un una es fue era se su sus lo al como pero más muy "
    "mi mis yo él ella ellos nos le les ya cuando porque también sobre entre hasta desde sin está estaba "
    "fueron tiene tenía hay este esta esto eso".split()
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
MIN_LANGUAGE_HITS = 3


def detect_language(text: str) -> str:
    """'en', 'es' or 'und' for a page of text."""
    words = [w.lower() for w in _WORD.findall(text)]
    en = sum(1 for w in words if w in _EN_STOP)
    es = sum(1 for w in words if w in _ES_STOP)
    if max(en, es) < MIN_LANGUAGE_HITS:
        return "und"
    if en == es:
        # Accented letters and ñ are a strong Spanish signal when the counts tie.
        return "es" if re.search(r"[ñáéíóúü¿¡]", text.lower()) else "en"
    return "en" if en > es else "es"


# ---------------------------------------------------------------------------------------- page text


def _join_lines(block_text: str) -> str:
    """A block's wrapped lines become one paragraph; a line ending in '-' is joined without a space, keeping
    the hyphen (so "A-123-" + "456" stays "A-123-456")."""
    out = ""
    for line in (ln.strip() for ln in block_text.splitlines()):
        if not line:
            continue
        if not out:
            out = line
        elif out.endswith("-"):
            out += line
        else:
            out += " " + line
    out = re.sub(r"[ \t\u00a0]{2,}", " ", out)
    # List bullets come out as "•" from the text layer and as "»", "«", "*", "+", "¢" from Tesseract: one form.
    return _BULLET.sub("- ", out)


_BULLET = re.compile(r"^[•·»«*+¢®©°>]+\s+")


def blocks_to_text(blocks: Iterable[tuple]) -> str:
    """MuPDF text blocks (x0, y0, x1, y1, text, block_no, type) to page text: one paragraph per block,
    paragraphs separated by a blank line. Image blocks are skipped."""
    paragraphs = [_join_lines(b[4]) for b in blocks if len(b) > 6 and b[6] == 0]
    return "\n\n".join(p for p in paragraphs if p)


def meaningful_chars(text: str) -> int:
    return sum(1 for ch in text if ch.isalnum())


def has_text_layer(text: str) -> bool:
    return meaningful_chars(text) >= MIN_TEXT_LAYER_CHARS


def _page_has_marks(page: pymupdf.Page) -> bool:
    """Whether a page shows anything OCR could read: an image or vector drawings."""
    return bool(page.get_images(full=False)) or bool(page.get_drawings())


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
        """The whole document failed (no page with text)."""
        return not any(p.text for p in self.pages)

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


def _title(doc: pymupdf.Document, name: str, pages: list[PageText]) -> str:
    meta_title = ((doc.metadata or {}).get("title") or "").strip()
    if meta_title:
        return meta_title
    for p in pages:
        first = p.text.strip().split("\n", 1)[0].strip()
        if first:
            return first[:120]
    return Path(name).stem.replace("_", " ").replace("-", " ").strip() or name


def _whole_failure(name: str, reason: str) -> DocumentResult:
    return DocumentResult(name=name, failures=[DocumentFailure(document=name, reason=reason)])


def extract_document(name: str, data: bytes, ocr: OcrSettings) -> DocumentResult:
    """Extract every page of one PDF. Never raises for a bad document: the reason is in `failures`."""
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
    with doc:
        if doc.needs_pass:
            return _whole_failure(
                name, "encrypted PDF: it is password-protected and cannot be read; ask for an unprotected copy"
            )
        if doc.page_count == 0:
            return _whole_failure(name, "empty PDF: it has no pages")
        result = DocumentResult(name=name, page_count=doc.page_count)
        repaired = doc.is_repaired
        for index in range(doc.page_count):
            number = index + 1
            try:
                page = doc[index]
                t0 = time.perf_counter()
                text = blocks_to_text(page.get_text("blocks", flags=TEXT_FLAGS, sort=True))
                result.text_seconds += time.perf_counter() - t0
                method = "text"
                if not has_text_layer(text) and _page_has_marks(page):
                    if not ocr.available:
                        result.failures.append(
                            DocumentFailure(
                                document=name, page=number,
                                reason=f"page {number} has no text layer (a scan) and {ocr.unavailable_reason}",
                            )
                        )
                        continue
                    t0 = time.perf_counter()
                    textpage = page.get_textpage_ocr(
                        flags=TEXT_FLAGS, language=ocr.language, dpi=ocr.dpi, full=True, tessdata=ocr.tessdata
                    )
                    text = blocks_to_text(page.get_text("blocks", textpage=textpage, sort=True))
                    result.ocr_seconds += time.perf_counter() - t0
                    method = "ocr"
            except Exception as e:  # a damaged page must not sink the rest of the document
                result.failures.append(
                    DocumentFailure(document=name, page=number, reason=f"page {number} could not be read: {e}")
                )
                continue
            if repaired and not text.strip():
                result.failures.append(
                    DocumentFailure(document=name, page=number, reason=f"page {number} is damaged: no readable content")
                )
                continue
            result.pages.append(
                PageText(document=name, page=number, method=method, language=detect_language(text), text=text)
            )
        pymupdf.TOOLS.mupdf_warnings()
        result.title = _title(doc, name, result.pages)
    if result.failed:
        if repaired:
            reason = "corrupt PDF: the file is damaged (truncated or malformed) and no page could be read; ask for a new copy"
        elif result.failures:
            reason = "no page could be extracted: " + "; ".join(f.reason for f in result.failures)
        else:
            reason = "no text found on any page (blank document)"
        result.failures = [DocumentFailure(document=name, reason=reason)]
        result.pages = []
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


def exhibit_letter(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA', 27 -> 'AB' (spreadsheet-style)."""
    if index < 0:
        raise ValueError("exhibit index must be >= 0")
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def assemble_case(case_id: str, results: Sequence[DocumentResult]) -> ExtractedCase:
    """Exhibit letters go to documents that yielded text, in the given (document) order; failed documents get
    none. Raises NothingExtractable when no document yielded text."""
    documents: list[DocumentInfo] = []
    pages: list[PageText] = []
    failures: list[DocumentFailure] = []
    for r in results:
        failures.extend(r.failures)
        if r.failed:
            continue
        documents.append(
            DocumentInfo(name=r.name, title=r.title, pages=r.page_count, exhibit=exhibit_letter(len(documents)))
        )
        pages.extend(r.pages)
    if not documents:
        detail = "; ".join(f"{f.document}: {f.reason}" for f in failures) or "the case has no PDF"
        raise NothingExtractable(f"case {case_id}: nothing extractable from any document ({detail})")
    return ExtractedCase(case_id=case_id, documents=documents, pages=pages, failures=failures)


def extract_case(
    case_id: str,
    documents: Iterable[tuple[str, bytes]],
    ocr: OcrSettings | None = None,
    cache_dir: Path | None = None,
) -> tuple[ExtractedCase, list[DocumentResult]]:
    """Extract a case's documents (given in document order) and assemble them. Returns the case and the
    per-document results (timings, cache use) for metadata."""
    ocr = ocr or ocr_settings()
    results = [extract_document_cached(name, data, ocr, cache_dir) for name, data in documents]
    return assemble_case(case_id, results), results
