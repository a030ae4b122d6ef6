"""Which stored asset values name which project modules (docs/UPGRADING.md rests on this).

Asset values are pickled (the dev instance's filesystem storage, S3 in production), and a pickle names each class
by its module path: a value holding a class whose module was moved no longer loads. The upgrade note lists the
assets to re-materialize after a move; this test proves the list, once over the value types (every field, however
nested) and once over pickles of real values.
"""

from __future__ import annotations

import dataclasses
import pickle
import pickletools
import typing

import pytest
from pydantic import BaseModel

from declaration_assets.cases.models import CaseRecord
from declaration_assets.checks.evaluate import guard_draft
from declaration_assets.definitions import defs
from declaration_assets.drafting.models import Draft
from declaration_assets.evaluation.models import EvalReport, ModelComparison
from declaration_assets.exports.provenance import Provenance
from declaration_assets.extraction.models import ExtractedCase
from declaration_assets.guarding.models import GuardedDeclaration
from declaration_assets.judging.models import JudgeScores
from declaration_assets.retrieval.models import ChunkIndex
from declaration_assets_tests.checks.fixtures import REFERENCES, case_record, draft_from_markdown, extracted_from_sources

# The type of each asset's value (`guarded_declaration` yields its Output, so Dagster cannot read it off the function).
VALUE_TYPES: dict[str, type] = {
    "case_record": CaseRecord,
    "extracted_text": ExtractedCase,
    "chunk_index": ChunkIndex,
    "draft": Draft,
    "judge_scores": JudgeScores,
    "guarded_declaration": GuardedDeclaration,
    "eval_report": EvalReport,
    "model_comparison": ModelComparison,
}
# The assets whose stored values name a class of `declaration_assets.checks` (formerly `declaration_assets.guards`).
HOLDING_CHECKS_CLASSES = {"guarded_declaration"}
CHECKS = "declaration_assets.checks"


def project_classes(tp: object, seen: set[type] | None = None) -> set[type]:
    """Every class of the project a value of type `tp` can hold: through pydantic fields, dataclass fields and the
    arguments of generic types (list[...], dict[..., ...], X | None), recursively."""
    seen = set() if seen is None else seen
    out: set[type] = set()
    for arg in typing.get_args(tp):
        out |= project_classes(arg, seen)
    origin = typing.get_origin(tp)
    if origin is not None or not isinstance(tp, type) or tp in seen:
        return out
    seen.add(tp)
    if tp.__module__.startswith("declaration_assets"):
        out.add(tp)
    if issubclass(tp, BaseModel):
        hints = typing.get_type_hints(tp)
        for name in tp.model_fields:
            out |= project_classes(hints.get(name, tp.model_fields[name].annotation), seen)
    elif dataclasses.is_dataclass(tp):
        for f, hint in typing.get_type_hints(tp).items():
            out |= project_classes(hint, seen)
    return out


def pickled_modules(value: object) -> set[str]:
    """The modules a pickle of `value` names (its GLOBAL / STACK_GLOBAL opcodes)."""
    data = pickle.dumps(value)
    modules: set[str] = set()
    strings: list[str] = []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            modules.add(strings[-2])
        elif op.name == "GLOBAL":
            modules.add(arg.split(" ")[0])
    return modules


def test_value_types_cover_every_asset() -> None:
    assert set(VALUE_TYPES) == {a.key.to_user_string() for a in defs.assets}
    for asset in defs.assets:
        declared = asset.op.outs["result"].dagster_type.typing_type
        if declared is not typing.Any:
            assert declared is VALUE_TYPES[asset.key.to_user_string()], asset.key


@pytest.mark.parametrize("asset", sorted(VALUE_TYPES))
def test_only_the_listed_assets_hold_a_class_of_the_checks_package(asset: str) -> None:
    modules = {c.__module__ for c in project_classes(VALUE_TYPES[asset])}
    holds = any(m == CHECKS or m.startswith(CHECKS + ".") for m in modules)
    assert holds == (asset in HOLDING_CHECKS_CLASSES), sorted(modules)


def test_real_pickles_agree() -> None:
    case = "vawa-0001"
    record = case_record(case)
    extracted = extracted_from_sources(case)
    d = draft_from_markdown((REFERENCES / f"{case}.md").read_text(encoding="utf-8"), case, record.case_type, extracted)
    report = guard_draft(d, record, extracted)
    guarded = GuardedDeclaration(
        case_id=case, model_config_name="default", status="READY" if report.ready else "NOT READY",
        reasons=report.reasons(), declaration=d, draft_report=report, report=report, rewrites=[], records=[],
        provenance=Provenance(case_id=case, model_config_name="default", run_id="r", routing_file="routes.yaml",
                              routing_file_sha256="0", prompt_version="p", created_at="2026-01-01T00:00:00Z"),
    )
    for name, value in {"case_record": record, "extracted_text": extracted, "draft": d, "guarded_declaration": guarded}.items():
        modules = pickled_modules(value)
        assert any(m.startswith("declaration_assets.") for m in modules), name
        assert (CHECKS + ".models" in modules) == (name in HOLDING_CHECKS_CLASSES), (name, sorted(modules))
    assert not any(m.startswith("declaration_assets.guards") for m in pickled_modules(guarded))
