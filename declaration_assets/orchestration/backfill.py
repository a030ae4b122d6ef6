"""Model comparison by backfill: the declaration assets for a set of cases x model configurations, one command.

    python -m declaration_assets.orchestration.backfill --cases vawa-0001,vawa-0002 --models default,large

submits a real Dagster asset backfill (the same object the UI's "Materialize..." > backfill creates) for
draft, judge_scores, guarded_declaration, eval_report over every (case, model) pair, plus `model_comparison`
after them. The daemon executes it (`make dev`). `--include-ingest` adds extracted_text and chunk_index for the
cases; `--graphql-url http://127.0.0.1:3000/graphql` submits through a running webserver instead of the instance.
"""

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence

import dagster as dg
import httpx
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id
from dagster._time import get_current_timestamp

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


def submit_backfill(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    cases: Sequence[str],
    models: Sequence[str],
    *,
    include_ingest: bool = False,
    title: str | None = None,
) -> str:
    """Add an asset backfill to the instance (the daemon runs it). Returns the backfill id."""
    check_selection(cases, models, instance.get_dynamic_partitions(CASES), model_partitions.get_partition_keys())
    graph = defs.resolve_asset_graph()
    targets = backfill_targets(
        cases, models, include_ingest=include_ingest, present=(k.to_user_string() for k in graph.get_all_asset_keys())
    )
    subset = AssetGraphSubset.from_asset_partition_set(
        {AssetKeyPartitionKey(dg.AssetKey(a), p) for a, p in targets}, graph
    )
    backfill_id = make_new_backfill_id()
    backfill = PartitionBackfill.from_asset_graph_subset(
        backfill_id=backfill_id,
        backfill_timestamp=get_current_timestamp(),
        tags={BACKFILL_TAG: "model_comparison"},
        dynamic_partitions_store=instance,
        asset_graph_subset=subset,
        title=title or f"Compare {', '.join(models)} on {', '.join(cases)}",
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill_id


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


def graphql_params(cases: Sequence[str], models: Sequence[str], title: str | None) -> dict:
    """The UI's own request: partition names of the case x model dimension, the declaration assets selected."""
    return {
        "partitionNames": [str(declaration_partition_key(c, m)) for c in cases for m in models],
        "assetSelection": [{"path": [a]} for a in DECLARATION_ASSETS],
        "tags": [{"key": BACKFILL_TAG, "value": "model_comparison"}],
        "title": title or f"Compare {', '.join(models)} on {', '.join(cases)}",
    }


def submit_backfill_graphql(url: str, cases: Sequence[str], models: Sequence[str], title: str | None = None, timeout: float = 60) -> str:
    response = httpx.post(url, json={"query": LAUNCH_BACKFILL, "variables": {"params": graphql_params(cases, models, title)}}, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    result = body["data"]["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"{result['__typename']}: {result.get('message')}")
    return result["backfillId"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m declaration_assets.orchestration.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", required=True, type=split_list, help="comma-separated case ids")
    parser.add_argument("--models", required=True, type=split_list, help="comma-separated model configurations")
    parser.add_argument("--include-ingest", action="store_true", help="also (re)materialize extracted_text and chunk_index")
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
                    instance, load_definitions(args.module), args.cases, args.models, include_ingest=args.include_ingest, title=args.title
                )
    except (ValueError, RuntimeError, httpx.HTTPError) as e:
        print(f"backfill not submitted: {e}", file=sys.stderr)
        return 2
    print(f"backfill {backfill_id} submitted: {len(args.cases)} case(s) x {len(args.models)} model configuration(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
