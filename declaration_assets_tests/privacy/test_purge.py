"""`purge` after a real run of a case (ingest + draft + judges on an external route): nothing of the case is left."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
import sqlite3

import boto3
import dagster as dg
import pytest
import yaml
from moto import mock_aws

from declaration_assets import settings
from declaration_assets.cases.storage import LocalCaseStorage
from declaration_assets.drafting.assets import draft
from declaration_assets.cases.assets import case_record
from declaration_assets.extraction.assets import extracted_text
from declaration_assets.judging.assets import judge_scores
from declaration_assets.llm.cache import CachedAnswer, ResponseCache
from declaration_assets.llm.resources import LLMRouter
from declaration_assets.privacy.purge import PurgeReport, Targets, main, purge_case, purge_s3
from declaration_assets.retrieval.assets import chunk_index
from declaration_assets.retrieval.embeddings import Embedder, content_key
from declaration_assets.retrieval.index import embedding_input
from declaration_assets_tests.support.fault_servers import Latency, OpenAIFaultServer

from .cases import contains_ci, sample_dir, sample_record
from .test_external_route import answer, routing_file

CASE = "tvisa-0042"
SOURCE = "tvisa-0001"
TEXT_PDFS = ("02-recruitment-contract.pdf", "03-i94-and-visa-record.pdf")


def _rows(db, table):
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_purge_leaves_nothing_of_the_case(tmp_path, monkeypatch):
    # A copy of two text-layer exhibits of the T visa sample under a new case id, in a private inbox.
    inbox = tmp_path / "inbox"
    (inbox / CASE).mkdir(parents=True)
    for name in TEXT_PDFS:
        shutil.copy(sample_dir(SOURCE) / name, inbox / CASE / name)
    raw = yaml.safe_load((sample_dir(SOURCE) / "case.yaml").read_text(encoding="utf-8"))
    raw["case_id"] = CASE
    (inbox / CASE / "case.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    record = sample_record(SOURCE)

    cache = tmp_path / "cache"
    settings.configure(cache_dir=cache)
    monkeypatch.setenv("PRIVACY_TEST_KEY", "k")
    targets = Targets(outputs_dir=tmp_path / "outputs", call_log=tmp_path / "run" / "calls.jsonl",
                      llm_cache=cache / "llm" / "responses.sqlite", extraction_cache=cache / "extraction",
                      embeddings_dir=cache / "embeddings", redaction_dir=cache / "redaction",
                      case_dirs=[inbox], inbox_dir=inbox)
    (tmp_path / "dagster").mkdir()
    with OpenAIFaultServer(flavor="openai", latency=Latency(first_token_s=0.0, gap_s=0.0, tokens=1),
                           reply=answer) as server, dg.DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
        router = LLMRouter(routes_file=str(routing_file(tmp_path / "routes.yaml", f"{server.base_url}/v1")),
                           call_log_path=str(targets.call_log), cache_dir=str(cache / "llm"))
        resources = {"llm": router, "embedder": Embedder(cache_dir=str(targets.embeddings_dir)),
                     "case_storage": LocalCaseStorage(roots=[str(inbox)])}
        instance.add_dynamic_partitions("cases", [CASE])
        assets = [case_record, extracted_text, chunk_index, draft, judge_scores]
        ingest = dg.materialize(assets, selection=[case_record, extracted_text, chunk_index], partition_key=CASE,
                                instance=instance, resources=resources)
        assert ingest.success
        index = ingest.output_for_node("chunk_index")
        titles = {d.name: d.title for d in ingest.output_for_node("extracted_text").documents}
        chunk_keys = {content_key(index.model_name, embedding_input(c, titles.get(c.document))) for c in index.chunks}
        key = dg.MultiPartitionKey({"case": CASE, "model": "default"})
        assert dg.materialize(assets, selection=[draft, judge_scores], partition_key=key, instance=instance,
                              resources=resources,
                              run_config={"ops": {"draft": {"config": {"evidence_per_element": 2}}}}).success
        out = targets.outputs_dir / CASE / "default" / "v1"
        out.mkdir(parents=True)
        (out / "declaration.md").write_text(f"# Declaration of {record.parties[0].name}", encoding="utf-8")
        other = {"case_id": "vawa-0001", "outcome": "ok", "cache_key": "x"}
        with targets.call_log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(other) + "\n")

        # Everything the run left behind, before the purge.
        assert _rows(targets.llm_cache, "answers") > 0 and _rows(cache / "embeddings" / "embeddings.sqlite3", "embeddings") > 0
        assert list(targets.extraction_cache.glob("*.json")) and (targets.redaction_dir / f"{CASE}.json").exists()
        storage = Path(instance.storage_directory())
        assert any(CASE in str(p) for p in storage.rglob("*") if p.is_file())
        stored_record = storage / "case_record" / CASE  # the pickled CaseRecord: every identifier of case.yaml
        assert contains_ci(stored_record.read_bytes().decode("utf-8", errors="ignore"), record.parties[0].name)

        preview = purge_case(CASE, targets=targets, instance=instance, inputs=True, dry_run=True)
        assert preview.removed["call-log lines"] > 0 and (targets.redaction_dir / f"{CASE}.json").exists()
        report = purge_case(CASE, targets=targets, instance=instance, inputs=True)
        assert report.removed["LLM response-cache entries"] > 0 and report.removed["embedding-cache entries"] > 0

        # Nothing of the case is left.
        assert _rows(targets.llm_cache, "answers") == 0
        with sqlite3.connect(cache / "embeddings" / "embeddings.sqlite3") as con:
            remaining = {k for (k,) in con.execute("SELECT key FROM embeddings")}
        assert chunk_keys and not (remaining & chunk_keys)  # what is left: the generic legal retrieval queries
        assert report.removed["embedding-cache entries"] == len(chunk_keys)
        assert not list(targets.extraction_cache.glob("*.json"))
        assert not (targets.outputs_dir / CASE).exists() and not (inbox / CASE).exists()
        assert not list(targets.redaction_dir.glob(f"{CASE}*"))
        lines = [json.loads(x) for x in targets.call_log.read_text(encoding="utf-8").splitlines()]
        assert lines == [other]
        assert CASE not in instance.get_dynamic_partitions("cases")
        assert not stored_record.exists()
        for name in ("case_record", "extracted_text", "chunk_index"):
            assert not instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(name), asset_partitions=[CASE]), limit=5).records
        assert not instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("draft"), asset_partitions=[str(key)]), limit=5).records
        left = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".md", "")]
        for p in left:
            if "dagster" in p.parts and p.suffix == "":
                assert CASE not in str(p.relative_to(tmp_path)), p
            if p.suffix in (".json", ".jsonl", ".md"):
                text = p.read_text(encoding="utf-8", errors="ignore")
                assert not contains_ci(text, record.parties[0].name), p


def test_purge_s3_objects_of_the_case_only(monkeypatch):
    monkeypatch.setenv("DECLARATION_S3_BUCKET", "assets")
    monkeypatch.setenv("DECLARATION_S3_PREFIX", "declaration_assets")
    monkeypatch.setenv("DECLARATION_CASES_S3_BUCKET", "cases")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for b in ("assets", "cases"):
            s3.create_bucket(Bucket=b)
        keep = ["declaration_assets/draft/vawa-0001|default", "declaration_assets/extracted_text/vawa-0001",
                "declaration_assets/case_record/vawa-0001", "inbox/vawa-0001/case.yaml"]
        doomed = ["declaration_assets/draft/vawa-0002|default", "declaration_assets/extracted_text/vawa-0002",
                  "declaration_assets/judge_scores/vawa-0002|other", "declaration_assets/case_record/vawa-0002"]
        for k in keep[:3] + doomed:
            s3.put_object(Bucket="assets", Key=k, Body=b"x")
        s3.put_object(Bucket="cases", Key=keep[3], Body=b"x")
        s3.put_object(Bucket="cases", Key="inbox/vawa-0002/case.yaml", Body=b"x")
        report = PurgeReport("vawa-0002", dry_run=False)
        purge_s3("vawa-0002", s3, report, dry_run=False, inputs=True)
        left = [o["Key"] for b in ("assets", "cases") for o in s3.list_objects_v2(Bucket=b).get("Contents", [])]
        assert sorted(left) == sorted(keep) and report.removed["S3 objects"] == 5


def test_cli_without_yes_and_without_a_terminal_removes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DECLARATION_S3_BUCKET", raising=False)
    red = tmp_path / "redaction"
    red.mkdir()
    (red / "vawa-0003.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr("declaration_assets.privacy.settings.redaction_dir", lambda: red)
    settings.configure(call_log=tmp_path / "none.jsonl")
    settings.configure(outputs_dir=tmp_path / "outputs")
    settings.configure(cache_dir=tmp_path / "cache")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    assert main(["vawa-0003"]) == 1
    assert (red / "vawa-0003.json").exists()
    assert "would remove 1 placeholder map" in capsys.readouterr().out
    assert main(["vawa-0003", "--yes"]) == 0
    assert not (red / "vawa-0003.json").exists()
    with pytest.raises(ValueError):
        purge_case("../etc", targets=Targets())


def _answer(text: str) -> CachedAnswer:
    return CachedAnswer(text=text, deployment="d", evidence_used=1, evidence_dropped=0, prompt_tokens=3,
                        completion_tokens=2, cost_usd=0.0)


def test_purge_finds_cache_entries_by_case_without_the_call_log(tmp_path, monkeypatch):
    settings.configure(cache_dir=tmp_path / "cache")
    db = tmp_path / "cache" / "llm" / "responses.sqlite"
    # An entry from before answers carried their case: only the call log can name it.
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, created REAL, answer TEXT NOT NULL)")
        con.execute("INSERT INTO answers VALUES ('old-mine', 0, '{}'), ('old-other', 0, '{}')")
    cache = ResponseCache(db)
    cache.put("k-mine-1", _answer("a"), case_id="vawa-0002")
    cache.put("k-mine-2", _answer("b"), case_id="vawa-0002")
    cache.put("k-other", _answer("c"), case_id="vawa-0001")
    call_log = tmp_path / "calls.jsonl"
    call_log.write_text(json.dumps({"case_id": "vawa-0002", "outcome": "ok", "cache_key": "old-mine"}) + "\n",
                        encoding="utf-8")
    targets = Targets(outputs_dir=tmp_path / "outputs", call_log=call_log, llm_cache=db,
                      extraction_cache=tmp_path / "cache" / "extraction", embeddings_dir=tmp_path / "cache" / "emb",
                      redaction_dir=tmp_path / "cache" / "redaction", case_dirs=[], inbox_dir=tmp_path / "inbox")

    assert purge_case("vawa-0002", targets=targets, dry_run=True).removed["LLM response-cache entries"] == 3
    assert len(cache) == 5
    report = purge_case("vawa-0002", targets=targets)
    assert report.removed["LLM response-cache entries"] == 3
    with sqlite3.connect(db) as con:
        assert sorted(k for (k,) in con.execute("SELECT key FROM answers")) == ["k-other", "old-other"]

    # Without any call log, the case column alone finds the case's answers.
    call_log.unlink()
    cache.put("k-mine-3", _answer("d"), case_id="vawa-0002")
    assert purge_case("vawa-0002", targets=targets).removed["LLM response-cache entries"] == 1
    assert cache.get("k-mine-3") is None and cache.get("k-other") is not None
