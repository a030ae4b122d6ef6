from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from declaration_assets import settings
from declaration_assets.cases.storage import CaseFile, LocalCaseStorage
from declaration_assets.orchestration import intake

from .casefiles import case_files, manifest_for, write_case


def cf(name: str, size: int = 10, version: str = "1") -> CaseFile:
    return CaseFile(name=name, size=size, version=version)


def test_listing_fingerprint_changes_with_size_or_version_not_order():
    a = [cf("a.pdf"), cf("case.yaml")]
    assert intake.listing_fingerprint(a) == intake.listing_fingerprint(list(reversed(a)))
    assert intake.listing_fingerprint(a) != intake.listing_fingerprint([cf("a.pdf", size=11), cf("case.yaml")])
    assert intake.listing_fingerprint(a) != intake.listing_fingerprint([cf("a.pdf", version="2"), cf("case.yaml")])
    assert intake.listing_fingerprint(a) != intake.listing_fingerprint([cf("a.pdf")])


def test_content_fingerprint_ignores_manifest_and_follows_digests():
    base = {"a.pdf": "11", "case.yaml": "22"}
    assert intake.content_fingerprint(base) == intake.content_fingerprint({**base, "manifest.json": "33"})
    assert intake.content_fingerprint(base) != intake.content_fingerprint({**base, "a.pdf": "12"})
    assert intake.run_key("vawa-0001", "abc") == "vawa-0001:abc"


def test_manifest_check_sizes_before_digests():
    files = {"a.pdf": b"pdfdata", "case.yaml": b"case"}
    manifest = intake.parse_manifest(manifest_for(files))
    assert isinstance(manifest, intake.Manifest)
    reads: list[str] = []

    def sha(name: str) -> str:
        reads.append(name)
        return hashlib.sha256(files[name]).hexdigest()

    listing = [cf("a.pdf", 7), cf("case.yaml", 4), cf("manifest.json", 99)]
    assert intake.check_manifest(manifest, listing, sha).matches
    assert sorted(reads) == ["a.pdf", "case.yaml"]
    reads.clear()
    partial = intake.check_manifest(manifest, [cf("a.pdf", 3), cf("manifest.json", 99)], sha)
    assert not partial.matches and not partial.problems
    assert any("case.yaml" in p and "missing" in p for p in partial.incomplete)
    assert any("a.pdf: 3 of 7 bytes" in p for p in partial.incomplete)
    assert reads == []  # nothing read while the upload is visibly incomplete
    extra = intake.check_manifest(manifest, [*listing, cf("b.pdf")], sha)
    assert extra.problems == ("b.pdf: present but not listed in manifest.json",)
    files["a.pdf"] = b"pdfdatX"  # same size, other content
    assert intake.check_manifest(manifest, listing, sha).problems == ("a.pdf: sha256 differs from manifest.json",)


def test_parse_manifest_rejects_bad_shapes():
    assert "not valid JSON" in intake.parse_manifest(b"{nope")
    assert "files" in intake.parse_manifest(b'{"entries": []}')
    assert "sha256" in intake.parse_manifest(b'{"files": [{"name": "a.pdf", "size": 1, "sha256": "xyz"}]}')


class FakeInspector:
    def __init__(self, problems: dict[str, tuple[str, ...]] | None = None, content: dict[str, str] | None = None):
        self.problems = problems or {}
        self.content = content or {}
        self.calls: list[str] = []

    def __call__(self, case_id, files):
        self.calls.append(case_id)
        return intake.Inspection(self.problems.get(case_id, ()), self.content.get(case_id, "c-" + case_id))


def no_manifest(case_id, files):
    return None


def tick(cursor, listings, inspector, manifest=no_manifest, **kw):
    plan = intake.plan_tick(cursor, listings, inspector, manifest, **kw)
    # the cursor must survive a JSON round trip (it is stored by Dagster between ticks)
    return plan, intake.IntakeCursor.load(plan.cursor.dump())


def test_stable_listing_is_submitted_once():
    insp = FakeInspector()
    listing = {"vawa-0001": [cf("a.pdf"), cf("case.yaml")]}
    plan, cur = tick(intake.IntakeCursor(), listing, insp)
    assert plan.waiting == ["vawa-0001"] and not plan.submissions
    plan, cur = tick(cur, listing, insp)
    assert [s.case_id for s in plan.submissions] == ["vawa-0001"]
    assert plan.submissions[0].run_key == "vawa-0001:c-vawa-0001"
    for _ in range(3):
        plan, cur = tick(cur, listing, insp)
        assert not plan.submissions and not plan.waiting and not plan.rejections
    assert insp.calls == ["vawa-0001"]  # read once


