"""Test fixtures built from the shipped sample cases' source text (no PDF extraction needed)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from declaration_assets.cases.models import CaseRecord, load_case_record
from declaration_assets.drafting.models import Draft, Exhibit, Section
from declaration_assets.extraction.models import DocumentInfo, ExtractedCase, PageText

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "data" / "case_sources"
CASES = ROOT / "data" / "cases"
REFERENCES = ROOT / "data" / "references"


def extracted_from_sources(case_id: str) -> ExtractedCase:
    """The case's documents as `extracted_text` would give them: one PageText per `<!-- page -->` block."""
    docs, pages = [], []
    for i, src in enumerate(sorted((SOURCES / case_id).glob("*.md"))):
        text = src.read_text(encoding="utf-8")
        m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
        meta = yaml.safe_load(m.group(1)) if m else {}
        body = text[m.end():] if m else text
        blocks = body.split("<!-- page -->")
        name = src.with_suffix(".pdf").name
        docs.append(DocumentInfo(name=name, title=meta.get("title", name), pages=len(blocks), exhibit=chr(ord("A") + i)))
        pages += [PageText(document=name, page=n, method="text", language="en", text=b) for n, b in enumerate(blocks, 1)]
    return ExtractedCase(case_id=case_id, documents=docs, pages=pages, failures=[])


def case_record(case_id: str) -> CaseRecord:
    return load_case_record(CASES / case_id / "case.yaml")


def draft_from_markdown(md: str, case_id: str, case_type: str, extracted: ExtractedCase,
                        element_titles: dict[str, str], language: str = "en") -> Draft:
    """A Draft whose sections are the `## Title` sections of a Markdown declaration."""
    title_to_id = {v: k for k, v in element_titles.items()}
    declarant = re.search(r"^# Declaration of (.+)$", md, re.M).group(1).strip()
    parts = re.split(r"^## (.+)$", md, flags=re.M)
    sections = []
    intro = [p.strip() for p in re.sub(r"^# .*$", "", parts[0], flags=re.M).split("\n\n") if p.strip()]
    if intro:
        sections.append(Section(kind="introduction", title="Introduction", paragraphs=intro))
    for title, body in zip(parts[1::2], parts[2::2]):
        title = title.strip()
        if title == "Exhibit List":
            continue
        paras = [p.strip() for p in body.split("\n\n") if p.strip()]
        eid = title_to_id.get(title)
        sections.append(Section(kind="element" if eid else "closing", element_id=eid, title=title, paragraphs=paras))
    exhibits = [Exhibit(letter=d.exhibit, document=d.name, title=d.title, pages=d.pages) for d in extracted.documents]
    return Draft(case_id=case_id, model_config_name="default", case_type=case_type, declarant_name=declarant,
                 language=language, sections=sections, exhibits=exhibits, prompt_version="test")
