"""The fidelity benchmark: how much of a perfect drafter's text the pipeline keeps, and how much bad text it
still refuses (figures in docs/BENCHMARKS.md, "Fidelity"; command in `scripts/bench_fidelity.py`).

One case at a time, the project's real assets run (ingest, then draft -> judge_scores -> guarded_declaration ->
eval_report) against a `ReplayServer` that serves the case's reference declaration through the real `retrieve`
path: each drafter call gets the reference sentences whose cited pages were among the passages it was shown.
A sentence *survives* when it is in the final declaration identical after normalising citations and whitespace.

The same run slips seeded bad sentences into the answers (`seeds_for`): each must be dropped, flagged in the
review notes, or reported by a guard finding at its text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import dagster as dg

from .. import settings
from ..cases.models import load_case_record
from ..llm.records import CallLog, CallRecord
from ..requirements import load_requirements
from ..text import comparable, fold, split_sentences
from .replay import ReferenceSentence, ReplayServer, Seed, reference_sentences

# What a capable hosted model costs per 1k tokens (Claude Sonnet list prices), so the report shows a realistic bill.
REPLAY_COST = {"input_per_1k": 0.003, "output_per_1k": 0.015}

SEED_KINDS = (
    "invented_name_or_number", "third_party_i", "other_case_facts", "third_person_narration",
    "english_vs_spanish_passage", "staff_note", "repeated_paragraph", "swapped_subject",
)


def replay_routes(base_url: str, config_name: str, profile: str | None) -> dict[str, Any]:
    """A routing file whose every role is served by the replay server; `profile` None writes no profile key."""
    cfg: dict[str, Any] = {"drafter": ["replay"], "judges": [["replay"]] * 3, "guard": ["replay"]}
    if profile is not None:
        cfg = {"drafting_profile": profile, **cfg}
    return {
        "default": config_name,
        "deployments": {"replay": {
            "model": "openai/replay", "api_base": base_url, "context_window": 200000, "privacy": "local",
            "tokenizer": "estimate", "max_concurrency": 4, "retry": {"attempts": 0},
            "deadlines": {"total_s": 120, "first_token_s": 60, "stall_s": 30}, "cost": REPLAY_COST,
        }},
        "model_configs": {config_name: cfg},
    }


# --- seeds ------------------------------------------------------------------------------------------------------


def _first_names(record) -> list[str]:
    return [p.name.split()[0] for p in record.parties]


def seeds_for(case_id: str, sentences: list[ReferenceSentence], others: dict[str, list[ReferenceSentence]]) -> list[Seed]:
    """Bad sentences of every kind, spread over the case's elements (deterministic)."""
    record = load_case_record(settings.current().cases_dir / case_id / "case.yaml")
    elements = [e.id for e in load_requirements(record.case_type).elements]
    declarant = record.declarant
    surname = declarant.name.split()[-2] if len(declarant.name.split()) >= 3 else declarant.name.split()[-1]
    first = declarant.name.split()[0]
    at = lambda i: elements[i % len(elements)]  # noqa: E731
    out = [
        Seed("invented_name_or_number", at(0), "My friend Samuel Lindqvist drove me to the shelter that night {cite}."),
        Seed("invented_name_or_number", at(1), "He made me pay him 7,385 dollars every month {cite}."),
        Seed("third_party_i", at(1), f"I have known {first} for many years, and I saw the bruises on her arms {{cite}}."),
        Seed("third_party_i", at(2), f"I am writing this letter in support of {first}'s application {{cite}}."),
        Seed("third_person_narration", at(1), f"Ms. {surname} told the officer that she was afraid to go home {{cite}}."),
        Seed("third_person_narration", at(2), "The declarant was afraid and had nowhere else to go {cite}."),
        Seed("english_vs_spanish_passage", at(0),
             "I worked as a nurse at the central hospital for many years before I came here {cite}."),
        Seed("staff_note", at(0), "Staff to confirm the date of entry with a FOIA request {cite}."),
        Seed("staff_note", at(3), "Attorney note: ask the client about any prior arrests {cite}."),
    ]
    other_case = next(iter(others.values()), [])
    for s in other_case[:2]:
        out.append(Seed("other_case_facts", s.element_id if s.element_id in elements else at(0), s.text))
    swaps = [s for s in sentences if re.match(r"^He\s+\w+", s.text)][:2]
    for s in swaps:
        swapped = re.sub(r"^He\b", "I", s.text)
        swapped = re.sub(r"\bme\b", "him", swapped)
        out.append(Seed("swapped_subject", s.element_id, swapped))
    # One element's paragraph served again under another element.
    by_el: dict[str, list[ReferenceSentence]] = {}
    for s in sentences:
        by_el.setdefault(s.element_id, []).append(s)
    src = elements[0]
    para = [s.text for s in by_el.get(src, []) if s.paragraph == 0]
    if para:
        out.append(Seed("repeated_paragraph", at(1), " ".join(para)))
    return out


