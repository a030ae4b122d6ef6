"""Version folders under concurrent writers: one number per writer, `latest` always the highest, an approved
pointer of its own, zero-padded names, old `v1-...` folders still read; the same rule on S3 (moto's server)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from moto.server import ThreadedMotoServer

from declaration_assets.exports import versioning as v
from declaration_assets_tests.orchestration.services import free_port

WRITERS = 6


def test_concurrent_writers_never_share_a_version_number(tmp_path, monkeypatch):
    base = tmp_path / "vawa-0001" / "default"
    # Every writer lists the folder before any of them creates one: the interleaving that gave two "v2" folders.
    barrier = threading.Barrier(WRITERS, timeout=10)
    listed = threading.local()
    real = v.version_numbers

    def listing_then_wait(b):
        out = real(b)
        if not getattr(listed, "done", False):
            listed.done = True
            barrier.wait()
        return out

    monkeypatch.setattr(v, "version_numbers", listing_then_wait)

    def write(i: int):
        folder = v.create_version_dir(base, f"{i:08d}-run")
        (folder / "declaration.md").write_text(str(i), encoding="utf-8")
        v.point_latest(base, folder)
        return folder

    with ThreadPoolExecutor(WRITERS) as pool:
        folders = list(pool.map(write, range(WRITERS)))
    numbers = sorted(v.version_number(f.name) for f in folders)
    assert numbers == list(range(1, WRITERS + 1))
    assert all(f.name.startswith(f"v{v.version_number(f.name):04d}-") for f in folders)
    assert v.latest_version(base).name.startswith(f"v{WRITERS:04d}-")


def test_latest_never_moves_back_to_a_lower_version(tmp_path):
    base = tmp_path / "out"
    low = v.create_version_dir(base, "aaaaaaaa")
    high = v.create_version_dir(base, "bbbbbbbb")
    v.point_latest(base, high)  # the later writer finished first
    v.point_latest(base, low)
    assert v.latest_version(base) == high and (base / "latest").resolve() == high.resolve()


def test_old_unpadded_folders_are_read_and_numbering_continues(tmp_path):
    base = tmp_path / "out"
    (base / "v1-20260101T000000Z-aaaaaaaa").mkdir(parents=True)
    (base / "v12-20260101T000000Z-bbbbbbbb").mkdir()
    (base / v.LATEST_FILE).write_text("v12-20260101T000000Z-bbbbbbbb\n", encoding="utf-8")
    assert v.latest_version(base).name == "v12-20260101T000000Z-bbbbbbbb"
    new = v.create_version_dir(base, "cccccccc")
    assert new.name.startswith("v0013-")
    v.point_latest(base, new)
    assert v.latest_version(base) == new


def test_approved_version_has_its_own_pointer(tmp_path):
    base = tmp_path / "out"
    first = v.create_version_dir(base, "aaaaaaaa")
    v.point_latest(base, first)
    v.point_approved(base, first)
    second = v.create_version_dir(base, "bbbbbbbb")
    v.point_latest(base, second)
    assert v.approved_version(base) == first and v.latest_version(base) == second
    assert (base / "approved").resolve() == first.resolve()
    with pytest.raises(ValueError):
        v.point_approved(base, tmp_path)


def test_approve_from_the_command_line(tmp_path, monkeypatch):
    from declaration_assets import settings

    settings.configure(outputs_dir=tmp_path)
    base = v.output_base(tmp_path, "vawa-0001", "default")
    folder = v.create_version_dir(base, "aaaaaaaa")
    assert v.main(["approve", "vawa-0001", "default", folder.name]) == 0
    assert v.approved_version(base) == folder


def test_s3_versions_are_allocated_by_conditional_put(monkeypatch):
    for k, val in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, val)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1")
        client.create_bucket(Bucket="outputs")
        base = "outputs/vawa-0001/default"
        # An old unpadded version already there.
        client.put_object(Bucket="outputs", Key=f"{base}/v1-20260101T000000Z-aaaaaaaa/declaration.md", Body=b"x")
        barrier = threading.Barrier(WRITERS, timeout=10)

        def write(i: int) -> str:
            c = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1")
            orig = c.get_paginator

            def paginator_then_wait(name):
                p = orig(name)
                barrier.wait()  # all writers list before any reserves a number
                return p

            c.get_paginator = paginator_then_wait
            name = v.s3_allocate_version(c, "outputs", base, f"{i:08d}-run")
            c.put_object(Bucket="outputs", Key=f"{base}/{name}/declaration.md", Body=str(i).encode())
            v.s3_point_latest(c, "outputs", base, name)
            return name

        with ThreadPoolExecutor(WRITERS) as pool:
            names = list(pool.map(write, range(WRITERS)))
        assert sorted(v.version_number(n) for n in names) == list(range(2, WRITERS + 2))
        latest = client.get_object(Bucket="outputs", Key=f"{base}/{v.LATEST_FILE}")["Body"].read().decode().strip()
        assert v.version_number(latest) == WRITERS + 1
        # a writer that finishes late never moves LATEST back
        lowest = min(names, key=v.version_number)
        assert v.s3_point_latest(client, "outputs", base, lowest) == latest
    finally:
        server.stop()
