"""Each metadata value that can quote case text, with DECLARATION_UI_PREVIEWS on (unchanged) and off (neutral)."""

from __future__ import annotations

from types import SimpleNamespace

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.drafting.pipeline import gap_label
from declaration_assets.extraction.metadata import documents_table
from declaration_assets.extraction.models import DocumentInfo, ExtractedCase, PageText
from declaration_assets.guarding.assets import guarded_metadata, rewrite_table
from declaration_assets.guarding.models import SectionRewrite
from declaration_assets.checks.checks import guard_check_result
from declaration_assets.checks.models import Finding, GuardReport
from declaration_assets.privacy.settings import WITHHELD

NAME = "Ricardo Antonio Ibarra Salgado"
QUOTE = f"'{NAME} Montoya' does not occur in the case record as written"


@pytest.fixture(params=["on", "off"])
def previews(request, monkeypatch) -> bool:
    settings.configure(ui_previews=request.param == "on")
    return request.param == "on"


def _serialized(value) -> str:
    from dagster._serdes import serialize_value

    return serialize_value(value)


def test_document_titles_from_the_page_only_with_previews(previews):
    case = ExtractedCase(
        case_id="vawa-0001",
        documents=[DocumentInfo(name="03-naturalization-certificate.pdf", exhibit="C", pages=1,
                                title=f"Certificate of Naturalization of {NAME}")],
        pages=[PageText(document="03-naturalization-certificate.pdf", page=1, method="text", language="en",
                        text=f"Certificate of Naturalization of {NAME}")],
    )
    [row] = documents_table(case, []).records
    assert row.data["exhibit"] == "C" and row.data["pages"] == 1
    assert row.data["title"] == (f"Certificate of Naturalization of {NAME}" if previews else "Naturalization certificate")


def report() -> GuardReport:
    return GuardReport(findings=[
        Finding(rule="name_combination_not_in_record", severity="serious", section_key="abuse", message=QUOTE),
        Finding(rule="date_not_on_cited_page", severity="warning", section_key="abuse",
                message="the date 'July 22, 1991' is in the record but not on the page it cites (Ex. A, p. 1)"),
    ], word_count=1200)


def test_guard_check_quotes_findings_only_with_previews(previews):
    result = guard_check_result(report(), asset_key="draft", severity=dg.AssetCheckSeverity.WARN)
    text = result.description + _serialized(result.metadata)
    assert (NAME in text) == previews and ("July 22, 1991" in text) == previews
    assert result.description.startswith("1 serious finding(s): name_combination_not_in_record")
    assert "name_combination_not_in_record" in result.metadata["findings"].value and "| abuse |" in result.metadata["findings"].value
    assert result.metadata["serious"].value == 1 and result.metadata["warnings"].value == 1
    assert (WITHHELD in result.metadata["findings"].value) != previews


def test_guarded_declaration_reasons_and_rewrites_only_with_previews(previews):
    r = report()
    value = SimpleNamespace(
        status="NOT READY", reasons=r.reasons(), report=r, draft_report=r, records=[], output_dir="/tmp/x", files={},
        provenance=SimpleNamespace(version="v1", routing_file_sha256="0" * 64, prompt_version="p"),
        rewrites=[SectionRewrite(section_key="abuse", title="Battery or Extreme Cruelty", outcome="kept_original",
                                 before=(1, 1, 0), after=(1, 1, 0), reasons=[QUOTE, "a judge said: Lucía's account..."])],
    )
    meta = guarded_metadata(value, markdown=f"# Declaration of {NAME}")
    text = _serialized({k: v for k, v in meta.items() if isinstance(v, dg.MetadataValue)}) + str(meta)
    assert (NAME in text) == previews
    assert "name_combination_not_in_record" in meta["reasons"].value
    table = rewrite_table(value)
    assert "Battery or Extreme Cruelty" in table and "kept_original" in table
    assert ("2 reason(s)" in table) != previews
    assert ("preview" in meta) == previews


def test_gap_label_keeps_the_reason_without_a_call_error():
    assert gap_label("every drafter call failed (BadRequest: 'Lucía ...' is not allowed)") == "every drafter call failed"
    assert gap_label("all sentences removed: third_person 3") == "all sentences removed: third_person 3"


def test_eval_report_inline_copy_names_rules_the_file_keeps_the_reasons(tmp_path, monkeypatch):
    settings.configure(ui_previews=False)
    from declaration_assets.evaluation.assets import _write_outputs, without_case_text
    from declaration_assets.evaluation.models import EvalReport, GuardSummary, JudgeSummary
    from declaration_assets.evaluation.report import render_report_md

    reasons = report().reasons()
    guards = GuardSummary(status="NOT READY", reasons=reasons, serious=1, warnings=1,
                          by_rule={"name_combination_not_in_record": {"serious": 1, "warning": 0}},
                          draft_serious=1, draft_warnings=1, rewrite_outcomes={})
    rep = EvalReport(case_id="vawa-0001", model_config_name="default", run_id="r", created_at="t",
                     reference_path="x", reference_found=False, bertscore=None, judges=JudgeSummary(
                         judges=[], shared_model=False, mean_by_element={}, by_judge={}, overall_mean=None, agreement={},
                         overall_agreement=None, unscorable=0),
                     guards=guards, usage=[], usage_source={}, declaration_words=0,
                     totals={"attempts": 0, "failures": 0, "prompt_tokens": 0, "completion_tokens": 0,
                             "latency_s": 0.0, "cost_usd": 0.0})
    files, file_md, inline_md = _write_outputs(tmp_path, "r", "eval_report.md", {},
                                               lambda links: render_report_md(rep, links),
                                               lambda links: render_report_md(without_case_text(rep), links))
    assert NAME in file_md and NAME in (tmp_path / next(iter(files))).read_text(encoding="utf-8")
    assert NAME not in inline_md and "- name_combination_not_in_record\n" in inline_md
    assert rep.guards.reasons == reasons  # the value itself is unchanged
