"""Ingestion benchmark: extraction pages/s (text layer and OCR), embedding chunks/s, pipeline vs.
sentence-transformers `encode` on the same chunks, and the cost of re-indexing an unchanged case.

Run: `.venv/bin/python scripts/bench_ingest.py [--cases vawa-0001 ...] [--repeat 3] [--batch-size 32]`
Prints a Markdown table. Uses temporary caches; the project's .cache is not touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from declaration_assets import settings  # noqa: E402
from declaration_assets.extraction.pdf import extract_case, ocr_settings  # noqa: E402
from declaration_assets.retrieval import embeddings as emb  # noqa: E402
from declaration_assets.retrieval.chunking import chunk_case  # noqa: E402
from declaration_assets.retrieval.embeddings import Embedder  # noqa: E402
from declaration_assets.retrieval.index import build_chunk_index, embedding_input  # noqa: E402


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=None, help="case ids under data/cases (default: all)")
    ap.add_argument("--repeat", type=int, default=2, help="embedding rounds")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args(argv)
    case_ids = args.cases or sorted(p.name for p in settings.current().cases_dir.iterdir() if any(p.glob("*.pdf")))
    ocr = ocr_settings()

    # Extraction, no cache: every page is extracted (and every scanned page OCR'd) in this run.
    cases = []
    text_pages = ocr_pages = 0
    text_seconds = ocr_seconds = 0.0
    t0 = time.perf_counter()
    for case_id in case_ids:
        pdfs = sorted((settings.current().cases_dir / case_id).glob("*.pdf"))
        case, results = extract_case(case_id, [(p.name, p.read_bytes()) for p in pdfs], ocr, cache_dir=None)
        cases.append(case)
        text_pages += sum(p.method == "text" for p in case.pages)
        ocr_pages += len(case.ocr_pages)
        text_seconds += sum(r.text_seconds for r in results)
        ocr_seconds += sum(r.ocr_seconds for r in results)
    extraction_wall = time.perf_counter() - t0

    # Embedding: the same chunk texts through sentence-transformers' encode and through the pipeline's
    # cache-aware embed (each round with an empty cache, so every chunk is computed). The machine is shared,
    # so the two alternate slice by slice (order flipped each slice) and both wall and CPU time are summed.
    inputs: list[str] = []
    for case in cases:
        titles = {d.name: d.title for d in case.documents}
        inputs += [embedding_input(c, titles[c.document]) for c in chunk_case(case)]
    inputs = list(dict.fromkeys(inputs))  # distinct texts: the cache must not give the pipeline free hits
    probe = Embedder(cache_dir="", batch_size=args.batch_size)
    t0 = time.perf_counter()
    model = probe.model()
    load_seconds = time.perf_counter() - t0
    model.encode(inputs[: args.batch_size], batch_size=args.batch_size)  # warm-up
    slice_len = 4 * args.batch_size
    wall = {"encode": 0.0, "pipeline": 0.0}
    cpu = {"encode": 0.0, "pipeline": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            pipe = Embedder(cache_dir=str(Path(tmp) / f"round{r}"), batch_size=args.batch_size)
            for i, start in enumerate(range(0, len(inputs), slice_len)):
                part = inputs[start : start + slice_len]
                order = ("encode", "pipeline") if (i + r) % 2 == 0 else ("pipeline", "encode")
                for which in order:
                    w0, c0 = time.perf_counter(), time.process_time()
                    if which == "encode":
                        model.encode(part, batch_size=args.batch_size, normalize_embeddings=True,
                                     show_progress_bar=False)
                    else:
                        _, stats = pipe.embed_with_stats(part)
                        assert stats.computed == len(part), "the pipeline must compute every chunk here"
                    wall[which] += time.perf_counter() - w0
                    cpu[which] += time.process_time() - c0

        # Re-index unchanged cases with a warm cache, in a state where no model is loaded at all.
        warm = Embedder(cache_dir=str(Path(tmp) / "warm"), batch_size=args.batch_size)
        for case in cases:
            build_chunk_index(case, warm)
        emb._models.clear()
        t0 = time.perf_counter()
        computed = 0
        for case in cases:
            _, stats = build_chunk_index(case, warm)
            computed += stats.computed
        reindex_seconds = time.perf_counter() - t0
        model_loaded = bool(emb._models)

    n = len(inputs) * args.repeat
    st_rate, pipe_rate = n / wall["encode"], n / wall["pipeline"]
    rows = [
        ("cases", ", ".join(case_ids)),
        ("CPU cores visible / load average (1 min)", f"{os.cpu_count()} / {os.getloadavg()[0]:.1f}"),
        ("text-layer pages", f"{text_pages} in {text_seconds:.2f} s = {text_pages / max(text_seconds, 1e-9):.1f} pages/s"),
        ("OCR pages (Tesseract eng+spa, 300 dpi)",
         f"{ocr_pages} in {ocr_seconds:.2f} s = {ocr_pages / max(ocr_seconds, 1e-9):.3f} pages/s"),
        ("extraction wall time, all cases", f"{extraction_wall:.2f} s"),
        ("distinct chunks", str(len(inputs))),
        ("model load (once per process)", f"{load_seconds:.2f} s"),
        (f"sentence-transformers encode (batch {args.batch_size}, {args.repeat} rounds)",
         f"{st_rate:.1f} chunks/s wall, {n / cpu['encode']:.1f} chunks/CPU-s"),
        ("pipeline embed, empty cache (hash + SQLite + encode)",
         f"{pipe_rate:.1f} chunks/s wall, {n / cpu['pipeline']:.1f} chunks/CPU-s"),
        ("pipeline / encode throughput (target >= 0.9)",
         f"{pipe_rate / st_rate:.3f} wall, {cpu['encode'] / cpu['pipeline']:.3f} CPU"),
        ("re-index unchanged cases: embeddings computed", f"{computed} (target 0)"),
        ("re-index unchanged cases: time, model loaded?", f"{reindex_seconds:.3f} s, {'yes' if model_loaded else 'no'}"),
    ]
    print("| measure | value |\n| --- | --- |")
    for k, v in rows:
        print(f"| {k} | {v} |")
    return 0 if computed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
