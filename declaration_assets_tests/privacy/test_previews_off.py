"""DECLARATION_UI_PREVIEWS=0: a whole case through both jobs leaves no case text in the Dagster event log.

The project's real assets run one sample case (ingest_job, then declaration_job) against the replay deployment
(a real OpenAI-compatible server on 127.0.0.1 that drafts from the case's reference declaration, with seeded bad
sentences so that dropped sentences, review notes and guard findings quote case text). Then every event-log record
of both runs (every event type, serialized whole: metadata, check results, descriptions, log messages) and the
runs' tags are searched for every identifier of the case's `case.yaml` in every spelling they could be stored in.
"""

from __future__ import annotations

import json
import re
import unicodedata

import dagster as dg
import pytest
import yaml
from dagster._serdes import serialize_value

from declaration_assets import settings
from declaration_assets.cases.models import load_case_record
from declaration_assets.evaluation.fidelity import replay_definitions, replay_routes, seeds_for
from declaration_assets.evaluation.replay import ReplayServer, Seed, reference_sentences
from declaration_assets.orchestration import jobs
from declaration_assets.partitions import model_partitions
from declaration_assets.privacy.catalog import build_catalog, dob_strings
from declaration_assets.requirements import load_requirements
from declaration_assets.text import fold

pytestmark = pytest.mark.integration

CASE = "vawa-0001"


def identifiers(record) -> set[str]:
    """Every identifier of the case: names and aliases (accented and not), dates of birth in their usual spellings,
    A-numbers and other IDs, street lines and their parts, postal codes, phones, emails."""
    out = set(record.sensitive_strings()) | {s for _, s in build_catalog(record).needles}
    for p in record.parties:
        if p.date_of_birth:
            out |= set(dob_strings(p.date_of_birth))
    out |= {fold(s) for s in out}
    return {s for s in out if len(s.strip()) >= 4}


def spellings(s: str) -> set[str]:
    """As written, composed and decomposed, JSON-escaped (ASCII and not); lower-cased."""
    forms = {s, unicodedata.normalize("NFC", s), unicodedata.normalize("NFD", s)}
    forms |= {json.dumps(f)[1:-1] for f in list(forms)} | {json.dumps(f, ensure_ascii=False)[1:-1] for f in list(forms)}
    return {f.lower() for f in forms}


def needle_patterns(record) -> dict[str, re.Pattern[str]]:
    """identifier -> a pattern over lower-cased serialized text; digits-only identifiers only between non-digits
    (so a postal code is not found inside a duration or a token count)."""
    out = {}
    for ident in identifiers(record):
        alts = sorted(spellings(ident), key=len, reverse=True)
        body = "|".join(re.escape(a) for a in alts)
        out[ident] = re.compile(rf"(?<!\d)(?:{body})(?!\d)" if ident.strip().isdigit() else f"(?:{body})")
    return out


def leaks(texts: list[tuple[str, str]], patterns: dict[str, re.Pattern[str]]) -> list[str]:
    found = []
    for where, text in texts:
        low = text.lower()
        for ident, rx in patterns.items():
            m = rx.search(low)
            if m:
                found.append(f"{where}: {ident!r} in ...{text[max(0, m.start() - 80):m.end() + 40]!r}...")
    return found


def event_texts(instance: dg.DagsterInstance, run_ids: list[str]) -> list[tuple[str, str]]:
    out = []
    for run_id in run_ids:
        for entry in instance.all_logs(run_id):
            kind = entry.dagster_event.event_type_value if entry.dagster_event else "log"
            label = kind
            if entry.dagster_event is not None and entry.dagster_event.asset_key is not None:
                label += f" {entry.dagster_event.asset_key.to_user_string()}"
            out.append((f"{label} [{entry.step_key}]", serialize_value(entry)))
            out.append((f"{label} [{entry.step_key}] message", entry.user_message or ""))
        run = instance.get_run_by_id(run_id)
        out.append((f"run {run_id} tags", json.dumps(run.tags, ensure_ascii=False)))
    return out


