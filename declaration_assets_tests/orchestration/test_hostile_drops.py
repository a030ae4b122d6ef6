"""Intake against hostile and careless drops: links, leaking YAML errors, nameless declarants, oversized files,
loose case ids, hidden folders, half-written PDFs, the same case id in two roots."""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest

from declaration_assets import settings
from declaration_assets.cases import storage as storage_mod
from declaration_assets.cases.models import CASE_ID_PATTERN, MAX_CASE_FILE_BYTES, CaseFileError, load_case_record
from declaration_assets.cases.storage import CaseRefused, LocalCaseStorage
from declaration_assets.orchestration import intake, sensors

from .casefiles import CASE_YAML, case_files, pdf_bytes, write_case

NAME = "Rosa Elvira Quintanilla"
A_NUMBER = "A-204-981-377"


@pytest.fixture
def inbox(tmp_path, monkeypatch):
    root = tmp_path / "inbox"
    root.mkdir()
    settings.configure(inbox_dir=root)
    settings.configure(cases_dir=tmp_path / "samples")
    return root


def later(root, case_id):
    """Inspect as a tick well after the files were written (no half-written PDF grace)."""
    st = LocalCaseStorage(roots=[str(root)])
    return intake.inspect_case(st, case_id, st.list_files(case_id), now=time.time() + settings.current().pdf_eof_grace_s + 1)


def ticks(instance, n=2, cursor=None, storage=None):
    results = []
    for _ in range(n):
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
        r = sensors.inbox_sensor(ctx) if storage is None else sensors.intake_tick(ctx, storage, "inbox")
        for req in r.dynamic_partitions_requests:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        cursor = r.cursor
        results.append(r)
    return results


# ---------------------------------------------------------------------------------------------- 1. links
def test_link_to_another_clients_document_is_skipped_and_reported(inbox):
    write_case(inbox, "vawa-0001")
    folder = write_case(inbox, "vawa-0002")
    os.symlink("../vawa-0001/01-exhibit.pdf", folder / "04-other.pdf")
    os.symlink("/etc/passwd", folder / "05-system.pdf")
    st = LocalCaseStorage(roots=[str(inbox)])
    assert st.pdf_names("vawa-0002") == ["01-exhibit.pdf", "02-exhibit.pdf"]  # what extraction reads
    with pytest.raises(OSError):
        st.read_bytes("vawa-0002", "04-other.pdf")  # never followed, even when asked by name
    result = later(inbox, "vawa-0002")
    assert result.problems == () and result.pdfs == ("01-exhibit.pdf", "02-exhibit.pdf")
    assert any(n.startswith("04-other.pdf: a symbolic link, skipped") for n in result.notices)
    assert any(n.startswith("05-system.pdf: a symbolic link") for n in result.notices)


def test_symlinked_case_folder_is_refused(inbox, tmp_path):
    real = write_case(tmp_path / "elsewhere", "vawa-0003")
    os.symlink(real, inbox / "vawa-0003")
    st = LocalCaseStorage(roots=[str(inbox)])
    with pytest.raises(CaseRefused, match="symbolic link"):
        st.list_files("vawa-0003")
    instance = dg.DagsterInstance.ephemeral()
    first, second = ticks(instance)
    assert not first.run_requests and not second.run_requests
    [event] = second.asset_events
    assert "is a symbolic link: refused" in event.metadata["reason"].value


