"""Test-only Definitions: the project's asset keys with their real partitions, doing small real work quickly.

The orchestration tests exercise sensors, jobs, runs, backfills and storage; these assets stand in for the
pipeline's (no model server, no embedding model) while keeping keys, partitions, mappings and resources, so the
same jobs and sensors of `declaration_assets.orchestration` run against them. Loaded by the daemon tests through
a workspace file (`python_module: declaration_assets_tests.orchestration.stand_in_defs`), where every run and step
is a new process and the real assets' imports would dominate the test's time. The real assets run on the
production storage in `test_production.py`, through both runs in `test_real_pipeline.py`, and in the UI test.
"""


import os

import dagster as dg
import pymupdf

from declaration_assets import settings
from declaration_assets.cases.storage import CaseStorage, LocalCaseStorage
from declaration_assets.orchestration import defs as orch
from declaration_assets.orchestration.policies import LLM_POOL, LLM_RETRY_POLICY
from declaration_assets.orchestration.ui import ui_attributes
from declaration_assets.partitions import by_case_dimension, case_and_model, case_model_partitions, case_partitions

# A test can make one case's ingest fail on purpose (to check nothing follows a failed run).
FAIL_CASES_ENV = "STAND_IN_FAIL_CASES"


@dg.asset(partitions_def=case_partitions, description="The case's case.yaml (stand-in).", **ui_attributes("case_record"))
def case_record(context: dg.AssetExecutionContext, case_storage: CaseStorage) -> dict:
    record = case_storage.read_case_record(context.partition_key)
    return {"case_id": record.case_id, "case_type": record.case_type}


@dg.asset(partitions_def=case_partitions, description="Pages of the case's PDFs (stand-in).", **ui_attributes("extracted_text"))
def extracted_text(context: dg.AssetExecutionContext, case_record: dict, case_storage: CaseStorage) -> dict:
    case_id = context.partition_key
    if case_id in os.environ.get(FAIL_CASES_ENV, "").split(","):
        raise dg.Failure(f"stand-in failure for {case_id}")
    pages = {}
    for name in case_storage.pdf_names(case_id):
        with pymupdf.open(stream=case_storage.read_bytes(case_id, name), filetype="pdf") as doc:
            pages[name] = [p.get_text() for p in doc]
    context.add_output_metadata({"documents": len(pages)})
    return {"case_id": case_id, "pages": pages}


@dg.asset(partitions_def=case_partitions, description="Chunks (stand-in).", **ui_attributes("chunk_index"))
def chunk_index(extracted_text: dict) -> list[str]:
    return [t for pages in extracted_text["pages"].values() for t in pages]


@dg.asset(
    partitions_def=case_model_partitions,
    ins={
        "case_record": dg.AssetIn(partition_mapping=by_case_dimension),
        "chunk_index": dg.AssetIn(partition_mapping=by_case_dimension),
    },
    retry_policy=LLM_RETRY_POLICY,
    pool=LLM_POOL,
    description="Declaration draft (stand-in).",
    **ui_attributes("draft"),
)
def draft(context: dg.AssetExecutionContext, case_record: dict, chunk_index: list[str]) -> str:
    case_id, model = case_and_model(context)
    assert case_record["case_id"] == case_id, "the case-level input of the partition's own case"
    return f"Declaration of {case_id} ({model}) from {len(chunk_index)} chunks."


@dg.asset(partitions_def=case_model_partitions, pool=LLM_POOL, description="Judge scores (stand-in).", **ui_attributes("judge_scores"))
def judge_scores(draft: str) -> dict:
    return {"score": min(5, len(draft) % 6)}


@dg.asset(partitions_def=case_model_partitions, pool=LLM_POOL, description="Guarded declaration (stand-in).", **ui_attributes("guarded_declaration"))
def guarded_declaration(draft: str, judge_scores: dict) -> str:
    return draft + f"\n\nJudged {judge_scores['score']}/5."


@dg.asset(partitions_def=case_model_partitions, description="Evaluation report (stand-in).", **ui_attributes("eval_report"))
def eval_report(context: dg.AssetExecutionContext, guarded_declaration: str, judge_scores: dict) -> dict:
    case_id, model = case_and_model(context)
    report = {"case": case_id, "model": model, "judge_score": judge_scores["score"], "words": len(guarded_declaration.split())}
    context.add_output_metadata(
        {
            "judge_score": report["judge_score"],
            "report": dg.MetadataValue.md(f"| case | model | judge score |\n|---|---|---|\n| {case_id} | {model} | {report['judge_score']} |"),
        }
    )
    return report


@dg.asset(deps=[eval_report], description="Every case x model configuration side by side (stand-in).", **ui_attributes("model_comparison"))
def model_comparison(context: dg.AssetExecutionContext) -> dict:
    rows = {}
    for key in sorted(context.instance.get_materialized_partitions(eval_report.key)):
        [record] = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=eval_report.key, asset_partitions=[key]), limit=1
        ).records
        rows[key] = record.asset_materialization.metadata["judge_score"].value
    context.add_output_metadata({"pairs": len(rows), "table": dg.MetadataValue.json(rows)})
    return rows


ASSETS = [case_record, extracted_text, chunk_index, draft, judge_scores, guarded_declaration, eval_report, model_comparison]


def build_defs() -> dg.Definitions:
    # Wired the way the root Definitions should be: the profile's resources, orchestration without resources.
    resources = orch.profile_resources()
    if orch.current_profile() == "dev":
        resources["case_storage"] = LocalCaseStorage(roots=[str(settings.current().inbox_dir)])
    return dg.Definitions.merge(
        dg.Definitions(
            assets=ASSETS,
            resources=resources,
            executor=dg.in_process_executor,  # tests only: one process per run keeps the 2-core machine responsive
        ),
        orch.orchestration_definitions(include_resources=False),
    )


defs = build_defs()
