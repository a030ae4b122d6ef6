"""Data contract of `extracted_text`: pages with provenance, exhibits, and documents that failed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ExtractionMethod = Literal["text", "ocr"]


class PageText(BaseModel):
    """One page of one PDF, as extracted."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    document: str = Field(description="file name of the PDF inside the case folder")
    page: int = Field(ge=1, description="1-based page number")
    method: ExtractionMethod = Field(description="'text' = the PDF's text layer, 'ocr' = Tesseract via pymupdf")
    language: str = Field(description="ISO 639-1 code ('en', 'es'), or 'und' when undetermined")
    text: str


class DocumentInfo(BaseModel):
    """A document that was extracted; its exhibit letter follows the case's document order."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    title: str
    pages: int = Field(ge=0)
    exhibit: str = Field(description="A, B, C ... (AA, AB ... after Z)")


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