def test_s3_keys_outside_the_case_prefix_are_never_read():
    import boto3
    from moto import mock_aws

    from declaration_assets.cases.s3 import S3CaseStorage, _entry
    from dagster_aws.s3 import S3Resource

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="cases")
        for name, data in case_files("vawa-0004").items():
            s3.put_object(Bucket="cases", Key=f"inbox/vawa-0004/{name}", Body=data)
        s3.put_object(Bucket="cases", Key="inbox/vawa-0004/../vawa-0001/01-exhibit.pdf", Body=pdf_bytes("other"))
        s3.put_object(Bucket="cases", Key="inbox/vawa-0004/sub/x.pdf", Body=pdf_bytes("nested"))
        st = S3CaseStorage(s3=S3Resource(region_name="us-east-1"), bucket="cases", prefix="inbox")
        files = st.list_all_files()["vawa-0004"]
        skipped = sorted(f.name for f in files if f.skipped)
        # (the HTTP layer may resolve a `..` key on upload; either way nothing outside the prefix is read)
        assert "sub/x.pdf" in skipped and all(".." not in f.name for f in files if not f.skipped)
        assert _entry("../vawa-0001/01-exhibit.pdf", {"Size": 1, "ETag": "e"}).skipped
        assert st.pdf_names("vawa-0004") == ["01-exhibit.pdf", "02-exhibit.pdf"]
        with pytest.raises(CaseRefused):
            st.read_bytes("vawa-0004", "../vawa-0001/01-exhibit.pdf")
        result = intake.inspect_case(st, "vawa-0004", files)
        assert result.problems == () and any(n.startswith("sub/x.pdf: not a file directly") for n in result.notices)


# ---------------------------------------------------------------------------------------------- 2. YAML errors
def test_yaml_syntax_error_reports_line_and_column_never_the_line(inbox, capsys):
    files = case_files("vawa-0005")
    files["case.yaml"] = (
        f"case_type: vawa\nparties:\n  - role: declarant\n    name: {NAME}\n    a_number: {A_NUMBER}: [unclosed\n"
    ).encode()
    write_case(inbox, "vawa-0005", files)
    with pytest.raises(CaseFileError) as e:
        load_case_record(inbox / "vawa-0005" / "case.yaml")
    msg = str(e.value)
    assert "line 5" in msg and "column" in msg
    assert NAME not in msg and "204-981" not in msg and e.value.__cause__ is None
    instance = dg.DagsterInstance.ephemeral()
    results = ticks(instance)
    [event] = results[1].asset_events
    everything = repr(event) + capsys.readouterr().out + repr(results)
    assert "line 5" in event.metadata["reason"].value
    assert NAME not in everything and "204-981" not in everything
    assert "Quintanilla" not in everything


def test_python_tags_and_aliases_are_refused(tmp_path):
    (tmp_path / "vawa-0006").mkdir()
    p = tmp_path / "vawa-0006" / "case.yaml"
    p.write_text("case_type: !!python/object/apply:os.system ['touch /tmp/owned']\n", encoding="utf-8")
    with pytest.raises(CaseFileError, match="constructor"):
        load_case_record(p)
    p.write_text("case_type: vawa\nlaugh: &a [x, x]\nparties: *a\n", encoding="utf-8")
    with pytest.raises(CaseFileError, match="anchors and aliases are not allowed"):
        load_case_record(p)


# ---------------------------------------------------------------------------------------------- 3, 4. declarant
@pytest.mark.parametrize("parties, expect", [
    ('  - role: declarant\n    name: ""\n  - role: abuser\n    name: X Y\n', "name is required"),
    ("  - role: declarant\n    name: '   '\n", "name is required"),
    ("  - role: declarant\n    aliases: [Rosa]\n", "parties.0.name: Field required"),
    ("  - role: abuser\n    name: X Y\n", "no party with role 'declarant'"),
])
def test_declarant_without_a_name_or_missing_is_rejected_at_intake(inbox, parties, expect):
    files = case_files("vawa-0007")
    files["case.yaml"] = f"case_type: vawa\nparties:\n{parties}".encode()
    write_case(inbox, "vawa-0007", files)
    result = later(inbox, "vawa-0007")
    assert result.problems and expect in result.problems[0]


def test_case_with_no_parties_at_all_is_rejected(inbox):
    files = case_files("vawa-0008")
    files["case.yaml"] = b"case_type: vawa\n"
    write_case(inbox, "vawa-0008", files)
    assert "no party with role 'declarant'" in later(inbox, "vawa-0008").problems[0]


