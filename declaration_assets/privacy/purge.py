"""Remove one case from everywhere the project put it.

    python -m declaration_assets.privacy.purge <case_id> [--yes] [--inputs]

Without --yes it lists what it would remove and asks. It removes: the case's files (`case_paths`: output folder,
placeholder map, its record of cache references); the LLM response cache entries of the case (each stored with
its case id; for entries written before that, found through the cache keys the case's call-log lines carry); the
call-log lines of the case; the extraction-cache entries of every version of its PDFs the case ever read and the
embedding-cache entries of their chunks (both keyed by content: an entry another case also uses is kept); its
Dagster partitions, runs, event-log records, compute logs, cached last-materialization records and stored asset
values, and its entry in the intake sensors' cursors, so the same files dropped again are a new case (when
DAGSTER_HOME names an instance); and its S3 objects when DECLARATION_S3_BUCKET is set (asset values whose
partition key names the case, and with --inputs its case folder under the cases prefix). Every SQLite file it
deleted from is then checkpointed and vacuumed, so no free page or WAL frame keeps a deleted row. With --inputs the
local inbox folder goes too; the shipped sample cases under data/cases/ are source files and are never removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import settings
from ..cases.models import CASE_ID_PATTERN
from ..llm.cache import case_keys as llm_cache_case_keys
from ..extraction import references
from . import settings as privacy_settings
from .store import delete_map

CASE_ASSETS = ("case_record", "extracted_text", "chunk_index")
CASE_MODEL_ASSETS = ("draft", "judge_scores", "guarded_declaration", "eval_report")


@dataclass
class Targets:
    """Where to look; defaults are the project's settings."""

    outputs_dir: Path = field(default_factory=lambda: settings.current().outputs_dir)
    call_log: Path = field(default_factory=lambda: settings.current().call_log)
    llm_cache: Path = field(default_factory=lambda: settings.current().cache_dir / "llm" / "responses.sqlite")
    extraction_cache: Path = field(default_factory=lambda: settings.current().cache_dir / "extraction")
    embeddings_dir: Path = field(default_factory=lambda: settings.current().cache_dir / "embeddings")
    redaction_dir: Path = field(default_factory=lambda: privacy_settings.redaction_dir())
    case_dirs: list[Path] = field(default_factory=lambda: [settings.current().inbox_dir, settings.current().cases_dir])
    inbox_dir: Path = field(default_factory=lambda: settings.current().inbox_dir)
    references_dir: Path = field(default_factory=references.references_dir)


def case_paths(case_id: str, t: Targets) -> list[tuple[str, Path]]:
    """Every file or folder that belongs to the case alone, with what it is. A store that keeps a file per case
    adds its line here (the byte-search test then checks it is gone after a purge)."""
    return [
        ("output folder", t.outputs_dir / case_id),
        ("placeholder map", t.redaction_dir / f"{case_id}.json"),
        ("cache-reference record", references.path_for(case_id, t.references_dir)),
    ]


@dataclass
class PurgeReport:
    case_id: str
    dry_run: bool
    removed: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, n: int) -> None:
        self.removed[what] = self.removed.get(what, 0) + n

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        out = [f"{self.case_id}: {verb} {n} {what}" for what, n in self.removed.items()]
        return out + [f"{self.case_id}: {note}" for note in self.notes]


# --- pieces (each one pure over its target, testable alone) ----------------------------------------------
def case_lines(call_log: Path, case_id: str) -> tuple[list[str], list[dict[str, Any]]]:
    """(lines of other cases, records of this case) of a JSONL call log."""
    keep: list[str] = []
    mine: list[dict[str, Any]] = []
    if not call_log.exists():
        return keep, mine
    for line in call_log.read_text(encoding="utf-8").splitlines(keepends=True):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            keep.append(line)  # not ours to judge; a torn line names no case we can tell
            continue
        (mine.append(rec) if isinstance(rec, dict) and rec.get("case_id") == case_id else keep.append(line))
    return keep, mine


