"""The shipped sample cases as the pipeline's values, built from their source text rather than from PDFs.

`extracted_from_sources` gives a case's documents as `extracted_text` would (a perfect text layer: one page per
`<!-- page -->` block of each `data/case_sources/<case_id>/*.md`), and `draft_from_markdown` a hand-written reference
declaration (`data/references/<case_id>.md`) as a `Draft`. The guard and BERTScore benchmarks
(`evaluation/benchmark.py`) measure on these, and the tests build their fixtures from them.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .. import settings
from ..checks.evaluate import required_elements
from ..drafting.models import Draft, Exhibit, Section
from ..extraction.models import DocumentInfo, ExtractedCase, PageText


def sources_dir() -> Path:
    return settings.current().data_dir / "case_sources"


def extracted_from_sources(case_id: str, sources: Path | None = None) -> ExtractedCase:
    """The case's documents as pages (one per `<!-- page -->` block of each source file), exhibits A, B, ..."""
    sources = sources or sources_dir()
    docs, pages = [], []
    for i, src in enumerate(sorted((sources / case_id).glob("*.md"))):
        text = src.read_text(encoding="utf-8")
        m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
        meta = (yaml.safe_load(m.group(1)) or {}) if m else {}
        blocks = (text[m.end():] if m else text).split("<!-- page -->")
        name = src.with_suffix(".pdf").name
        docs.append(DocumentInfo(name=name, title=meta.get("title", name), pages=len(blocks), exhibit=chr(ord("A") + i)))
        pages += [PageText(document=name, page=n, method="text", language="und", text=b) for n, b in enumerate(blocks, 1)]
    return ExtractedCase(case_id=case_id, documents=docs, pages=pages, failures=[])


def draft_from_markdown(md: str, case_id: str, case_type: str, extracted: ExtractedCase, language: str = "en") -> Draft:
    """A Draft whose sections are the `## Title` sections of a Markdown declaration (intro before the first)."""
    title_to_id = {t: e for e, t in required_elements(case_type)}
    declarant = re.search(r"^# Declaration of (.+)$", md, re.M).group(1).strip()
    parts = re.split(r"^## (.+)$", md, flags=re.M)
    sections = []
    intro = [p.strip() for p in re.sub(r"^# .*$", "", parts[0], flags=re.M).split("\n\n") if p.strip()]
    if intro:
        sections.append(Section(kind="introduction", title="Introduction", paragraphs=intro))
    for title, body in zip(parts[1::2], parts[2::2]):
        title = title.strip()
        if title in ("Exhibit List", "Certificate of Translation"):
            continue
        eid = title_to_id.get(title)
        paras = [p.strip() for p in body.split("\n\n") if p.strip()]
        sections.append(Section(kind="element" if eid else "closing", element_id=eid, title=title, paragraphs=paras))
    exhibits = [Exhibit(letter=d.exhibit, document=d.name, title=d.title, pages=d.pages) for d in extracted.documents]
    return Draft(case_id=case_id, model_config_name="reference", case_type=case_type, declarant_name=declarant,
                 language=language, sections=sections, exhibits=exhibits, prompt_version="reference")