# ---------------------------------------------------------------------------------------------- 5. limits
def test_oversized_case_yaml_is_refused_before_parsing(tmp_path, monkeypatch):
    folder = tmp_path / "vawa-0010"
    folder.mkdir()
    (folder / "case.yaml").write_bytes(b"case_type: vawa\nnotes: '" + b"x" * MAX_CASE_FILE_BYTES + b"'\n")
    parsed = []
    monkeypatch.setattr("yaml.load", lambda *a, **k: parsed.append(1))
    started = time.monotonic()
    with pytest.raises(CaseFileError, match="limit for case.yaml"):
        load_case_record(folder / "case.yaml")
    assert not parsed and time.monotonic() - started < 1


def test_list_lengths_are_capped(tmp_path):
    folder = tmp_path / "vawa-0011"
    folder.mkdir()
    phones = "".join(f"      - '555-01{i:02d}'\n" for i in range(60))
    (folder / "case.yaml").write_text(
        f"case_type: vawa\nparties:\n  - role: declarant\n    name: A B\n    phones:\n{phones}", encoding="utf-8")
    with pytest.raises(CaseFileError, match="phones"):
        load_case_record(folder / "case.yaml")


def test_pdf_over_size_or_page_limit_is_skipped_with_a_notice(inbox, monkeypatch):
    files = case_files("vawa-0012", n_pdfs=1)
    import pymupdf

    doc = pymupdf.open()
    for _ in range(5):
        doc.new_page()
    files["02-many-pages.pdf"] = doc.tobytes()
    files["03-large.pdf"] = pdf_bytes("large") + b"%" + b"0" * 5000 + b"\n%%EOF\n"
    write_case(inbox, "vawa-0012", files)
    settings.configure(max_pdf_pages=4, max_pdf_mb=4000 / 2**20)
    result = later(inbox, "vawa-0012")
    assert result.problems == ()
    assert any("02-many-pages.pdf: 5 pages, over the 4-page limit" in n for n in result.notices)
    assert any(n.startswith("03-large.pdf:") and "limit for one PDF" in n for n in result.notices)
    assert "03-large.pdf" not in LocalCaseStorage(roots=[str(inbox)]).pdf_names("vawa-0012")


def test_tick_time_budget_defers_the_rest():
    listings = {f"vawa-00{i:02d}": [storage_mod.CaseFile("a.pdf", 1, "1")] for i in range(10, 15)}
    cursor = intake.IntakeCursor(cases={k: intake.CaseState(seen=intake.listing_fingerprint(v))
                                        for k, v in listings.items()})

    def slow(case_id, files):
        time.sleep(0.2)
        return intake.Inspection((), "c-" + case_id)

    plan = intake.plan_tick(cursor, listings, slow, lambda c, f: None, deadline=time.monotonic() + 0.3)
    assert 1 <= len(plan.submissions) <= 2 and len(plan.deferred) == 5 - len(plan.submissions)
    plan2 = intake.plan_tick(plan.cursor, listings, slow, lambda c, f: None, deadline=time.monotonic() + 10)
    assert sorted(s.case_id for s in plan.submissions + plan2.submissions) == sorted(listings)


# ---------------------------------------------------------------------------------------------- 9. case ids
@pytest.mark.parametrize("case_id", ["nl-0001\n", "vawa-\u0661\u0662\u0663\u0664", "vawa-\uff10\uff11\uff12\uff13",
                                     "vawa-" + "1" * 300, "v" * 40 + "-0001", "../vawa-0001", "Vawa-0001"])
def test_loose_case_ids_are_rejected(case_id):
    assert not CASE_ID_PATTERN.match(case_id)


