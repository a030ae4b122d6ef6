"""Fidelity benchmark: what the pipeline keeps of a perfect drafter's text, and what bad text it still refuses.

    .venv/bin/python scripts/bench_fidelity.py [--cases vawa-0001 ...] [--profile capable] [--workdir DIR]

Runs the project's real assets per sample case against a replay deployment (declaration_assets/evaluation/
replay.py) that serves the case's reference declaration as the drafter, judges that give 5 and a guard that
returns the section unchanged, with the routing file naming the `--profile` drafting profile. Prints per case the
reference sentences, those whose sources were shown, how many survived, words, BERTScore F1 (eval_report),
status; every dropped sentence with its reason; tokens and cost; and the seeded bad sentences dropped or flagged.
`--profile none` writes no profile key (the routing file of a version without drafting profiles).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import yaml

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from declaration_assets import settings  # noqa: E402
from declaration_assets.evaluation.fidelity import SEED_KINDS, replay_routes, run_case, seed_counts  # noqa: E402

# The model dimension of the partitions is read from the routing file when the definitions load, through its schema:
# name the replay configuration in a valid file (each case's run writes its own, with the replay server's address).
_ROUTES = Path(tempfile.gettempdir()) / f"bench_fidelity_routes_{os.getpid()}.yaml"
_ROUTES.write_text(yaml.safe_dump(replay_routes("http://127.0.0.1:9/v1", "replay", None)), encoding="utf-8")
os.environ["DECLARATION_ROUTES"] = str(_ROUTES)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=None)
    ap.add_argument("--profile", default="capable", help="drafting profile of the replay configuration, or 'none'")
    ap.add_argument("--workdir", default=None, help="outputs, caches and the Dagster instance (default: a temp dir)")
    ap.add_argument("--no-seeds", action="store_true", help="serve the reference only")
    ap.add_argument("--show-dropped", type=int, default=1000, help="list at most this many dropped sentences")
    args = ap.parse_args()
    cases = args.cases or sorted(p.stem for p in settings.current().references_dir.glob("*.md")
                                 if (settings.current().cases_dir / p.stem / "case.yaml").is_file())
    profile = None if args.profile == "none" else args.profile
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench_fidelity_"))
    results = []
    for c in cases:
        print(f"running {c} ...", file=sys.stderr, flush=True)
        results.append(run_case(c, work / c, profile=profile, with_seeds=not args.no_seeds))
    print(f"## Fidelity: replayed reference declarations, profile {args.profile}\n")
    print("| case | reference sentences | shown-source sentences | survived | survival | words | BERTScore F1 "
          "| status | drafter calls | drafter tokens in/out | all tokens | cost USD | time s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        f1 = f"{r.f1:.3f}" if r.f1 is not None else "n/a"
        print(f"| {r.case_id} | {r.reference} | {r.shown} | {r.survived} | {r.survival:.1%} | {r.words} | {f1} "
              f"| {r.status} | {r.calls} | {r.tokens['prompt']}/{r.tokens['completion']} | {r.tokens['all_roles']} "
              f"| {r.cost_usd:.4f} | {r.seconds:.0f} |")
    for r in results:
        if r.reasons:
            print(f"\n{r.case_id} NOT READY because: " + "; ".join(r.reasons[:8]))
    print("\n## Dropped sentences (sources shown, not in the final declaration)\n")
    n = 0
    for r in results:
        for element, text, reason in r.dropped:
            if n >= args.show_dropped:
                break
            n += 1
            print(f"- {r.case_id} / {element} / {reason}: {text}")
    if n == 0:
        print("none")
    if not args.no_seeds:
        print("\n## No loosening: seeded bad sentences dropped or flagged\n")
        print("| kind | dropped or flagged | served |")
        print("| --- | --- | --- |")
        for kind, (hit, total) in seed_counts(results).items():
            print(f"| {kind} | {hit} | {total} |")
        assert set(seed_counts(results)) == set(SEED_KINDS)
    print(f"\nwork folder: {work}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        _ROUTES.unlink(missing_ok=True)