def test_growing_folder_waits_until_stable():
    insp = FakeInspector()
    cur = intake.IntakeCursor()
    growing = [[cf("a.pdf", 5)], [cf("a.pdf", 10)], [cf("a.pdf", 10), cf("case.yaml")]]
    for files in growing:
        plan, cur = tick(cur, {"vawa-0002": files}, insp)
        assert plan.waiting == ["vawa-0002"]
    plan, cur = tick(cur, {"vawa-0002": growing[-1]}, insp)
    assert [s.case_id for s in plan.submissions] == ["vawa-0002"]


def test_matching_manifest_submits_on_first_sight():
    insp = FakeInspector()
    listing = {"vawa-0003": [cf("a.pdf"), cf("manifest.json")]}
    plan, _ = tick(intake.IntakeCursor(), listing, insp, manifest=lambda c, f: intake.ManifestCheckResult())
    assert [s.case_id for s in plan.submissions] == ["vawa-0003"]


def test_manifest_naming_missing_files_waits_however_long():
    insp = FakeInspector()
    listing = {"vawa-0004": [cf("a.pdf"), cf("manifest.json")]}
    check = lambda c, f: intake.ManifestCheckResult(incomplete=("b.pdf: listed in manifest.json but missing",))  # noqa: E731
    cur = intake.IntakeCursor()
    for _ in range(4):
        plan, cur = tick(cur, listing, insp, manifest=check)
        assert plan.waiting == ["vawa-0004"] and not plan.rejections
    assert insp.calls == []


def test_contradicting_manifest_is_rejected_when_stable():
    insp = FakeInspector()
    listing = {"vawa-0004": [cf("a.pdf"), cf("manifest.json")]}
    check = lambda c, f: intake.ManifestCheckResult(problems=("a.pdf: sha256 differs from manifest.json",))  # noqa: E731
    plan, cur = tick(intake.IntakeCursor(), listing, insp, manifest=check)
    assert plan.waiting == ["vawa-0004"]
    plan, cur = tick(cur, listing, insp, manifest=check)
    assert plan.rejections and "differs" in plan.rejections[0].problems[0]
    assert not plan.submissions


def test_bad_case_is_reported_once_and_does_not_block_others():
    insp = FakeInspector(problems={"vawa-0005": ("notes.txt: not a PDF",)})
    listing = {"vawa-0005": [cf("notes.txt")], "vawa-0006": [cf("a.pdf")]}
    _, cur = tick(intake.IntakeCursor(), listing, insp)
    plan, cur = tick(cur, listing, insp)
    assert [r.case_id for r in plan.rejections] == ["vawa-0005"]
    assert [s.case_id for s in plan.submissions] == ["vawa-0006"]
    plan, cur = tick(cur, listing, insp)
    assert not plan.rejections and not plan.submissions
    # fixed drop: re-evaluated and submitted
    insp.problems.clear()
    fixed = {**listing, "vawa-0005": [cf("a.pdf")]}
    _, cur = tick(cur, fixed, insp)
    plan, cur = tick(cur, fixed, insp)
    assert [s.case_id for s in plan.submissions] == ["vawa-0005"]


def test_changed_file_reruns_only_that_case_and_touch_does_not():
    insp = FakeInspector(content={"vawa-0007": "v1", "vawa-0008": "w1"})
    listing = {"vawa-0007": [cf("a.pdf", version="1")], "vawa-0008": [cf("a.pdf", version="1")]}
    _, cur = tick(intake.IntakeCursor(), listing, insp)
    plan, cur = tick(cur, listing, insp)
    assert len(plan.submissions) == 2
    # touched (new mtime) but same content: re-read, not re-run
    touched = {**listing, "vawa-0007": [cf("a.pdf", version="2")]}
    _, cur = tick(cur, touched, insp)
    plan, cur = tick(cur, touched, insp)
    assert plan.unchanged == ["vawa-0007"] and not plan.submissions
    # changed content: exactly one new run, for that case, with a new run key
    insp.content["vawa-0007"] = "v2"
    changed = {**listing, "vawa-0007": [cf("a.pdf", size=11, version="3")]}
    _, cur = tick(cur, changed, insp)
    plan, cur = tick(cur, changed, insp)
    assert [s.run_key for s in plan.submissions] == ["vawa-0007:v2"]


def test_budget_defers_without_losing_cases():
    insp = FakeInspector()
    listing = {f"vawa-{i:04d}": [cf("a.pdf")] for i in range(5)}
    _, cur = tick(intake.IntakeCursor(), listing, insp)
    submitted: list[str] = []
    for _ in range(4):
        plan, cur = tick(cur, listing, insp, max_inspections=2)
        submitted += [s.case_id for s in plan.submissions]
    assert sorted(submitted) == sorted(listing)