def rewrite_call_log(call_log: Path, keep: list[str]) -> None:
    mode = call_log.stat().st_mode & 0o777
    tmp = call_log.with_name(f".{call_log.name}.purge.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.writelines(keep)
    os.replace(tmp, call_log)


def delete_rows(db: Path, table: str, keys: Iterable[str], dry_run: bool) -> int:
    keys = sorted(set(keys))
    if not keys or not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as con, con:
        n = 0
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            marks = ",".join("?" * len(part))
            if dry_run:
                n += con.execute(f"SELECT COUNT(*) FROM {table} WHERE key IN ({marks})", part).fetchone()[0]
            else:
                n += con.execute(f"DELETE FROM {table} WHERE key IN ({marks})", part).rowcount
        return n


def case_pdfs(case_id: str, case_dirs: list[Path]) -> list[tuple[str, bytes]]:
    """The PDFs of a case folder (`.pdf` in any case); links are never followed (they are not the case's files)."""
    for root in case_dirs:
        folder = root / case_id
        if folder.is_dir() and not folder.is_symlink():
            return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())
                    if p.name.lower().endswith(".pdf") and not p.is_symlink() and p.is_file()]
    return []


def pdf_cache_keys(pdfs: list[tuple[str, bytes]]) -> set[str]:
    from ..extraction.pdf import _cache_key, ocr_settings

    ocr = ocr_settings()
    return {_cache_key(data, ocr) for _name, data in pdfs}


def shared_cache_keys(case_id: str, t: Targets) -> set[str]:
    """Extraction-cache keys some other case uses: its reference record, or (a case that never recorded one) the
    keys of its current PDFs."""
    keys: set[str] = set()
    recorded = set(references.all_cases(t.references_dir)) - {case_id}
    for other in recorded:
        keys |= references.load(other, t.references_dir).get(references.EXTRACTION, set())
    for root in t.case_dirs:
        if not root.is_dir():
            continue
        for folder in root.iterdir():
            if folder.name not in recorded and folder.name != case_id and CASE_ID_PATTERN.match(folder.name):
                keys |= pdf_cache_keys(case_pdfs(folder.name, [root]))
    return keys


def content_cache_keys(case_id: str, pdfs: list[tuple[str, bytes]], extraction_cache: Path,
                       embedder_model: str | None = None, extra_keys: set[str] | frozenset[str] = frozenset(),
                       shared: set[str] | frozenset[str] = frozenset()) -> tuple[list[Path], list[str]]:
    """Extraction-cache files of the case's PDFs (default OCR settings) plus `extra_keys` (older versions the case
    recorded), less the `shared` ones another case uses; and the embedding keys of their chunks."""
    from ..extraction.pdf import DocumentResult, assemble_case
    from ..retrieval.chunking import chunk_case
    from ..retrieval.embeddings import PACKAGED_MODEL_NAME, content_key
    from ..retrieval.index import embedding_input

    files: list[Path] = []
    results = []
    for key in sorted((pdf_cache_keys(pdfs) | set(extra_keys)) - set(shared)):
        path = extraction_cache / f"{key}.json"
        if path.is_file():
            files.append(path)
            with contextlib.suppress(ValueError, KeyError):
                results.append(DocumentResult.from_json(path.read_text(encoding="utf-8")))
    keys: list[str] = []
    if results:
        case = assemble_case(case_id, results)
        titles = {d.name: d.title for d in case.documents}
        model = embedder_model or PACKAGED_MODEL_NAME
        keys = [content_key(model, embedding_input(c, titles.get(c.document))) for c in chunk_case(case)]
    return files, keys


def _mentions_case(relative_key: str, case_id: str) -> bool:
    """Does a storage path (asset key / partition key) belong to the case? 'draft/vawa-0001|default' does."""
    for part in relative_key.replace("\\", "/").split("/"):
        if case_id in part.split("|"):
            return True
    return False


SENSOR_NAMES = ("inbox_sensor", "s3_inbox_sensor")


