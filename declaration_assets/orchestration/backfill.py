"""Model comparison by backfill: the declaration assets for a set of cases x model configurations, one command.

    python -m declaration_assets.orchestration.backfill --cases vawa-0001,vawa-0002 --models default,large

submits a real Dagster asset backfill (the same request the UI's "Materialize..." > backfill sends) for
draft, judge_scores, guarded_declaration, eval_report over every (case, model) pair, plus `model_comparison`
after them. The daemon executes it (`make dev`). `--include-ingest` adds case_record, extracted_text and chunk_index
for the cases; `--graphql-url http://127.0.0.1:3000/graphql` submits through a running webserver instead of in-process.

Both ways send Dagster's public GraphQL mutation `launchPartitionBackfill`: through the webserver over HTTP, or
in-process through the `dagster-graphql` command against the instance named by DAGSTER_HOME. No private Dagster
API is used, so a Dagster patch upgrade needs no change here.
"""

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import dagster as dg
import httpx

from ..partitions import CASES, model_partitions
from .jobs import DECLARATION_ASSETS, INGEST_ASSETS, declaration_partition_key

COMPARISON_ASSET = "model_comparison"
BACKFILL_TAG = "declaration/backfill"
DEFAULT_MODULE = "declaration_assets.definitions"


def split_list(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise ValueError("empty list")
    return list(dict.fromkeys(items))


def backfill_targets(
    cases: Sequence[str], models: Sequence[str], *, include_ingest: bool, present: Iterable[str]
) -> set[tuple[str, str | None]]:
    """(asset key, partition key) pairs to materialize; unpartitioned `model_comparison` has partition None."""
    present = set(present)
    targets: set[tuple[str, str | None]] = {
        (asset, str(declaration_partition_key(c, m))) for asset in DECLARATION_ASSETS for c in cases for m in models
    }
    if include_ingest:
        targets |= {(asset, c) for asset in INGEST_ASSETS for c in cases}
    if COMPARISON_ASSET in present:
        targets.add((COMPARISON_ASSET, None))
    missing = {a for a, _ in targets} - present
    if missing:
        raise ValueError(f"the definitions have no asset {', '.join(sorted(missing))}")
    return targets


def check_selection(cases: Sequence[str], models: Sequence[str], registered: Iterable[str], known_models: Iterable[str]) -> None:
    unknown_cases = sorted(set(cases) - set(registered))
    if unknown_cases:
        raise ValueError(f"case(s) not registered as partitions: {', '.join(unknown_cases)} (the inbox sensor or make demo registers them)")
    unknown_models = sorted(set(models) - set(known_models))
    if unknown_models:
        raise ValueError(f"model configuration(s) not in the routing file: {', '.join(unknown_models)}")


def load_definitions(module: str) -> dg.Definitions:
    mod = importlib.import_module(module)
    found = [v for v in vars(mod).values() if isinstance(v, dg.Definitions)]
    if len(found) != 1:
        raise ValueError(f"{module} must hold exactly one Definitions object (found {len(found)})")
    return found[0]


LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
  }
}
"""


def graphql_params(
    cases: Sequence[str], models: Sequence[str], title: str, *, include_ingest: bool = False, comparison: bool = True
) -> dict:
    """The UI's own `LaunchBackfillParams`: partition names of the backfill's root assets and the asset selection.

    Dagster expands the root partitions downstream through the assets' partition mappings, so the roots decide the
    partition names: the (case, model) pairs of the declaration assets, or, with the ingest assets included, the
    cases (and from them every model configuration of those cases). `model_comparison` is unpartitioned and runs
    once after the rest. (`partitionsByAssets`, which could name both levels, fails on dynamic partitions in
    dagster-graphql 1.13: "The instance is not available to load partitions".)
    """
    assets = [*(INGEST_ASSETS if include_ingest else ()), *DECLARATION_ASSETS, *((COMPARISON_ASSET,) if comparison else ())]
    names = list(cases) if include_ingest else [str(declaration_partition_key(c, m)) for c in cases for m in models]
    return {
        "partitionNames": names,
        "assetSelection": [{"path": [a]} for a in assets],
        "tags": [{"key": BACKFILL_TAG, "value": "model_comparison"}],
        "title": title,
    }


def backfill_id_from(body: dict) -> str:
    """The backfill id of a GraphQL answer, or the reason it was refused."""
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    result = (body.get("data") or {}).get("launchPartitionBackfill")
    if not isinstance(result, dict):
        raise RuntimeError(f"unexpected GraphQL answer: {str(body)[:300]}")
    if result.get("__typename") != "LaunchBackfillSuccess":
        raise RuntimeError(f"{result.get('__typename')}: {result.get('message')}")
    return result["backfillId"]


def default_title(cases: Sequence[str], models: Sequence[str]) -> str:
    return f"Compare {', '.join(models)} on {', '.join(cases)}"


def submit_backfill(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    cases: Sequence[str],
    models: Sequence[str],
    *,
    module: str = DEFAULT_MODULE,
    include_ingest: bool = False,
    title: str | None = None,
    timeout: float = 300,
) -> str:
    """Add an asset backfill to the instance (the daemon runs it). Returns the backfill id.

    `instance` must be the instance DAGSTER_HOME names (the one `dagster-graphql` opens); `defs` are the
    Definitions of `module`, used to check the selection before anything is submitted.
    """
    known_models = model_partitions.get_partition_keys()
    check_selection(cases, models, instance.get_dynamic_partitions(CASES), known_models)
    if include_ingest and set(models) != set(known_models):
        raise ValueError(
            "--include-ingest re-runs each case's declaration under every model configuration "
            f"({', '.join(known_models)}); name them all, or run the ingest first and the comparison without it"
        )
    graph = defs.resolve_asset_graph()
    present = {k.to_user_string() for k in graph.get_all_asset_keys()}
    backfill_targets(cases, models, include_ingest=include_ingest, present=present)  # every asset exists
    params = graphql_params(
        cases, models, title or default_title(cases, models), include_ingest=include_ingest, comparison=COMPARISON_ASSET in present
    )
    command = shutil.which("dagster-graphql", path=str(Path(sys.executable).parent)) or shutil.which("dagster-graphql")
    if command is None:
        raise RuntimeError("the dagster-graphql command is not installed (it comes with dagster-webserver)")
    with tempfile.TemporaryDirectory(prefix="backfill-") as tmp:
        out = Path(tmp) / "answer.json"
        done = subprocess.run(
            [command, "-m", module, "-t", LAUNCH_BACKFILL, "-v", json.dumps({"params": params}), "-o", str(out)],
            capture_output=True, text=True, timeout=timeout, env=os.environ.copy(),
        )
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"dagster-graphql failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}")
        return backfill_id_from(json.loads(out.read_text()))


def submit_backfill_graphql(
    url: str, cases: Sequence[str], models: Sequence[str], title: str | None = None, timeout: float = 60
) -> str:
    """The same mutation through a running webserver (the declaration assets and the comparison)."""
    params = graphql_params(cases, models, title or default_title(cases, models))
    response = httpx.post(url, json={"query": LAUNCH_BACKFILL, "variables": {"params": params}}, timeout=timeout)
    response.raise_for_status()
    return backfill_id_from(response.json())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m declaration_assets.orchestration.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", required=True, type=split_list, help="comma-separated case ids")
    parser.add_argument("--models", required=True, type=split_list, help="comma-separated model configurations")
    parser.add_argument("--include-ingest", action="store_true", help="also (re)materialize case_record, extracted_text and chunk_index")
    parser.add_argument("--title")
    parser.add_argument("--module", default=DEFAULT_MODULE, help="module holding the Definitions (default: %(default)s)")
    parser.add_argument("--graphql-url", help="submit through a running webserver, e.g. http://127.0.0.1:3000/graphql")
    args = parser.parse_args(argv)
    try:
        if args.graphql_url:
            if args.include_ingest:
                parser.error("--include-ingest is supported through the instance only")
            backfill_id = submit_backfill_graphql(args.graphql_url, args.cases, args.models, args.title)
        else:
            with dg.DagsterInstance.get() as instance:
                backfill_id = submit_backfill(
                    instance, load_definitions(args.module), args.cases, args.models,
                    module=args.module, include_ingest=args.include_ingest, title=args.title,
                )
    except (ValueError, RuntimeError, httpx.HTTPError) as e:
        print(f"backfill not submitted: {e}", file=sys.stderr)
        return 2
    print(f"backfill {backfill_id} submitted: {len(args.cases)} case(s) x {len(args.models)} model configuration(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
