"""The production profile against real services: S3 (moto's server on 127.0.0.1) and PostgreSQL."""

import os
import time
from pathlib import Path

import boto3
import dagster as dg
import pytest
import yaml
from dagster._core.execution.backfill import BulkActionStatus
from dagster_aws.s3 import S3Resource
from moto.server import ThreadedMotoServer

from declaration_assets.cases.s3 import S3CaseStorage
from declaration_assets.llm.routing_file import PACKAGED_ROUTES
from declaration_assets.orchestration import sensors
from declaration_assets.orchestration.jobs import DECLARATION_JOB, INGEST_JOB
from declaration_assets.orchestration.production import BucketNotEncrypted, EncryptedS3PickleIOManager

from .casefiles import case_files, manifest_for
from .services import BIN, REPO, PostgresServer, Service, daemon, free_port, service_env, wait_for, write_dagster_home, write_workspace

pytestmark = pytest.mark.integration

AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def moto_endpoint(monkeypatch):
    for k, v in AWS_ENV.items():
        monkeypatch.setenv(k, v)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def postgres():
    server = PostgresServer()
    try:
        server.start("dagster")
        yield server
    finally:
        server.stop()


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def encrypted_bucket(client, bucket: str) -> None:
    """A bucket with default SSE-S3 encryption, as docs/OPERATIONS.md asks for the value bucket."""
    client.create_bucket(Bucket=bucket)
    client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})


def upload_case(client, bucket: str, prefix: str, case_id: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        client.put_object(Bucket=bucket, Key=f"{prefix}/{case_id}/{name}", Body=data)


def test_s3_sensor_and_encrypted_io_manager_on_moto(moto_endpoint):
    client = s3_client(moto_endpoint)
    client.create_bucket(Bucket="cases")
    encrypted_bucket(client, "values")
    client.create_bucket(Bucket="plain")
    good = case_files("vawa-0001")
    upload_case(client, "cases", "inbox", "vawa-0001", {**good, "manifest.json": manifest_for(good)})
    bad = case_files("vawa-0002")
    bad["01-exhibit.pdf"] = b"%PDF-1.4 truncated"
    upload_case(client, "cases", "inbox", "vawa-0002", bad)
    client.put_object(Bucket="cases", Key="inbox/vawa-0003/", Body=b"")  # an empty "folder" made in a console
    slow = case_files("tvisa-0001")
    upload_case(client, "cases", "inbox", "tvisa-0001", {"01-exhibit.pdf": slow["01-exhibit.pdf"]})

    s3 = S3Resource(endpoint_url=moto_endpoint, region_name="us-east-1")
    storage = S3CaseStorage(s3=s3, bucket="cases", prefix="inbox")
    listing = storage.list_all_files()
    assert sorted(listing) == ["tvisa-0001", "vawa-0001", "vawa-0002", "vawa-0003"] and listing["vawa-0003"] == []
    assert storage.read_case_record("vawa-0001").case_type == "vawa"

    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor):
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"case_storage": storage}) as ctx:
            result = sensors.s3_inbox_sensor(ctx, storage)
        for req in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        return result

    first = tick(None)
    assert [r.partition_key for r in first.run_requests] == ["vawa-0001"]  # manifest: complete at once
    upload_case(client, "cases", "inbox", "tvisa-0001", {"02-exhibit.pdf": slow["02-exhibit.pdf"]})
    second = tick(first.cursor)
    # tvisa-0001 changed: waits. vawa-0002 has one corrupt PDF beside a good one: reported, and it proceeds.
    assert [r.partition_key for r in second.run_requests] == ["vawa-0002"]
    events = {e.partition: e.metadata for e in second.asset_events}
    assert set(events) == {"vawa-0002", "vawa-0003"}
    assert events["vawa-0002"]["intake_status"].value == "accepted_with_problems"
    assert "01-exhibit.pdf: unreadable PDF" in events["vawa-0002"]["notices"].value
    assert events["vawa-0003"]["intake_status"].value == "rejected"
    upload_case(client, "cases", "inbox", "tvisa-0001", {"case.yaml": slow["case.yaml"]})
    third = tick(tick(second.cursor).cursor)
    assert [r.partition_key for r in third.run_requests] == ["tvisa-0001"]
    assert not third.asset_events
    assert sorted(instance.get_dynamic_partitions("cases")) == ["tvisa-0001", "vawa-0001", "vawa-0002"]

    # Asset values written by the production IO manager are server-side encrypted.
    @dg.asset
    def value() -> dict:
        return {"a": 1}

    io = EncryptedS3PickleIOManager(s3_resource=s3, s3_bucket="values", s3_prefix="declaration_assets")
    assert dg.materialize([value], resources={"io_manager": io}).success
    head = client.head_object(Bucket="values", Key="declaration_assets/value")
    assert head["ServerSideEncryption"] == "AES256"
    # A bucket without default encryption is refused before a value is written to it.
    plain = EncryptedS3PickleIOManager(s3_resource=s3, s3_bucket="plain", s3_prefix="declaration_assets")
    with pytest.raises(BucketNotEncrypted, match="bucket plain has no default encryption"):
        dg.materialize([value], resources={"io_manager": plain})
    assert client.list_objects_v2(Bucket="plain").get("KeyCount", 0) == 0
    # SSE-KMS is required with a key: an SSE-S3 bucket does not meet it.
    kms = EncryptedS3PickleIOManager(s3_resource=s3, s3_bucket="values", server_side_encryption="aws:kms", kms_key_id="k1")
    with pytest.raises(BucketNotEncrypted, match="not SSE-KMS"):
        dg.materialize([value], resources={"io_manager": kms})