def test_good_case_ids_still_pass():
    assert all(CASE_ID_PATTERN.match(c) for c in ("vawa-0001", "tvisa-0001", "t_visa-12345", "nl-0001"))


# ---------------------------------------------------------------------------------------------- 11. dot folders
def test_dot_folder_is_logged_once(inbox, capsys):
    (inbox / ".Trash").mkdir()
    instance = dg.DagsterInstance.ephemeral()
    cursor = None
    logged = []
    for _ in range(3):
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
        capsys.readouterr()
        cursor = sensors.inbox_sensor(ctx).cursor
        logged.append(capsys.readouterr().err.count("'.Trash' ignored"))
    assert logged == [1, 0, 0]


# ---------------------------------------------------------------------------------------------- 12. half-written PDF
def test_pdf_without_eof_trailer_waits_then_runs_once_complete(inbox):
    files = case_files("vawa-0013")
    whole = files["02-exhibit.pdf"]
    files["02-exhibit.pdf"] = whole[: len(whole) // 2]  # the writer paused half-way, longer than two ticks
    write_case(inbox, "vawa-0013", files)
    instance = dg.DagsterInstance.ephemeral()
    results = ticks(instance, n=4)
    assert not any(r.run_requests for r in results) and not any(r.asset_events for r in results)
    (inbox / "vawa-0013" / "02-exhibit.pdf").write_bytes(whole)
    more = ticks(instance, n=3, cursor=results[-1].cursor)
    assert [len(r.run_requests) for r in more] == [0, 1, 0]


def test_truncated_pdf_left_alone_is_reported_and_the_case_proceeds(inbox):
    files = case_files("vawa-0014")
    files["02-exhibit.pdf"] = files["02-exhibit.pdf"][:300]
    write_case(inbox, "vawa-0014", files)
    result = later(inbox, "vawa-0014")
    assert result.problems == () and result.unfinished == ()
    assert any(n.startswith("02-exhibit.pdf:") for n in result.notices)


# ---------------------------------------------------------------------------------------------- also
def test_same_case_id_in_both_roots_is_refused(inbox):
    write_case(inbox, "vawa-0015")
    write_case(settings.current().cases_dir, "vawa-0015")
    both = LocalCaseStorage(roots=[str(inbox), str(settings.current().cases_dir)])
    with pytest.raises(CaseRefused, match="more than one case folder"):
        both.pdf_names("vawa-0015")
    results = ticks(dg.DagsterInstance.ephemeral())
    assert not any(r.run_requests for r in results)
    assert "more than one case folder" in results[1].asset_events[0].metadata["reason"].value


def test_top_level_declarant_key_shows_the_expected_shape_and_reason_first(inbox):
    files = case_files("vawa-0016")
    files["case.yaml"] = f"case_type: vawa\ndeclarant:\n  name: {NAME}\n".encode()
    files["notes.txt"] = b"stray"
    write_case(inbox, "vawa-0016", files)
    results = ticks(dg.DagsterInstance.ephemeral())
    meta = results[1].asset_events[0].metadata
    reason = meta["reason"].value
    assert "declarant: Extra inputs are not permitted" in reason
    assert "parties:\n  - role: declarant\n    name: Full Name" in reason
    assert "notes.txt" not in reason and "notes.txt: not a PDF" in meta["notices"].value
    assert NAME not in repr(meta)


def test_oversized_manifest_is_refused_unread(inbox):
    folder = write_case(inbox, "vawa-0017")
    (folder / "manifest.json").write_bytes(b'{"files": [' + b" " * (intake.MAX_MANIFEST_BYTES + 1) + b"]}")
    st = LocalCaseStorage(roots=[str(inbox)])
    reads = []
    real = st.read_bytes
    object.__setattr__(st, "read_bytes", lambda c, n: reads.append(n) or real(c, n))
    result = sensors.manifest_check(st)("vawa-0017", st.list_files("vawa-0017"))
    assert result.problems and "limit" in result.problems[0] and reads == []
