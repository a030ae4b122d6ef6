"""Retrieval benchmark: per case and legal element, the recall of the pages the reference declaration cites
among the pages retrieval puts in front of the drafter, for three set-ups:

- `dense/en`: FAISS over all-MiniLM-L6-v2 with the English element queries only (retrieval before hybrid search);
- `dense/lang`: the same with the queries in the declarant's language added (case.yaml `language`);
- `hybrid/lang, no prior`: dense and BM25 rankings fused by reciprocal rank, with the declarant's language's
  queries, without the light prior for her own account (intake or interview notes);
- `hybrid/lang`: the same with that prior (what drafting does).

Each at the draft asset's default evidence per element (4, 4 passages per query) and at a larger setting.
A page counts as reached when one of its passages is among an element's evidence (the same union and ranking
drafting uses); a reference page is cited in the reference section titled like the element.

Run: `.venv/bin/python scripts/bench_retrieval.py [--cases vawa-0002 ...] [--settings 4:4 24:24]`
Prints Markdown tables. Extraction and embeddings use the project's caches (.cache), as the assets do.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from declaration_assets import settings  # noqa: E402
from declaration_assets.cases.models import load_case_record  # noqa: E402
from declaration_assets.drafting.evidence import gather_evidence  # noqa: E402
from declaration_assets.extraction.pdf import extract_case, ocr_settings  # noqa: E402
from declaration_assets.requirements import load_requirements  # noqa: E402
from declaration_assets.retrieval.coverage import Page, page_recall, reference_pages_by_element  # noqa: E402
from declaration_assets.retrieval import hybrid  # noqa: E402
from declaration_assets.retrieval.embeddings import Embedder  # noqa: E402
from declaration_assets.retrieval.lexical import own_account_documents  # noqa: E402
from declaration_assets.retrieval.index import build_chunk_index, query_search  # noqa: E402
from declaration_assets.retrieval.models import ChunkIndex  # noqa: E402

# (name, search mode, with the declarant's language's queries, weight of the own-account prior)
SETUPS = (("dense/en", "dense", False, 0.0), ("dense/lang", "dense", True, 0.0),
          ("hybrid/lang, no prior", "hybrid", True, 0.0), ("hybrid/lang", "hybrid", True, hybrid.OWN_ACCOUNT_WEIGHT))


def reached(index: ChunkIndex, embedder: Embedder, case_type: str, language: str | None, mode: str,
            per_element: int, k: int, own_weight: float = hybrid.OWN_ACCOUNT_WEIGHT) -> dict[str, set[Page]]:
    """Per element, the (exhibit, page) of every passage drafting would retrieve for it."""
    req = load_requirements(case_type)
    if language:
        req = req.for_language(language)
    saved, hybrid.OWN_ACCOUNT_WEIGHT = hybrid.OWN_ACCOUNT_WEIGHT, own_weight
    try:
        search = query_search(index, embedder, [q for e in req.elements for q in e.queries], k, mode)  # type: ignore[arg-type]
        return {e.id: {(sc.chunk.exhibit, sc.chunk.page) for sc in gather_evidence(e.queries, search, per_element)}
                for e in req.elements}
    finally:
        hybrid.OWN_ACCOUNT_WEIGHT = saved


def fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=None, help="case ids with a reference (default: all)")
    ap.add_argument("--settings", nargs="*", default=["4:4", "24:24"],
                    help="evidence per element:passages per query, e.g. 4:4 (the draft asset's default)")
    args = ap.parse_args(argv)
    case_ids = args.cases or sorted(p.stem for p in settings.current().references_dir.glob("*.md")
                                    if (settings.current().cases_dir / p.stem).is_dir())
    grid = [tuple(int(x) for x in s.split(":")) for s in args.settings]
    ocr = ocr_settings()
    embedder = Embedder()
    totals: dict[tuple[str, int], list[tuple[set[Page], set[Page]]]] = {}
    for case_id in case_ids:
        folder = settings.current().cases_dir / case_id
        record = load_case_record(folder / "case.yaml")
        pdfs = sorted(folder.glob("*.pdf"))
        t0 = time.perf_counter()
        case, _ = extract_case(case_id, [(p.name, p.read_bytes()) for p in pdfs], ocr, settings.current().cache_dir / "extraction")
        index, _ = build_chunk_index(case, embedder)
        prep = time.perf_counter() - t0
        req = load_requirements(record.case_type)
        cited = reference_pages_by_element((settings.current().references_dir / f"{case_id}.md").read_text(encoding="utf-8"), req)
        exhibit_docs = ", ".join(f"{d.exhibit} {d.name}" for d in case.documents)
        print(f"\n### {case_id} (language {record.language}; {len(index.chunks)} chunks; prepared in {prep:.1f}s)\n")
        print(f"Exhibits: {exhibit_docs}\n")
        header = ["element", "cited pages"] + [f"{name} @{pe}" for pe, _ in grid for name, *_ in SETUPS]
        print("| " + " | ".join(header) + " |")
        print("|" + " --- |" * len(header))
        results = {(name, pe): reached(index, embedder, record.case_type, record.language if lang else None, mode,
                                       pe, k, own)
                   for pe, k in grid for name, mode, lang, own in SETUPS}
        for e in req.elements:
            row = [e.id, str(len(cited[e.id]))]
            for pe, _ in grid:
                for name, *_ in SETUPS:
                    got = results[(name, pe)][e.id]
                    row.append(fmt(page_recall(got, cited[e.id])))
                    totals.setdefault((name, pe), []).append((got, cited[e.id]))
            print("| " + " | ".join(row) + " |")
        row = ["**all elements**", str(sum(len(c) for c in cited.values()))]
        for pe, _ in grid:
            for name, *_ in SETUPS:
                hit = sum(len(results[(name, pe)][eid] & c) for eid, c in cited.items())
                row.append(f"**{fmt(hit / max(1, sum(len(c) for c in cited.values())))}**")
        print("| " + " | ".join(row) + " |")
        own_docs = own_account_documents(index.chunks)
        own = {d.exhibit for d in case.documents if d.name in own_docs}
        if own:
            reach = {(name, pe): sorted(eid for eid, pages in results[(name, pe)].items()
                                        if any(ex in own for ex, _ in pages))
                     for pe, _ in grid for name, *_ in SETUPS}
            print(f"\nElements whose evidence includes her own account (Ex. {', '.join(sorted(own))}: "
                  f"{', '.join(sorted(own_docs))}):\n")
            for (name, pe), eids in reach.items():
                print(f"- {name} @{pe}: {', '.join(eids) or 'none'}")
    print("\n### All cases (cited pages reached / cited pages, pooled over elements)\n")
    print("| setting | " + " | ".join(name for name, *_ in SETUPS) + " |")
    print("|" + " --- |" * (len(SETUPS) + 1))
    for pe, _ in grid:
        cells = []
        for name, *_ in SETUPS:
            pairs = totals.get((name, pe), [])
            hit = sum(len(g & c) for g, c in pairs)
            n = sum(len(c) for _, c in pairs)
            cells.append(f"{fmt(hit / n if n else None)} ({hit}/{n})")
        print(f"| {pe} per element | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