@pytest.mark.timeout(420)
def test_production_profile_postgres_daemon_s3_sensor_and_backfill(tmp_path, moto_endpoint, postgres):
    client = s3_client(moto_endpoint)
    encrypted_bucket(client, "declaration")
    files = case_files("vawa-0001")
    upload_case(client, "declaration", "inbox", "vawa-0001", {**files, "manifest.json": manifest_for(files)})
    upload_case(client, "declaration", "inbox", "vawa-0002", {"notes.docx": b"PK\x03\x04"})

    # Two model configurations to compare: the packaged one and a copy under another name.
    routes = yaml.safe_load(PACKAGED_ROUTES.read_text())
    routes["model_configs"]["alt"] = routes["model_configs"]["default"]
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(yaml.safe_dump(routes))

    pg = postgres
    services: list[Service] = []
    try:
        production = yaml.safe_load((REPO / "deploy" / "production" / "dagster.yaml").read_text())
        production["storage"]["postgres"]["postgres_db"]["params"] = {"sslmode": "disable"}  # local test server, no TLS
        production["compute_logs"]["config"]["endpoint_url"] = moto_endpoint
        production["run_coordinator"]["config"] = {"dequeue_interval_seconds": 1}
        home = write_dagster_home(tmp_path / "home", overrides=production)
        env = service_env(
            home,
            **AWS_ENV,
            DAGSTER_PG_HOST="127.0.0.1", DAGSTER_PG_PORT=str(pg.port), DAGSTER_PG_USER="postgres",
            DAGSTER_PG_PASSWORD="", DAGSTER_PG_DB="dagster",
            DECLARATION_PROFILE="production", DECLARATION_S3_BUCKET="declaration", DECLARATION_S3_ENDPOINT_URL=moto_endpoint,
            DECLARATION_ROUTES=str(routes_file), DECLARATION_SENSOR_INTERVAL_S="1",
        )
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            instance = dg.DagsterInstance.from_config(str(home))
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        workspace = write_workspace(tmp_path / "workspace.yaml")
        services.append(daemon(home, workspace, env))

        # 1. The S3 sensor registers vawa-0001 and the two runs follow; vawa-0002 is reported, not run.
        def done(job: str, n: int) -> bool:
            runs = instance.get_runs(filters=dg.RunsFilter(job_name=job))
            return len(runs) == n and all(r.is_finished for r in runs)

        wait_for(lambda: done(DECLARATION_JOB, 1), 200, 1, what="sensor flow\n" + services[0].tail())
        assert instance.get_dynamic_partitions("cases") == ["vawa-0001"]
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in instance.get_runs())

        # 2. A model-comparison backfill over both configurations, submitted with the documented command.
        cli = Service(
            [str(BIN / "python"), "-m", "declaration_assets.orchestration.backfill", "--cases", "vawa-0001",
             "--models", "default,alt", "--module", "declaration_assets_tests.orchestration.stand_in_defs"],
            env, tmp_path / "backfill.log",
        )
        services.append(cli)
        assert cli.proc.wait(timeout=120) == 0, cli.tail()
        [backfill] = instance.get_backfills()

        def backfill_finished():
            b = instance.get_backfill(backfill.backfill_id)
            return b.status if b.status != BulkActionStatus.REQUESTED else None

        assert wait_for(backfill_finished, 200, 1, what="backfill\n" + services[0].tail()) == BulkActionStatus.COMPLETED_SUCCESS
        time.sleep(6)  # one more sensor loop: the backfill's runs must not trigger anything more
    finally:
        for s in services:
            s.stop()

    try:
        ingest_runs = instance.get_runs(filters=dg.RunsFilter(job_name=INGEST_JOB))
        assert len(ingest_runs) == 1
        comparison = instance.get_latest_materialization_event(dg.AssetKey("model_comparison")).asset_materialization
        assert set(comparison.metadata["table"].value) == {"vawa-0001|alt", "vawa-0001|default"}
        observed = instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("extracted_text"), asset_partitions=["vawa-0002"]), limit=5
        ).records
        assert len(observed) == 1 and "notes.docx: not a PDF" in observed[0].asset_observation.metadata["notices"].value
        # asset values went to S3, encrypted
        key = "declaration_assets/eval_report/vawa-0001/alt"
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="declaration", Prefix="declaration_assets/")["Contents"]]
        assert key in keys, keys
        assert client.head_object(Bucket="declaration", Key=key)["ServerSideEncryption"] == "AES256"
    finally:
        instance.dispose()


