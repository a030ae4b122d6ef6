"""Data contract of `extracted_text`: pages with provenance, exhibits, and documents that failed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ExtractionMethod = Literal["text", "ocr"]
PageQuality = Literal["ok", "low"]
LetterStatus = Literal["active", "unreadable", "retired"]


class PageText(BaseModel):
    """One page of one PDF, as extracted."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    document: str = Field(description="file name of the PDF inside the case folder")
    page: int = Field(ge=1, description="1-based page number")
    method: ExtractionMethod = Field(description="'text' = the PDF's text layer, 'ocr' = Tesseract via pymupdf")
    language: str = Field(description="ISO 639-1 code ('en', 'es', 'de' ...), or 'und' when undetermined")
    text: str
    rotation: int = Field(
        default=0, description="degrees (clockwise) the page was turned to read it upright: OCR'd pages by Tesseract's "
        "orientation detection, text-layer pages by the direction of their text lines",
    )
    ocr_confidence: float | None = Field(
        default=None, description="OCR'd pages: Tesseract's word confidence (0-100), averaged over letters and digits",
    )
    quality: PageQuality = Field(default="ok", description="'low' = unreliable OCR, kept out of the evidence")
    quality_reason: str | None = None
    ocr_language_missing: bool = Field(
        default=False, description="an OCR'd page in a language whose Tesseract data is not installed",
    )


class DocumentInfo(BaseModel):
    """A document that was extracted; its exhibit letter comes from the case's letter ledger (assigned once)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    title: str
    pages: int = Field(ge=0)
    exhibit: str = Field(description="A, B, C ... (AA, AB ... after Z)")
    languages: list[str] = Field(
        default_factory=list, description="languages of its pages (most pages first), without 'und'",
    )

    @property
    def foreign_languages(self) -> list[str]:
        """Languages other than English: each needs a certified translation when the exhibit is filed."""
        return [lang for lang in self.languages if lang != "en"]


class ExhibitLetter(BaseModel):
    """One entry of a case's exhibit-letter ledger."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    letter: str
    document: str
    status: LetterStatus = Field(
        description="active = extracted; unreadable = the file failed, its letter is reserved for the fixed copy; "
        "retired = the file is no longer in the case, its letter is never reused",
    )


class DocumentFailure(BaseModel):
    """A document (or one page of it) that could not be extracted, with a reason a person can act on."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    document: str
    reason: str
    page: int | None = Field(default=None, description="set when only this page failed; None = whole document")


class ExtractedCase(BaseModel):
    """The value of one `extracted_text` partition."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    case_id: str
    documents: list[DocumentInfo]
    pages: list[PageText]
    failures: list[DocumentFailure] = Field(default_factory=list)
    low_quality_pages: list[PageText] = Field(
        default_factory=list,
        description="OCR'd pages whose confidence is under the threshold: not in `pages`, so never evidence",
    )
    letters: list[ExhibitLetter] = Field(default_factory=list, description="the case's exhibit-letter ledger")
    skipped_files: list[str] = Field(default_factory=list, description="files of the case folder that are not PDFs")

    @property
    def review_notes(self) -> list[str]:
        """What the attorney must fix or know about the record, one line each (for the declaration's review notes)."""
        notes = [
            f"{p.document} p. {p.page}: unreliable OCR ({p.quality_reason}); not used as evidence, replace the scan"
            for p in self.low_quality_pages
        ]
        notes += [f"Exhibit {e.letter} ({e.document}) could not be read; its letter is reserved for a readable copy"
                  for e in self.letters if e.status == "unreadable"]
        notes += [f"{name}: not a PDF, skipped" for name in self.skipped_files]
        return notes

    def page_text(self, document: str, page: int) -> str | None:
        for p in self.pages:
            if p.document == document and p.page == page:
                return p.text
        return None

    def all_text(self) -> str:
        """Every page's text in document order, pages separated by a blank line."""
        return "\n\n".join(p.text for p in self.pages)

    def document(self, name: str) -> DocumentInfo | None:
        return next((d for d in self.documents if d.name == name), None)

    def exhibit_of(self, document: str) -> str | None:
        d = self.document(document)
        return d.exhibit if d else None

    def pages_of(self, document: str) -> list[PageText]:
        return [p for p in self.pages if p.document == document]

    @property
    def ocr_pages(self) -> list[PageText]:
        return [p for p in self.pages if p.method == "ocr"]