# --- one case ---------------------------------------------------------------------------------------------------


@dataclass
class CaseFidelity:
    case_id: str
    reference: int
    shown: int
    survived: int
    words: int
    f1: float | None
    status: str
    reasons: list[str]
    dropped: list[tuple[str, str, str]]  # (element, sentence, reason)
    seeds: dict[str, tuple[int, int]]  # kind -> (dropped or flagged, served)
    tokens: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    calls: int = 0
    seconds: float = 0.0

    @property
    def survival(self) -> float:
        return self.survived / self.shown if self.shown else 0.0


def _final_sentences(declaration) -> dict[str, str]:
    """comparable sentence -> section key, for every sentence of the final declaration."""
    out = {}
    for s in declaration.sections:
        for p in s.paragraphs:
            for sent in split_sentences(p):
                out.setdefault(comparable(sent), s.element_id or s.kind)
    return out


def _drop_reason(key: str, element_id: str, declaration) -> str:
    """Why a shown reference sentence is not in the final text, from the draft's review notes when it says."""
    section = declaration.section_for(element_id)
    notes = list(getattr(section, "review_notes", []) or []) if section else []
    for n in notes:
        if key[:60] in comparable(n):
            m = re.match(r"^\s*(?:dropped|removed)?\s*\(?([a-z_ ]+)\)?[:\-]", n, re.I)
            return m.group(1).strip() if m else n[:60]
    if section is not None and section.gap:
        return f"gap: {section.gap[:80]}"
    return "not in the final text (no note)"


def _present(text: str, final: dict[str, str], body: str) -> bool:
    key = comparable(text)
    return key in final or (len(key) > 30 and key[:-1] in body)


def _flagged(text: str, declaration, report) -> bool:
    key = comparable(text)
    for s in declaration.sections:
        for n in getattr(s, "review_notes", []) or []:
            if key[:50] in comparable(n):
                return True
    for f in report.findings:
        if f.evidence is not None and f.evidence.text and fold(f.evidence.text) in fold(key):
            return True
    return False


def evaluate_case(case_id: str, sentences: list[ReferenceSentence], server: ReplayServer, guarded, evaluation,
                  records: list[CallRecord]) -> CaseFidelity:
    declaration = guarded.declaration
    final = _final_sentences(declaration)
    body = comparable(" ".join(p for s in declaration.sections for p in s.paragraphs))
    shown = [s for s in sentences if s.key in server.log.served[s.element_id]]
    survived = [s for s in shown if _present(s.text, final, body)]
    dropped = [(s.element_id, s.text, _drop_reason(s.key, s.element_id, declaration))
               for s in shown if s not in survived]
    seeds: dict[str, list[int]] = {k: [0, 0] for k in SEED_KINDS}
    for sd in server.log.seeds_served:
        parts = [sd.text] if sd.kind != "repeated_paragraph" else split_sentences(sd.text)
        for part in parts:
            part = part.replace("{cite}", "")
            seeds[sd.kind][1] += 1
            if sd.kind == "repeated_paragraph":
                count = sum(1 for s in declaration.sections for p in s.paragraphs if comparable(part)[:80] in comparable(p))
                seeds[sd.kind][0] += count <= 1
            else:
                seeds[sd.kind][0] += (not _present(part, final, body)) or _flagged(part, declaration, guarded.report)
    ok = [r for r in records if r.outcome == "ok"]
    drafter = [r for r in ok if r.role == "drafter"]
    tokens = {"prompt": sum(r.prompt_tokens or 0 for r in drafter),
              "completion": sum(r.completion_tokens or 0 for r in drafter),
              "all_roles": sum((r.prompt_tokens or 0) + (r.completion_tokens or 0) for r in ok)}
    bert = evaluation.bertscore
    return CaseFidelity(
        case_id=case_id, reference=len(sentences), shown=len(shown), survived=len(survived),
        words=declaration.word_count(), f1=bert.f1 if bert is not None else None, status=guarded.status,
        reasons=list(guarded.reasons), dropped=dropped, seeds={k: (v[0], v[1]) for k, v in seeds.items()},
        tokens=tokens, cost_usd=sum(r.cost_usd for r in ok), calls=len(drafter),
    )