@pytest.mark.timeout(600)
def test_real_assets_on_production_storage(tmp_path, monkeypatch, moto_endpoint, postgres):
    """The project's own assets and production resources (S3 cases, encrypted S3 values, PostgreSQL storage):
    every value is pickled to S3 by one step and read back by the next, as separate processes would."""
    import pickle

    from declaration_assets import settings
    from declaration_assets.definitions import defs as root
    from declaration_assets.evaluation.models import EvalReport
    from declaration_assets.llm.resources import LLMRouter
    from declaration_assets.orchestration import jobs
    from declaration_assets.orchestration.defs import profile_resources
    from declaration_assets.retrieval.embeddings import Embedder

    from ..support.fault_servers import Latency, OpenAIFaultServer

    client = s3_client(moto_endpoint)
    encrypted_bucket(client, "declaration")
    upload_case(client, "declaration", "inbox", "vawa-0001", case_files("vawa-0001"))
    for k, v in {"DECLARATION_PROFILE": "production", "DECLARATION_S3_BUCKET": "declaration",
                 "DECLARATION_S3_ENDPOINT_URL": moto_endpoint}.items():
        monkeypatch.setenv(k, v)

    production = yaml.safe_load((REPO / "deploy" / "production" / "dagster.yaml").read_text())
    production["storage"]["postgres"]["postgres_db"]["params"] = {"sslmode": "disable"}
    production["compute_logs"]["config"]["endpoint_url"] = moto_endpoint
    home = write_dagster_home(tmp_path / "home", overrides=production)
    for k, v in {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(postgres.port), "DAGSTER_PG_USER": "postgres",
                 "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": "dagster"}.items():
        monkeypatch.setenv(k, v)

    reply = "I married him on 2015-06-01 [Ex. A, p. 1]."
    with OpenAIFaultServer(latency=Latency(tokens=12), reply=reply) as server:
        monkeypatch.setenv("DECLARATION_EMBEDDED_API_BASE", f"{server.base_url}/v1")
        settings.configure(settings.from_env(os.environ), outputs_dir=tmp_path / "outputs", cache_dir=tmp_path / "cache",
                           call_log=tmp_path / "calls.jsonl", references_dir=tmp_path / "references")
        resources = profile_resources()
        assert type(resources["io_manager"]).__name__ == "EncryptedS3PickleIOManager"
        defs = dg.Definitions(
            assets=list(root.assets), asset_checks=list(root.asset_checks or []),
            jobs=[jobs.ingest_job, jobs.declaration_job],
            resources={**resources, "embedder": Embedder(cache_dir=str(tmp_path / "cache" / "embeddings")),
                       "llm": LLMRouter(use_cache=False, call_log_path=str(tmp_path / "calls.jsonl"))},
        )
        instance = dg.DagsterInstance.from_config(str(home))
        try:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            instance.add_dynamic_partitions("cases", ["vawa-0001"])
            ingest = defs.resolve_job_def(jobs.INGEST_JOB).execute_in_process(
                instance=instance, partition_key="vawa-0001", raise_on_error=False)
            assert ingest.success, [e.message for e in ingest.all_events if e.is_failure]
            declaration = defs.resolve_job_def(jobs.DECLARATION_JOB).execute_in_process(
                instance=instance, partition_key="vawa-0001|default", raise_on_error=False)
            assert declaration.success, [e.message for e in declaration.all_events if e.is_failure]
            assert len(instance.get_runs()) == 2
            for asset in jobs.DECLARATION_ASSETS:
                assert instance.get_materialized_partitions(dg.AssetKey(asset)) == {"vawa-0001|default"}
        finally:
            instance.dispose()
    assert server.requests_to("/chat/completions"), "the LLM assets called the configured server"

    keys = {o["Key"] for o in client.list_objects_v2(Bucket="declaration", Prefix="declaration_assets/")["Contents"]}
    expected = {"declaration_assets/extracted_text/vawa-0001", "declaration_assets/chunk_index/vawa-0001"} | {
        f"declaration_assets/{a}/vawa-0001/default" for a in jobs.DECLARATION_ASSETS}
    assert expected <= keys, sorted(keys)
    for key in expected:
        assert client.head_object(Bucket="declaration", Key=key)["ServerSideEncryption"] == "AES256"
    report = pickle.loads(client.get_object(Bucket="declaration", Key="declaration_assets/eval_report/vawa-0001/default")["Body"].read())
    assert isinstance(report, EvalReport) and report.case_id == "vawa-0001"