def _partition_clause(col: Any, case_id: str) -> Any:
    """A partition key of the case: `<case_id>` or a multi-partition key naming it (`<case_id>|<model>`)."""
    import sqlalchemy as sa

    return sa.or_(col == case_id, col.like(f"{case_id}|%"), col.like(f"%|{case_id}"))


def purge_event_rows(case_id: str, instance: Any, run_ids: set[str], dry_run: bool) -> int:
    """Rows of the event log that name the case without belonging to one of its runs (intake observations made by
    a sensor), and the cached "last materialization" of each asset when it is one of the case's: it is replaced by
    the asset's latest remaining materialization, or cleared. Works on any SQL event log (SQLite, PostgreSQL)."""
    import sqlalchemy as sa
    from dagster._core.storage.event_log.schema import AssetEventTagsTable, AssetKeyTable, SqlEventLogStorageTable
    from dagster._serdes import deserialize_value, serialize_value

    storage = instance.event_log_storage
    if not hasattr(storage, "index_connection"):
        return 0
    ev = SqlEventLogStorageTable
    n = 0
    with storage.index_connection() as conn:
        ids = [r[0] for r in conn.execute(sa.select(ev.c.id).where(_partition_clause(ev.c.partition, case_id)))]
        n += len(ids)
        rows = conn.execute(sa.select(AssetKeyTable.c.id, AssetKeyTable.c.asset_key, AssetKeyTable.c.last_materialization,
                                      AssetKeyTable.c.last_run_id)).fetchall()
        if dry_run:
            return n
        for i in range(0, len(ids), 500):
            conn.execute(AssetEventTagsTable.delete().where(AssetEventTagsTable.c.event_id.in_(ids[i:i + 500])))
            conn.execute(ev.delete().where(ev.c.id.in_(ids[i:i + 500])))
        for row_id, asset_key, last, last_run in rows:
            if not ((last and case_id in last) or last_run in run_ids):
                continue
            latest = conn.execute(
                sa.select(ev.c.id, ev.c.event, ev.c.run_id)
                .where(ev.c.asset_key == asset_key, ev.c.dagster_event_type == "ASSET_MATERIALIZATION")
                .order_by(ev.c.id.desc()).limit(1)
            ).fetchone()
            values: dict[str, Any] = {"last_materialization": None, "last_run_id": None, "cached_status_data": None}
            if latest is not None:
                from dagster._core.event_api import EventLogRecord

                values["last_materialization"] = serialize_value(
                    EventLogRecord(storage_id=latest[0], event_log_entry=deserialize_value(latest[1])))
                values["last_run_id"] = latest[2]
            conn.execute(AssetKeyTable.update().where(AssetKeyTable.c.id == row_id).values(**values))
            n += 1
    return n


def forget_in_sensor_cursors(case_id: str, instance: Any, dry_run: bool) -> int:
    """Remove the case from the intake sensors' cursors: the same files dropped again are then a new case."""
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import SensorInstigatorData

    from ..orchestration.intake import IntakeCursor

    n = 0
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        data = state.instigator_data
        if state.name not in SENSOR_NAMES or not isinstance(data, SensorInstigatorData) or not data.cursor:
            continue
        cursor = IntakeCursor.load(data.cursor)
        if cursor.forget(case_id):
            n += 1
            if not dry_run:
                instance.update_instigator_state(state.with_data(data._replace(cursor=cursor.dump())))
    return n