def replay_definitions(routes: Path, embeddings_cache: Path, call_log: Path) -> dg.Definitions:
    """The project's own assets, checks and two jobs, with the LLM routed by `routes` (uncached), the sample case
    folders as case storage and the given embedding cache and call log."""
    import dagster as dg

    from ..cases.storage import LocalCaseStorage
    from ..definitions import defs as root
    from ..llm.resources import LLMRouter
    from ..orchestration import jobs
    from ..retrieval.embeddings import Embedder

    return dg.Definitions(
        assets=list(root.assets), asset_checks=list(root.asset_checks or []),
        jobs=[jobs.ingest_job, jobs.declaration_job],
        resources={
            **{k: v for k, v in (root.resources or {}).items() if k not in ("llm", "case_storage", "embedder")},
            "case_storage": LocalCaseStorage(roots=[str(settings.current().cases_dir)]),
            "embedder": Embedder(cache_dir=str(embeddings_cache)),
            "llm": LLMRouter(routes_file=str(routes), use_cache=False, call_log_path=str(call_log)),
        },
    )


def run_case(case_id: str, workdir: Path, *, profile: str | None, with_seeds: bool = True,
             config_name: str | None = None) -> CaseFidelity:
    """Materialize the real assets of `case_id` against a replay server; outputs and caches under `workdir`."""
    import time

    import dagster as dg

    from ..orchestration import jobs
    from ..partitions import model_partitions

    record = load_case_record(settings.current().cases_dir / case_id / "case.yaml")
    titles = {e.id: e.title for e in load_requirements(record.case_type).elements}
    sentences = reference_sentences((settings.current().references_dir / f"{case_id}.md").read_text(encoding="utf-8"), titles)
    others = {}
    for ref in sorted(settings.current().references_dir.glob("*.md")):
        if ref.stem != case_id:
            orec = load_case_record(settings.current().cases_dir / ref.stem / "case.yaml")
            otitles = {e.id: e.title for e in load_requirements(orec.case_type).elements}
            others[ref.stem] = reference_sentences(ref.read_text(encoding="utf-8"), otitles)
    seeds = seeds_for(case_id, sentences, others) if with_seeds else []
    keys = model_partitions.get_partition_keys()
    name = config_name or ("replay" if "replay" in keys else keys[0])
    workdir.mkdir(parents=True, exist_ok=True)
    calls = workdir / f"calls-{case_id}.jsonl"
    calls.unlink(missing_ok=True)
    started = time.monotonic()
    with ReplayServer(sentences, titles, seeds) as server:
        routes = workdir / "replay_routes.yaml"
        routes.write_text(yaml.safe_dump(replay_routes(server.base_url, name, profile), sort_keys=False))
        with settings.override(outputs_dir=workdir / "outputs", cache_dir=workdir / "cache", call_log=calls,
                               routes_file=routes):
            defs = replay_definitions(routes, workdir / "cache" / "embeddings", calls)
            (workdir / "dagster").mkdir(parents=True, exist_ok=True)
            with dg.instance_for_test(temp_dir=str(workdir / "dagster")) as instance:
                ingest, declaration = jobs.run_case_in_process(defs, instance, case_id, name, raise_on_error=False)
                if declaration is None or not declaration.success:
                    failures = [e.message for r in (ingest, declaration) if r for e in r.all_events if e.is_failure]
                    raise RuntimeError(f"{case_id}: the replay run failed: {failures[:3]}")
                guarded = declaration.asset_value("guarded_declaration")
                evaluation = declaration.asset_value("eval_report")
        result = evaluate_case(case_id, sentences, server, guarded, evaluation, CallLog(calls).read())
    result.seconds = time.monotonic() - started
    return result


def seed_counts(results: list[CaseFidelity]) -> dict[str, tuple[int, int]]:
    total: dict[str, Counter[str]] = {k: Counter() for k in SEED_KINDS}
    for r in results:
        for k, (hit, n) in r.seeds.items():
            total[k]["hit"] += hit
            total[k]["n"] += n
    return {k: (v["hit"], v["n"]) for k, v in total.items()}
