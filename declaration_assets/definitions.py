"""The code location: the case record, then six assets from a case's PDFs to its evaluated declaration, plus the model
comparison."""

import dagster as dg

from .cases.assets import case_record
from .drafting.assets import draft
from .evaluation.assets import eval_report, model_comparison
from .extraction.assets import extracted_text
from .guarding.assets import guarded_declaration
from .checks.checks import asset_checks
from .judging.assets import judge_scores
from .llm.resources import LLMRouter
from .orchestration.defs import orchestration_definitions, profile_resources
from .privacy.permissions import apply_umask
from .retrieval.assets import chunk_index
from .retrieval.embeddings import Embedder

# Every process that loads the code location (the webserver's code server, the daemon's, each run worker) creates
# the files holding case content owner-only (or group-only), never world-readable.
apply_umask()

defs = dg.Definitions.merge(
    dg.Definitions(
        assets=[case_record, extracted_text, chunk_index, draft, judge_scores, guarded_declaration, eval_report,
                model_comparison],
        asset_checks=asset_checks,
        # case_storage (and in production the S3 io_manager) come from the profile: DECLARATION_PROFILE=dev|production
        resources={"embedder": Embedder(), "llm": LLMRouter(), **profile_resources()},
    ),
    orchestration_definitions(include_resources=False),
)
