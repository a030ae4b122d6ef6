"""`chunk_index`: the case's chunks with provenance and a FAISS index over their cached embeddings."""

# No `from __future__ import annotations` here: Dagster reads the Config and resource annotations at definition time.
from collections import Counter
from collections.abc import Sequence
from typing import Any

import dagster as dg
from pydantic import Field

from ..extraction.models import ExtractedCase
from ..orchestration.ui import ui_attributes
from ..partitions import case_partitions
from ..privacy.settings import previews_enabled
from .chunking import DEFAULT_MAX_CHARS
from .coverage import coverage_summary, evidence_coverage
from .embeddings import Embedder, EmbedStats
from .index import build_chunk_index
from .models import ChunkIndex

PREVIEW_CHUNKS = 12
PREVIEW_CHARS = 160
CHUNKER_VERSION = "1"


class ChunkIndexConfig(dg.Config):
    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=100, le=4000, description="largest chunk, in characters")


def chunk_index_metadata(index: ChunkIndex, case: ExtractedCase, stats: EmbedStats) -> dict[str, dg.MetadataValue]:
    per_doc = Counter(c.document for c in index.chunks)
    lengths = [len(c.text) for c in index.chunks] or [0]
    meta: dict[str, dg.MetadataValue] = {
        "chunks": dg.MetadataValue.int(len(index.chunks)),
        "chunks_per_document": dg.MetadataValue.table(
            records=[
                dg.TableRecord({"exhibit": d.exhibit, "document": d.name, "chunks": per_doc.get(d.name, 0)})
                for d in case.documents
            ],
            schema=dg.TableSchema(
                columns=[dg.TableColumn("exhibit", "string"), dg.TableColumn("document", "string"),
                         dg.TableColumn("chunks", "int")]
            ),
        ),
        "chunk_chars_mean": dg.MetadataValue.int(round(sum(lengths) / len(lengths))),
        "chunk_chars_max": dg.MetadataValue.int(max(lengths)),
        "embedding_model": dg.MetadataValue.text(index.model_name),
        "embedding_dim": dg.MetadataValue.int(index.dim),
        "embeddings_from_cache": dg.MetadataValue.int(stats.cache_hits),
        "embeddings_computed": dg.MetadataValue.int(stats.computed),
        "embedding_seconds": dg.MetadataValue.float(round(stats.total_seconds, 3)),
        "model_load_seconds": dg.MetadataValue.float(round(stats.model_load_seconds, 3)),
        "faiss_index_bytes": dg.MetadataValue.int(len(index.faiss_index)),
    }
    if previews_enabled():
        meta["preview"] = dg.MetadataValue.table(
            records=[
                dg.TableRecord(
                    {
                        "chunk_id": c.chunk_id,
                        "citation": c.citation(),
                        "span": f"{c.start}-{c.end}",
                        "heading": c.heading or "",
                        "text": c.text[:PREVIEW_CHARS].replace("\n", " "),
                    }
                )
                for c in index.chunks[:PREVIEW_CHUNKS]
            ],
            schema=dg.TableSchema(
                columns=[dg.TableColumn(n, "string") for n in ("chunk_id", "citation", "span", "heading", "text")]
            ),
        )
    return meta


@dg.asset(
    partitions_def=case_partitions,
    **ui_attributes("chunk_index"),
    code_version=CHUNKER_VERSION,
    description="Structure-following chunks with provenance (document, page, span) and a FAISS index of their "
    "all-MiniLM-L6-v2 embeddings (cached by content hash).",
)
def chunk_index(
    context: dg.AssetExecutionContext, config: ChunkIndexConfig, extracted_text: ExtractedCase, embedder: Embedder
) -> dg.Output[ChunkIndex]:
    index, stats = build_chunk_index(extracted_text, embedder, config.max_chars)
    context.log.info(
        f"{len(index.chunks)} chunks; embeddings: {stats.cache_hits} from cache, {stats.computed} computed "
        f"in {stats.total_seconds:.2f}s"
    )
    return dg.Output(index, metadata=chunk_index_metadata(index, extracted_text, stats))


def evidence_coverage_metadata(sections: Sequence[Any], index: ChunkIndex) -> dict[str, dg.MetadataValue]:
    """`evidence_coverage` for a draft's metadata: per element, the documents and pages whose passages reached
    the drafter (sections with `element_id` and `evidence_chunk_ids`, as `drafting.models.Section`)."""
    coverage = evidence_coverage(
        {s.element_id: list(s.evidence_chunk_ids) for s in sections if getattr(s, "element_id", None)}, index
    )
    return {
        "evidence_coverage": dg.MetadataValue.json(
            {eid: [d.model_dump() for d in docs] for eid, docs in coverage.items()}
        ),
        "evidence_pages": dg.MetadataValue.json(coverage_summary(coverage)),
    }
