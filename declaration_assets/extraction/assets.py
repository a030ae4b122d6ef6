"""`extracted_text`: every page of every PDF of a case, by text layer or OCR, with its language."""

# No `from __future__ import annotations` here: Dagster reads the Config and resource annotations at definition time.
import dagster as dg
from pydantic import Field

from .. import settings
from ..cases.models import CaseFileError, CaseRecord
from ..cases.storage import CASE_FILE, MANIFEST_FILE, CaseStorage
from ..orchestration.policies import permanent_failure
from ..orchestration.ui import ui_attributes
from .references import track_extraction
from ..partitions import case_partitions
from .metadata import extraction_metadata
from .letters import ledger_path, load_ledger, save_ledger
from .models import ExtractedCase
from .pdf import DEFAULT_OCR_DPI, DEFAULT_OCR_LANGUAGES, EXTRACTOR_VERSION, NothingExtractable, extract_case, ocr_settings


class ExtractionConfig(dg.Config):
    ocr_dpi: int = Field(default=DEFAULT_OCR_DPI, ge=72, le=600, description="render resolution for OCR")
    ocr_languages: list[str] = Field(default=list(DEFAULT_OCR_LANGUAGES), description="Tesseract language codes")
    use_cache: bool = Field(default=True, description="re-use results for unchanged PDFs (same sha256)")
    include_low_quality_pages: bool = Field(
        default=False, description="use pages with unreliable OCR as evidence too (off: they are only reported)",
    )


@dg.asset(
    partitions_def=case_partitions,
    **ui_attributes("extracted_text"),
    code_version=EXTRACTOR_VERSION,
    description="Every page of every PDF of the case: document, page, method (text layer or OCR), language.",
)
def extracted_text(
    context: dg.AssetExecutionContext, config: ExtractionConfig, case_record: CaseRecord, case_storage: CaseStorage
) -> dg.Output[ExtractedCase]:
    case_id = context.partition_key
    try:
        files = case_storage.list_files(case_id)
    except CaseFileError as e:  # a refused folder (a link, the same id in two roots)
        raise permanent_failure(str(e)) from e
    except FileNotFoundError as e:
        raise dg.Failure(description=f"case {case_id}: {e}") from e

    ocr = ocr_settings(config.ocr_languages, config.ocr_dpi)
    if not ocr.available:
        context.log.warning(ocr.unavailable_reason)
    cache_dir = settings.current().cache_dir / "extraction" if config.use_cache else None
    names = sorted(f.name for f in files if f.is_pdf)  # document order
    skipped = [f.name for f in files if not f.is_pdf and f.name not in (CASE_FILE, MANIFEST_FILE)]
    ledger_file = ledger_path(settings.current().outputs_dir, case_id)
    try:
        ledger = load_ledger(ledger_file)
    except ValueError as e:
        raise dg.Failure(description=str(e)) from e
    documents = ((name, case_storage.read_bytes(case_id, name)) for name in names)
    documents = track_extraction(case_id, documents, ocr)  # lets purge find every version's cache entry
    try:
        case, results = extract_case(case_id, documents, ocr, cache_dir, ledger,
                                     include_low_quality=config.include_low_quality_pages, skipped_files=skipped)
    except NothingExtractable as e:
        raise dg.Failure(description=str(e)) from e
    save_ledger(ledger_file, case.letters)

    for f in case.failures:
        context.log.warning(f"{f.document}{f' p.{f.page}' if f.page else ''}: {f.reason}")
    for name in skipped:
        context.log.warning(f"{name}: not a PDF, skipped (a case folder holds PDFs, {CASE_FILE} and {MANIFEST_FILE})")
    for p in case.low_quality_pages:
        context.log.warning(f"{p.document} p.{p.page}: {p.quality_reason}; kept out of the evidence")
    metadata = extraction_metadata(case, results)
    metadata["case_type"] = dg.MetadataValue.text(case_record.case_type)
    metadata["declarant_language"] = dg.MetadataValue.text(case_record.language)
    return dg.Output(case, metadata=metadata)