def purge_dagster(case_id: str, instance: Any, report: PurgeReport, dry_run: bool) -> None:
    import dagster as dg

    from ..llm.routing_file import model_config_names

    has_partition = case_id in instance.get_dynamic_partitions("cases")
    models = list(model_config_names())
    wiped = 0
    unsupported = False
    for name in CASE_ASSETS + CASE_MODEL_ASSETS:
        keys = [case_id] if name in CASE_ASSETS else [str(dg.MultiPartitionKey({"case": case_id, "model": m}))
                                                       for m in models]
        if not dry_run:
            try:
                instance.wipe_asset_partitions(dg.AssetKey(name), keys)
            except NotImplementedError:
                unsupported = True  # SQLite event logs (the dev instance): deleting the runs below removes them
        wiped += len(keys)
    report.add("Dagster asset partitions wiped", wiped)
    # The runs of the case: their event logs hold its materializations, metadata and log lines.
    run_ids: set[str] = set()
    for tags in ({"dagster/partition": case_id}, {"dagster/partition/case": case_id}):
        run_ids |= {r.run_id for r in instance.get_runs(filters=dg.RunsFilter(tags=tags))}
    if not dry_run:
        for run_id in run_ids:
            instance.delete_run(run_id)
            with contextlib.suppress(Exception):  # a compute-log manager that cannot delete keeps its logs
                instance.compute_log_manager.delete_logs(prefix=[run_id])
    report.add("Dagster runs (with their event logs and compute logs)", len(run_ids))
    if unsupported:
        report.notes.append("this instance's event log cannot wipe single partitions; the case's runs were deleted")
    report.add("Dagster event-log records naming the case", purge_event_rows(case_id, instance, run_ids, dry_run))
    report.add("intake sensor cursor entries", forget_in_sensor_cursors(case_id, instance, dry_run))
    storage = Path(instance.storage_directory())
    root = Path(instance.root_directory)
    files = [p for p in storage.rglob("*") if p.is_file() and _mentions_case(str(p.relative_to(storage)), case_id)]
    # per-run files (SQLite event-log shards, compute logs) of the deleted runs
    files += [p for p in root.rglob("*") if p.is_file() and any(r in p.name for r in run_ids) and p not in files]
    if not dry_run:
        for p in files:
            p.unlink(missing_ok=True)
    report.add("stored asset values and per-run files", len(files))
    if has_partition:
        if not dry_run:
            instance.delete_dynamic_partition("cases", case_id)
        report.add("dynamic partition", 1)


def vacuum(db: Path) -> bool:
    """Checkpoint the WAL into the database and rebuild it, so deleted rows survive in no free page or WAL frame."""
    if not db.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=60)) as con:
            if con.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                return False
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            con.execute("VACUUM")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return True
    except sqlite3.DatabaseError:
        return False  # not a SQLite file after all


def sqlite_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".db", ".sqlite", ".sqlite3"))


def purge_s3(case_id: str, client: Any, report: PurgeReport, dry_run: bool, inputs: bool) -> None:
    config = settings.current()
    if not config.s3_bucket:
        raise ValueError("DECLARATION_S3_BUCKET is not set: no S3 store to purge")
    bucket = config.s3_bucket
    prefixes = [(bucket, config.s3_prefix.strip("/") + "/", False)]
    if inputs:
        cases_bucket = config.cases_bucket or bucket
        cases_prefix = config.cases_s3_prefix.strip("/")
        prefixes.append((cases_bucket, f"{cases_prefix}/{case_id}/", True))
    n = 0
    for b, prefix, whole in prefixes:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=b, Prefix=prefix):
            doomed = [o["Key"] for o in page.get("Contents", [])
                      if whole or _mentions_case(o["Key"][len(prefix):], case_id)]
            for i in range(0, len(doomed), 1000):
                if not dry_run:
                    client.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in doomed[i:i + 1000]]})
            n += len(doomed)
    report.add("S3 objects", n)