@pytest.mark.timeout(1200)
def test_previews_off_leaves_no_case_identifier_in_the_event_log(tmp_path, monkeypatch):
    settings.configure(ui_previews=False)
    record = load_case_record(settings.current().cases_dir / CASE / "case.yaml")
    patterns = needle_patterns(record)
    assert len(patterns) > 40

    titles = {e.id: e.title for e in load_requirements(record.case_type).elements}
    reference = (settings.current().references_dir / f"{CASE}.md").read_text(encoding="utf-8")
    sentences = reference_sentences(reference, titles)
    elements = list(titles)
    declarant = record.declarant
    born = next(d for d in dob_strings(declarant.date_of_birth) if any(c.isalpha() for c in d))  # "July 22, 1991"
    seeds = seeds_for(CASE, sentences, {}) + [  # staff notes, third-party "I", invented names...: text to drop or flag
        # Sentences whose guard findings quote the record: a date of birth on a page that does not show it, and the
        # declarant's full name run into another party's surname.
        Seed("record_date_elsewhere", elements[0], f"I was born on {born} {{cite}}."),
        Seed("name_combination", elements[1], f"{declarant.name} Salgado signed the lease with me {{cite}}."),
        Seed("identifiers", elements[2], f"My A-number is {declarant.a_number} and my phone is {declarant.phones[0]} "
                                         f"{{cite}}."),
    ]
    keys = model_partitions.get_partition_keys()
    name = "replay" if "replay" in keys else keys[0]
    settings.configure(outputs_dir=tmp_path / "outputs", cache_dir=tmp_path / "cache",
                       call_log=tmp_path / "calls.jsonl")
    monkeypatch.setattr("declaration_assets.privacy.settings.redaction_dir", lambda: tmp_path / "redaction")

    with ReplayServer(sentences, titles, seeds) as server:
        routes = tmp_path / "routes.yaml"
        routes.write_text(yaml.safe_dump(replay_routes(server.base_url, name, "capable"), sort_keys=False))
        settings.configure(routes_file=routes)
        defs = replay_definitions(routes, tmp_path / "cache" / "embeddings", tmp_path / "calls.jsonl")
        (tmp_path / "dagster").mkdir()
        with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
            ingest, declaration = jobs.run_case_in_process(defs, instance, CASE, name, raise_on_error=False)
            assert ingest.success
            assert declaration is not None and declaration.success, \
                [e.message for e in declaration.all_events if e.is_failure] if declaration else None
            guarded = declaration.asset_value("guarded_declaration")
            texts = event_texts(instance, [ingest.run_id, declaration.run_id])
            shown = instance.get_latest_materialization_event(dg.AssetKey("extracted_text")).asset_materialization
    # The neutral parts stay: exhibit letters with the titles their file names give.
    rows = {r.data["exhibit"]: r.data["title"] for r in shown.metadata["document_table"].records}
    assert rows["C"] == "Naturalization certificate" and rows["H"] == "Letters of support"
    assert "preview" not in shown.metadata
    assert server.log.seeds_served, "the replay drafter served the seeded sentences"

    # The run did handle case text: the declaration (not the metadata) names the parties.
    body = guarded.declaration.markdown() if hasattr(guarded.declaration, "markdown") else str(guarded.declaration)
    assert leaks([("declaration", body)], patterns), "the run should carry identifiers in its asset values"
    kinds = {w.split(" ")[0] for w, _ in texts}
    # case_record's metadata (counts, case type, language) is among what was searched.
    assert any(w.startswith("ASSET_MATERIALIZATION case_record") for w, _ in texts)
    assert {"ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION", "STEP_SUCCESS"} <= kinds
    found = leaks(texts, patterns)
    assert found == [], f"{len(found)} identifier hits in the event log, e.g.:\n" + "\n".join(found[:40])
