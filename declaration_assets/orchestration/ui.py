"""How assets present themselves in the UI: groups, owners and kinds, by asset key (asset authors use these)."""

from __future__ import annotations

GROUP_INGESTION = "ingestion"
GROUP_DECLARATION = "declaration"
GROUP_EVALUATION = "evaluation"

ASSET_GROUPS: dict[str, str] = {
    "case_record": GROUP_INGESTION,
    "extracted_text": GROUP_INGESTION,
    "chunk_index": GROUP_INGESTION,
    "draft": GROUP_DECLARATION,
    "judge_scores": GROUP_DECLARATION,
    "guarded_declaration": GROUP_DECLARATION,
    "eval_report": GROUP_EVALUATION,
    "model_comparison": GROUP_EVALUATION,
}

ASSET_KINDS: dict[str, set[str]] = {
    "case_record": {"yaml", "pydantic"},
    "extracted_text": {"pdf", "pymupdf"},
    "chunk_index": {"faiss", "sentence_transformers"},
    "draft": {"litellm"},
    "judge_scores": {"litellm"},
    "guarded_declaration": {"litellm", "markdown", "docx"},
    "eval_report": {"bertscore"},
    "model_comparison": {"matplotlib"},
}

OWNERS: dict[str, list[str]] = {
    GROUP_INGESTION: ["team:ingest"],
    GROUP_DECLARATION: ["team:drafting"],
    GROUP_EVALUATION: ["team:evaluation"],
}


def ui_attributes(asset_key: str) -> dict[str, object]:
    """`group_name`, `owners` and `kinds` for `@dg.asset(**ui_attributes("draft"), ...)`."""
    group = ASSET_GROUPS[asset_key]
    return {"group_name": group, "owners": OWNERS[group], "kinds": ASSET_KINDS[asset_key]}