# --- the whole purge ---------------------------------------------------------------------------------------
def purge_case(case_id: str, *, targets: Targets | None = None, instance: Any = None, s3_client: Any = None,
               inputs: bool = False, dry_run: bool = False) -> PurgeReport:
    if not CASE_ID_PATTERN.match(case_id):
        raise ValueError(f"not a case id: {case_id!r}")
    t = targets or Targets()
    report = PurgeReport(case_id, dry_run)

    from ..retrieval.embeddings import CACHE_FILE

    # Content-keyed caches first: their keys come from the case's PDFs (which --inputs removes below) and from the
    # case's reference record (every version it ever read); entries another case uses stay.
    recorded = references.load(case_id, t.references_dir).get(references.EXTRACTION, set())
    shared = shared_cache_keys(case_id, t)
    files, emb_keys = content_cache_keys(case_id, case_pdfs(case_id, t.case_dirs), t.extraction_cache,
                                         extra_keys=recorded, shared=shared)
    if not dry_run:
        for p in files:
            p.unlink(missing_ok=True)
    report.add("extraction-cache entries", len(files))
    kept = len((recorded | pdf_cache_keys(case_pdfs(case_id, t.case_dirs))) & shared)
    if kept:
        report.notes.append(f"{kept} extraction-cache entries kept: another case uses the same document")
    emb_db = t.embeddings_dir / CACHE_FILE
    report.add("embedding-cache entries", delete_rows(emb_db, "embeddings", emb_keys, dry_run))

    keep, mine = case_lines(t.call_log, case_id)
    # The cache knows each answer's case; the call log's cache keys still find entries written before it did.
    cache_keys = llm_cache_case_keys(t.llm_cache, case_id) | {r["cache_key"] for r in mine if r.get("cache_key")}
    report.add("LLM response-cache entries", delete_rows(t.llm_cache, "answers", cache_keys, dry_run))
    if mine and not dry_run:
        rewrite_call_log(t.call_log, keep)
    report.add("call-log lines", len(mine))

    for what, path in case_paths(case_id, t):
        if path.is_dir() and not path.is_symlink():
            report.add(what.replace("folder", "files"), sum(1 for p in path.rglob("*") if p.is_file()))
            if not dry_run:
                shutil.rmtree(path)
        elif os.path.lexists(path):
            report.add(what, 1)
            if not dry_run:
                path.unlink()
    if not dry_run:
        delete_map(case_id, t.redaction_dir)  # and whatever else the placeholder store keeps for the case
    if inputs and (t.inbox_dir / case_id).is_dir():
        report.add("inbox case folder", 1)
        if not dry_run:
            shutil.rmtree(t.inbox_dir / case_id)

    dbs = [emb_db, t.llm_cache]
    if instance is not None:
        purge_dagster(case_id, instance, report, dry_run)
        dbs += sqlite_files(Path(instance.root_directory))
    else:
        report.notes.append("no Dagster instance (DAGSTER_HOME unset): partitions not touched")
    if s3_client is not None:
        purge_s3(case_id, s3_client, report, dry_run, inputs)
    if not dry_run:
        report.add("SQLite files vacuumed", sum(vacuum(db) for db in dbs))
    return report


@contextlib.contextmanager
def _instance() -> Iterator[Any]:
    if not os.environ.get("DAGSTER_HOME"):
        yield None
        return
    import dagster as dg

    with dg.DagsterInstance.get() as inst:
        yield inst


def _s3_client() -> Any:
    from ..orchestration import production

    if not settings.current().s3_bucket:
        return None
    return production.s3_client()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m declaration_assets.privacy.purge", description=__doc__.split("\n\n")[0])
    parser.add_argument("case_id")
    parser.add_argument("--yes", action="store_true", help="do not ask")
    parser.add_argument("--inputs", action="store_true", help="also remove the inbox folder and the S3 case folder")
    args = parser.parse_args(argv)
    with _instance() as instance:
        client = _s3_client()
        preview = purge_case(args.case_id, instance=instance, s3_client=client, inputs=args.inputs, dry_run=True)
        print("\n".join(preview.lines()))
        if not args.yes:
            if not sys.stdin.isatty():
                print("not a terminal: nothing removed (pass --yes)")
                return 1
            if input(f"Purge case {args.case_id} from everywhere listed above? [y/N] ").strip().lower() != "y":
                print("nothing removed")
                return 1
        report = purge_case(args.case_id, instance=instance, s3_client=client, inputs=args.inputs)
        print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