def test_removed_case_that_returns_unchanged_is_not_rerun():
    insp = FakeInspector()
    listing = {"vawa-0009": [cf("a.pdf")]}
    _, cur = tick(intake.IntakeCursor(), listing, insp)
    _, cur = tick(cur, listing, insp)
    _, cur = tick(cur, {}, insp)
    assert cur.cases["vawa-0009"].submitted == "c-vawa-0009"
    _, cur = tick(cur, {"vawa-0009": [cf("a.pdf", version="9")]}, insp)
    plan, cur = tick(cur, {"vawa-0009": [cf("a.pdf", version="9")]}, insp)
    assert plan.unchanged == ["vawa-0009"] and not plan.submissions


def test_corrupt_cursor_raises():
    with pytest.raises(ValueError):
        intake.IntakeCursor.load('{"cases": 3}')


# ------------------------------------------------------------------- inspect_case on real files
def inspect(root: Path, case_id: str, now: float | None = None) -> intake.Inspection:
    """Inspect as a later tick would: files written longer ago than the grace for a missing %%EOF trailer."""
    storage = LocalCaseStorage(roots=[str(root)])
    later = time.time() + settings.current().pdf_eof_grace_s + 1 if now is None else now
    return intake.inspect_case(storage, case_id, storage.list_files(case_id), now=later)


def test_inspect_valid_case(tmp_path):
    write_case(tmp_path, "vawa-0010")
    result = inspect(tmp_path, "vawa-0010")
    assert result.problems == ()
    assert result.pdfs == ("01-exhibit.pdf", "02-exhibit.pdf") and result.case_type == "vawa"


def test_inspect_bad_drops(tmp_path):
    (tmp_path / "vawa-0011").mkdir()
    assert inspect(tmp_path, "vawa-0011").problems == ("empty case folder",)

    # A bad single file in an otherwise usable case is a notice: the case proceeds and loses nothing.
    files = case_files("vawa-0012")
    files["photo.jpg"] = b"\xff\xd8\xff"
    write_case(tmp_path, "vawa-0012", files)
    result = inspect(tmp_path, "vawa-0012")
    assert result.problems == () and any("photo.jpg: not a PDF" in p for p in result.notices)

    files = case_files("vawa-0013")
    files["01-exhibit.pdf"] = b"%PDF-1.7 this is not really a pdf"
    write_case(tmp_path, "vawa-0013", files)
    result = inspect(tmp_path, "vawa-0013")
    assert result.problems == () and any("01-exhibit.pdf: unreadable PDF" in p for p in result.notices)
    assert result.pdfs == ("01-exhibit.pdf", "02-exhibit.pdf")  # extraction records the bad one with its reason

    files = case_files("vawa-0016")
    files = {name: (b"%PDF-1.7 broken" if name.endswith(".pdf") else data) for name, data in files.items()}
    write_case(tmp_path, "vawa-0016", files)
    result = inspect(tmp_path, "vawa-0016")
    assert "no readable PDF in the case folder" in result.problems
    assert any("01-exhibit.pdf: unreadable PDF" in p for p in result.notices)

    files = case_files("vawa-0014")
    del files["case.yaml"]
    write_case(tmp_path, "vawa-0014", files)
    assert any("case.yaml" in p and "missing" in p for p in inspect(tmp_path, "vawa-0014").problems)

    files = case_files("vawa-0015")
    files["case.yaml"] = b"case_type: asylum\n"
    write_case(tmp_path, "vawa-0015", files)
    assert any("case_type" in p for p in inspect(tmp_path, "vawa-0015").problems)

    write_case(tmp_path, "Maria Lopez", case_files("vawa-0016"))
    assert any("neutral" in p for p in inspect(tmp_path, "Maria Lopez").problems)


def test_inspect_content_fingerprint_matches_manifest_free_content(tmp_path):
    files = case_files("vawa-0017")
    write_case(tmp_path, "vawa-0017", files)
    before = inspect(tmp_path, "vawa-0017").content_fp
    (tmp_path / "vawa-0017" / "manifest.json").write_bytes(manifest_for(files))
    assert inspect(tmp_path, "vawa-0017").content_fp == before
    (tmp_path / "vawa-0017" / "02-exhibit.pdf").write_bytes(case_files("vawa-0099")["02-exhibit.pdf"])
    assert inspect(tmp_path, "vawa-0017").content_fp != before


def test_cursor_stores_a_decided_listing_once():
    cur = intake.IntakeCursor(cases={"vawa-0001": intake.CaseState(seen="aa", decided="aa", status="submitted", submitted="cc")})
    raw = cur.dump()
    assert raw.count("aa") == 1
    back = intake.IntakeCursor.load(raw)
    assert back.cases["vawa-0001"] == cur.cases["vawa-0001"]
    waiting = intake.IntakeCursor(cases={"vawa-0002": intake.CaseState(seen="bb", decided="aa")})
    assert intake.IntakeCursor.load(waiting.dump()).cases["vawa-0002"].seen == "bb"
