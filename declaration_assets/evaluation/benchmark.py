"""Benchmarks of the evaluation stage on the shipped sample cases (figures in docs/BENCHMARKS.md, "Evaluation").

    .venv/bin/python -m declaration_assets.evaluation.benchmark [--mutations 20] [--no-bertscore]

1. Guards: findings on each hand-written reference declaration (facts all in the record: anything but the length
   bound is a false positive), then seeded mutations of those references (an invented name, a wrong date, a phone,
   an address, an ID number, a citation to a missing page or exhibit, a placeholder, a removed element), counting
   how many the guards catch at the mutated span.
2. BERTScore: how much of a declaration one-shot scoring sees (512-token cut) against the windowed, section-aligned
   scoring, and how each reacts when the second half of every section is replaced by unrelated text.

The case record is case.yaml plus the documents' source text (data/case_sources), i.e. a perfect text layer.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass

from .. import settings
from ..cases.models import load_case_record
from ..drafting.models import Draft
from ..extraction.models import ExtractedCase
from ..checks.evaluate import case_facts, length_bounds, required_elements
from ..checks.rules import run_guards
from ..requirements import load_requirements
from .samples import draft_from_markdown, extracted_from_sources
from .bertscore import BertScoreScorer, align_sections, clean, default_model, parse_reference, score_sections


@dataclass
class Sample:
    case_id: str
    draft: Draft
    extracted: ExtractedCase
    facts: object
    required: list[tuple[str, str]]
    bounds: tuple[int, int]


def load_sample(case_id: str) -> Sample:
    record = load_case_record(settings.current().cases_dir / case_id / "case.yaml")
    ex = extracted_from_sources(case_id)
    md = (settings.current().references_dir / f"{case_id}.md").read_text(encoding="utf-8")
    d = draft_from_markdown(md, case_id, record.case_type, ex, record.language)
    return Sample(case_id, d, ex, case_facts(d, record, ex), required_elements(d.case_type), length_bounds(d.case_type))


INVENTED_NAMES = ["John Whitaker", "Amanda Kowalski", "Pedro Hinojosa Trevi", "Grace Okonkwo", "Samuel Lindqvist"]
MUTATIONS = {
    # kind: (expected rules, text builder)
    "name": ({"name_not_in_record"}, lambda rng, s: f"{rng.choice(INVENTED_NAMES)} saw it happen"),
    "date": ({"date_not_in_record"}, lambda rng, s: f"On {rng.choice(['March', 'October', 'May'])} {rng.randint(1, 28)}, {rng.choice([1979, 2031, 2005])} it happened"),
    "date_shift": ({"date_not_in_record"}, lambda rng, s: _shifted_record_date(rng, s)),
    "name_mix": ({"name_combination_not_in_record", "name_not_in_record"}, lambda rng, s: _mixed_party_name(rng, s)),
    "phone": ({"phone_not_in_record"}, lambda rng, s: f"He called from (832) 555-{rng.randint(1000, 9999)}"),
    "address": ({"address_not_in_record"}, lambda rng, s: f"We went to {rng.randint(100, 9999)} Magnolia Avenue"),
    "id": ({"number_not_in_record"}, lambda rng, s: f"His number is A-{rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randint(100, 999)}"),
    "page": ({"page_out_of_range"}, None),
    "exhibit": ({"unknown_exhibit"}, None),
    "placeholder": ({"placeholder"}, lambda rng, s: f"I told {rng.choice(['[NAME]', '<PERSON_1>', '{evidence}', 'TODO', '[insert date]'])} about it"),
    "element": ({"missing_element"}, None),
    # last, so the kinds above draw the same random numbers as before it was added
    "date_elsewhere": ({"date_not_on_cited_page"}, None),
}


def _shifted_record_date(rng: random.Random, s: Sample) -> str:
    """A date of the record moved by one day: the kind of slip a model makes."""
    from datetime import timedelta

    d = rng.choice(sorted(s.facts.days)) + timedelta(days=rng.choice([-1, 1]))
    return f"On {d.strftime('%B')} {d.day}, {d.year} it happened"


def _mixed_party_name(rng: random.Random, s: Sample) -> str:
    """One party's first name with another party's last name (every word is in the record, the person is not)."""
    record = load_case_record(settings.current().cases_dir / s.case_id / "case.yaml")
    names = [p.name.split() for p in record.parties if len(p.name.split()) >= 2]
    a, b = rng.sample(names, 2)
    return f"{a[0]} {b[-1]} saw it happen"


def mutate(sample: Sample, kind: str, rng: random.Random) -> tuple[Draft, str]:
    d = sample.draft.model_copy(deep=True)
    elements = [s for s in d.sections if s.kind == "element"]
    target = rng.choice(elements)
    letters = sorted(sample.facts.exhibits)
    if kind == "element":
        d.sections = [s for s in d.sections if s is not target]
        return d, target.element_id or ""
    if kind == "page":
        ex = rng.choice(letters)
        text = f"[Ex. {ex}, p. {sample.facts.exhibits[ex] + rng.randint(1, 5)}]"
        target.paragraphs.append(f"It is written there {text}.")
        return d, text
    if kind == "exhibit":
        text = f"[Ex. {chr(ord(letters[-1]) + rng.randint(1, 5))}, p. 1]"
        target.paragraphs.append(f"It is written there {text}.")
        return d, text
    if kind == "date_elsewhere":
        # A date of the record, cited to a page that does not show it: the date of one event given to another.
        on_pages = sorted({d for days in sample.facts.page_days.values() for d in days})
        day = rng.choice(on_pages)
        pages = [(e, 1) for e in letters if day not in sample.facts.page_days.get((e, 1), set())]
        ex, page = rng.choice(pages)
        text = f"On {day.strftime('%B')} {day.day}, {day.year} it happened"
        target.paragraphs.append(f"{text} [Ex. {ex}, p. {page}].")
        return d, text
    expected_rules, build = MUTATIONS[kind]
    text = build(rng, sample)
    ex = rng.choice(letters)
    target.paragraphs.append(f"{text} [Ex. {ex}, p. 1].")
    return d, text


def caught(report, kind: str, marker: str) -> bool:
    rules = MUTATIONS[kind][0]
    for f in report.findings:
        if f.rule not in rules:
            continue
        if kind == "element":
            if f.section_key == marker:
                return True
        elif f.evidence is not None and (f.evidence.text in marker or marker in f.evidence.text or
                                         any(tok in f.evidence.text for tok in marker.split()[:2])):
            return True
    return False


def bench_guards(cases: list[str], per_kind: int, seed: int) -> None:
    print("## Guards on the reference declarations\n")
    print("| case | words | serious (besides length) | warnings | length finding | guard time ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    samples = []
    for c in cases:
        s = load_sample(c)
        samples.append(s)
        t = time.perf_counter()
        rep = run_guards(s.draft, s.facts, s.required, s.bounds)
        ms = (time.perf_counter() - t) * 1000
        other = [f for f in rep.serious if f.rule not in ("too_short", "too_long")]
        length = ", ".join(f.rule for f in rep.findings if f.rule in ("too_short", "too_long")) or "none"
        print(f"| {c} | {rep.word_count} | {len(other)} | {rep.warning_count} | {length} | {ms:.0f} |")
        for f in other + rep.warnings:
            print(f"|   | | {f.rule}: {f.message[:90]} | | | |")
    print(f"\n## Seeded mutations ({per_kind} per kind per case, seed {seed})\n")
    print("| mutation | caught | injected |")
    print("| --- | --- | --- |")
    rng = random.Random(seed)
    for kind in MUTATIONS:
        hit = total = 0
        for s in samples:
            for _ in range(per_kind):
                d, marker = mutate(s, kind, rng)
                rep = run_guards(d, s.facts, s.required, s.bounds)
                hit += caught(rep, kind, marker)
                total += 1
        print(f"| {kind} | {hit} | {total} |")


def bench_bertscore(cases: list[str]) -> None:
    path, layers = default_model()
    scorer = BertScoreScorer(path, layers)
    from bert_score.utils import get_tokenizer

    tok = get_tokenizer(path, use_fast=False)
    print(f"\n## BERTScore: one-shot vs windowed ({scorer.name})\n")
    print("| case | words | tokens | one-shot sees | one-shot F1 (tail replaced) | windowed F1 (tail replaced) | windowed time s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    filler = "The weather report for the coastal region predicts light rain and mild winds this afternoon."
    for c in cases:
        s = load_sample(c)
        ref_md = (settings.current().references_dir / f"{c}.md").read_text(encoding="utf-8")
        reference = parse_reference(ref_md)
        titles = {e.id: e.title for e in load_requirements(s.draft.case_type).elements}
        changed = s.draft.model_copy(deep=True)
        for sec in changed.sections:  # replace the second half of every section by unrelated text
            words = sec.text().split()
            keep = " ".join(words[: len(words) // 2])
            sec.paragraphs = [keep + " " + " ".join([filler] * max(1, len(words) // 2 // len(filler.split())))]
        full_ref = " ".join(t for _, t in reference)
        full_changed = " ".join(clean(x.text()) for x in changed.sections)
        n_tokens = len(tok.tokenize(full_ref))
        seen = min(1.0, 510 / n_tokens)
        one_shot = scorer.score([full_changed], [full_ref])[0][2]
        t = time.perf_counter()
        windowed = score_sections(align_sections(changed, reference, titles), scorer)
        secs = time.perf_counter() - t
        print(f"| {c} | {len(full_ref.split())} | {n_tokens} | {seen:.0%} | {one_shot:.3f} | {windowed.f1:.3f} | {secs:.1f} |")
    # Scale: two different declarations of the same case type (MiniLM scores are not baseline-rescaled).
    a, b = load_sample(cases[0]), cases[1]
    ref_b = parse_reference((settings.current().references_dir / f"{b}.md").read_text(encoding="utf-8"))
    titles = {e.id: e.title for e in load_requirements(a.draft.case_type).elements}
    other = score_sections(align_sections(a.draft, ref_b, titles), scorer)
    print(f"\nScale: the {cases[0]} reference scored against the {b} reference (another client, same case type): "
          f"P {other.precision:.3f}, R {other.recall:.3f}, F1 {other.f1:.3f}.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=None)
    ap.add_argument("--mutations", type=int, default=20, help="mutations per kind per case")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-bertscore", action="store_true")
    args = ap.parse_args()
    cases = args.cases or sorted(p.stem for p in settings.current().references_dir.glob("*.md")
                                 if (settings.current().cases_dir / p.stem / "case.yaml").is_file())
    bench_guards(cases, args.mutations, args.seed)
    if not args.no_bertscore:
        vawa = [c for c in cases if c.startswith("vawa")]
        bench_bertscore(vawa if len(vawa) >= 2 else cases)


if __name__ == "__main__":
    main()
