"""Fixtures for extraction and retrieval tests: OCR settings, a cached embedder, the sample cases extracted once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from declaration_assets import settings
from declaration_assets.extraction.models import ExtractedCase
from declaration_assets.extraction.pdf import OcrSettings, extract_case, ocr_settings
from declaration_assets.retrieval.embeddings import Embedder
from declaration_assets.retrieval.index import build_chunk_index
from declaration_assets.retrieval.models import ChunkIndex

SAMPLE_CASES = ("vawa-0001", "vawa-0002", "tvisa-0001")


@pytest.fixture(scope="session")
def ocr() -> OcrSettings:
    found = ocr_settings()
    if not found.available:
        pytest.skip(f"Tesseract is not installed here: {found.unavailable_reason}")
    return found


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return Embedder(cache_dir=str(tmp_path_factory.mktemp("embedding_cache")))


@pytest.fixture(scope="session")
def sample_case(tmp_path_factory: pytest.TempPathFactory, ocr: OcrSettings) -> Callable[[str], ExtractedCase]:
    """Extract a shipped sample case (each at most once per test session: OCR takes seconds per page)."""
    cache_dir = tmp_path_factory.mktemp("extraction_cache")
    done: dict[str, ExtractedCase] = {}

    def get(case_id: str) -> ExtractedCase:
        folder = settings.current().cases_dir / case_id
        pdfs = sorted(folder.glob("*.pdf")) if folder.is_dir() else []
        if not pdfs:
            pytest.skip(f"sample case {case_id} has no PDFs yet (render them with scripts/render_cases.py)")
        if case_id not in done:
            done[case_id], _ = extract_case(case_id, [(p.name, p.read_bytes()) for p in pdfs], ocr, cache_dir)
        return done[case_id]

    return get


@pytest.fixture(scope="session")
def sample_index(sample_case: Callable[[str], ExtractedCase], embedder: Embedder) -> Callable[[str], ChunkIndex]:
    done: dict[str, ChunkIndex] = {}

    def get(case_id: str) -> ChunkIndex:
        if case_id not in done:
            done[case_id], _ = build_chunk_index(sample_case(case_id), embedder)
        return done[case_id]

    return get


@pytest.fixture()
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the settings' cache folder (and the outputs folder, where the exhibit-letter ledger lives) at temporary folders so
    assets never touch the project's cache or outputs."""
    cache = tmp_path / "cache"
    settings.configure(cache_dir=cache, outputs_dir=tmp_path / "outputs")
    return cache
