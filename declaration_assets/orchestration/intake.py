"""Case intake, as pure functions: fingerprints, completeness, validation of a drop, and the sensor cursor.

A sensor tick lists every case folder of a store, then `plan_tick` decides, per case, one of:
- wait: the folder is new or changed since the last tick and has no matching manifest (files may still be arriving);
- submit: the folder is complete (same listing as the previous tick, or a `manifest.json` that matches) and valid,
  and its content differs from what was last submitted: register the partition and request one ingest run;
- reject: complete but not a usable case (empty folder, no readable PDF, bad case.yaml, bad case id): report it;
  a single bad file in an otherwise usable case (an encrypted or corrupt PDF, a stray non-PDF file) is reported as
  a notice and the case proceeds: extraction records the bad PDF with its reason, and nothing else is lost;
- nothing: the listing is exactly the one already decided on.

The cursor (`IntakeCursor`) remembers, per case, the listing seen at the last tick and the listing and content
fingerprint last decided on, so a restarted daemon neither misses nor repeats a case. Run keys carry the content
fingerprint, so even a lost cursor cannot run the same content twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pymupdf
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..cases.models import CASE_ID_MAX_LEN, CASE_ID_PATTERN, CaseFileError
from .. import settings
from ..cases.storage import CASE_FILE, MANIFEST_FILE, CaseFile, CaseStorage, over_size_limit

FINGERPRINT_LEN = 16  # hex chars of sha256 kept in cursors and run keys: 64 bits, ample for one case's versions
MAX_MANIFEST_BYTES = 1024 * 1024  # a manifest lists at most max_files_per_case (500 by default) entries of ~150 bytes
# A local PDF without its `%%EOF` trailer, modified less than settings' pdf_eof_grace_s ago, is taken as still
# being written.
EOF_TAIL_BYTES = 2048  # `%%EOF` sits at the very end; writers may add a few bytes of whitespace or comments


# ---------------------------------------------------------------------------------------------- fingerprints
def listing_fingerprint(files: Sequence[CaseFile]) -> str:
    """What a folder looks like right now: names, sizes and versions (mtime or ETag). Cheap: no file is read."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.name):
        h.update(f"{f.name}\0{f.size}\0{f.version}\n".encode())
    return h.hexdigest()[:FINGERPRINT_LEN]


def content_fingerprint(digests: Mapping[str, str]) -> str:
    """What a case contains: file names and sha256 digests (a touched but unchanged file keeps it)."""
    h = hashlib.sha256()
    for name in sorted(digests):
        if name == MANIFEST_FILE:
            continue  # the manifest restates the other files; a reformatted manifest is not new content
        h.update(f"{name}\0{digests[name]}\n".encode())
    return h.hexdigest()[:FINGERPRINT_LEN]


def run_key(case_id: str, content_fp: str) -> str:
    return f"{case_id}:{content_fp}"


# ---------------------------------------------------------------------------------------------- manifest
class ManifestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class Manifest(BaseModel):
    """`manifest.json` written by an uploader once every file is in place: `{"files": [{name, size, sha256}]}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    files: tuple[ManifestEntry, ...]


def parse_manifest(data: bytes) -> Manifest | str:
    """The manifest, or a problem description when it is not valid JSON of the expected shape."""
    try:
        return Manifest.model_validate(json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"{MANIFEST_FILE}: not valid JSON ({e})"
    except ValidationError as e:
        return f"{MANIFEST_FILE}: " + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())


@dataclass(frozen=True)
class ManifestCheckResult:
    """`incomplete`: files the manifest lists that are missing or still shorter (an upload in progress);
    `problems`: contradictions an upload cannot resolve by finishing (unlisted files, larger sizes, digests)."""

    incomplete: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def matches(self) -> bool:
        return not self.incomplete and not self.problems


def check_manifest(manifest: Manifest, files: Sequence[CaseFile], sha256_of: Callable[[str], str]) -> ManifestCheckResult:
    """Compare a folder with its manifest. Digests are computed only once every name and size matches, so an
    upload in progress costs no reads."""
    present = {f.name: f for f in files if f.name != MANIFEST_FILE}
    listed = {e.name: e for e in manifest.files}
    both = sorted(listed.keys() & present.keys())
    incomplete = [f"{n}: listed in {MANIFEST_FILE} but missing" for n in sorted(listed.keys() - present.keys())]
    incomplete += [f"{n}: {present[n].size} of {listed[n].size} bytes" for n in both if present[n].size < listed[n].size]
    problems = [f"{n}: present but not listed in {MANIFEST_FILE}" for n in sorted(present.keys() - listed.keys())]
    problems += [
        f"{n}: size {present[n].size} exceeds {MANIFEST_FILE} ({listed[n].size})" for n in both if present[n].size > listed[n].size
    ]
    if incomplete or problems:
        return ManifestCheckResult(tuple(incomplete), tuple(problems))
    bad = [f"{n}: sha256 differs from {MANIFEST_FILE}" for n in both if sha256_of(n).lower() != listed[n].sha256.lower()]
    return ManifestCheckResult(problems=tuple(bad))


# ---------------------------------------------------------------------------------------------- validation
@dataclass(frozen=True)
class Inspection:
    """The result of reading a complete case folder: problems (empty when valid) and its content fingerprint."""

    problems: tuple[str, ...]
    content_fp: str
    pdfs: tuple[str, ...] = ()
    case_type: str | None = None
    notices: tuple[str, ...] = ()  # bad single files of a usable case: reported, the case proceeds
    unfinished: tuple[str, ...] = ()  # files that look still being written: the case waits, nothing is decided


def has_eof_trailer(data: bytes) -> bool:
    return b"%%EOF" in data[-EOF_TAIL_BYTES:]


def pdf_problem(name: str, data: bytes) -> str | None:
    """Why a PDF cannot be used as evidence, or None. Opens it with PyMuPDF (the extractor's own library)."""
    if not data:
        return f"{name}: empty file"
    try:
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            if doc.needs_pass:
                return f"{name}: encrypted PDF (password required)"
            if doc.page_count == 0:
                return f"{name}: PDF has no pages"
            max_pages = settings.current().max_pdf_pages
            if doc.page_count > max_pages:  # page_count reads the page tree only: cheap even for a large file
                return f"{name}: {doc.page_count} pages, over the {max_pages}-page limit for one PDF; skipped"
            doc.load_page(0)
    except Exception as e:  # PyMuPDF raises several types (FileDataError, RuntimeError, ValueError) for damage
        return f"{name}: unreadable PDF ({type(e).__name__}: {e})"
    return None


def inspect_case(storage: CaseStorage, case_id: str, files: Sequence[CaseFile], now: float | None = None) -> Inspection:
    """Read a complete case folder once and say whether it is a valid case. Never raises for a bad drop.

    Problems come in order of how fundamental they are, so the first one is the reason to fix first: the folder
    or its id, then case.yaml, then the PDFs."""
    now = time.time() if now is None else now
    digests: dict[str, str] = {}
    if not CASE_ID_PATTERN.match(case_id):
        shown = case_id if len(case_id) <= CASE_ID_MAX_LEN else case_id[:CASE_ID_MAX_LEN] + "..."
        return Inspection(problems=(f"case id {shown!r} must be neutral ASCII like 'vawa-0001', at most "
                                    f"{CASE_ID_MAX_LEN} characters (never a client's name)",),
                          content_fp=content_fingerprint({}))
    if (why := storage.refusal(case_id)) is not None:
        return Inspection(problems=(why,), content_fp=content_fingerprint({}))
    if not files:
        return Inspection(problems=("empty case folder",), content_fp=content_fingerprint({}))
    max_files = settings.current().max_files_per_case
    if len(files) > max_files:
        return Inspection(problems=(f"{len(files)} files, over the limit of {max_files} for one case",),
                          content_fp=content_fingerprint({}))
    yaml_problems: list[str] = []
    pdf_problems: list[str] = []
    pdfs: list[str] = []
    notices: list[str] = []
    unfinished: list[str] = []
    readable = 0
    for f in sorted(files, key=lambda f: f.name):
        if f.skipped:
            notices.append(f"{f.name}: {f.skipped}")
            continue
        if (too_big := over_size_limit(f)) is not None:
            notices.append(too_big)
            continue
        try:
            data = storage.read_bytes(case_id, f.name)
        except Exception as e:  # a file deleted or unreadable between listing and reading
            pdf_problems.append(f"{f.name}: cannot be read ({type(e).__name__})")
            continue
        digests[f.name] = hashlib.sha256(data).hexdigest()
        if f.is_pdf:
            pdfs.append(f.name)
            if data and not has_eof_trailer(data):
                if f.mtime is not None and now - f.mtime < settings.current().pdf_eof_grace_s:
                    unfinished.append(f"{f.name}: no %%EOF trailer yet (still being written?)")
                    continue
                notices.append(f"{f.name}: no %%EOF trailer: the file may be truncated")
            if (p := pdf_problem(f.name, data)) is not None:
                notices.append(p)
            else:
                readable += 1
        elif f.name not in (CASE_FILE, MANIFEST_FILE):
            notices.append(
                f"{f.name}: not a PDF, ignored (a case folder holds PDFs, {CASE_FILE} and optionally {MANIFEST_FILE})"
            )
    if not pdfs:
        pdf_problems.insert(0, "no PDF in the case folder")
    elif not readable and not unfinished:
        pdf_problems.insert(0, "no readable PDF in the case folder")
    case_type = None
    try:
        record = storage.read_case_record(case_id)
        case_type = record.case_type
        if record.case_id != case_id:
            yaml_problems.append(f"{CASE_FILE}: case_id {record.case_id!r} does not match the folder name {case_id!r}")
    except CaseFileError as e:
        yaml_problems.append(str(e))
    except Exception as e:  # storage errors reading case.yaml are a bad drop too, never a sensor crash
        yaml_problems.append(f"{CASE_FILE}: cannot be read ({type(e).__name__})")
    return Inspection(
        problems=tuple(yaml_problems + pdf_problems), content_fp=content_fingerprint(digests), pdfs=tuple(pdfs),
        case_type=case_type, notices=tuple(notices), unfinished=tuple(unfinished),
    )


# ---------------------------------------------------------------------------------------------- cursor
class CaseState(BaseModel):
    """Per case: `seen` = listing at the last tick; `decided` = listing last decided on; `submitted` = content run."""

    model_config = ConfigDict(extra="forbid")
    seen: str | None = None
    decided: str | None = None
    status: Literal["waiting", "submitted", "rejected", "unchanged"] = "waiting"
    submitted: str | None = None


class IntakeCursor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    v: int = 1
    cases: dict[str, CaseState] = Field(default_factory=dict)
    ignored: list[str] = Field(default_factory=list)  # dot-folders already reported once

    def forget(self, case_id: str) -> bool:
        """Drop everything remembered of a case (after a purge): the same files dropped again are a new case."""
        return self.cases.pop(case_id, None) is not None

    @classmethod
    def load(cls, raw: str | None) -> IntakeCursor:
        """An empty cursor for a first tick. An unreadable cursor raises: starting over silently would re-decide
        every case (run keys would still prevent duplicate runs, but rejections would be reported again)."""
        if not raw:
            return cls()
        cursor = cls.model_validate_json(raw)
        for st in cursor.cases.values():
            if st.seen is None and st.decided is not None:
                st.seen = st.decided
        return cursor

    def dump(self) -> str:
        # Compact: a case whose last-seen listing is the one decided on stores it once (cursors live in the
        # instance's storage and are rewritten every tick; ~80 bytes a case).
        compact = {
            case_id: {k: v for k, v in st.model_dump(exclude_defaults=True).items() if not (k == "seen" and v == st.decided)}
            for case_id, st in self.cases.items()
        }
        out: dict[str, object] = {"v": self.v, "cases": compact}
        if self.ignored:
            out["ignored"] = self.ignored
        return json.dumps(out, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------- one tick
@dataclass(frozen=True)
class Submission:
    case_id: str
    content_fp: str
    listing_fp: str
    pdfs: tuple[str, ...] = ()
    case_type: str | None = None
    notices: tuple[str, ...] = ()

    @property
    def run_key(self) -> str:
        return run_key(self.case_id, self.content_fp)


@dataclass(frozen=True)
class Rejection:
    """`problems[0]` is the fatal reason (the one to fix first); `notices` are files merely skipped."""

    case_id: str
    listing_fp: str
    problems: tuple[str, ...]
    notices: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return self.problems[0]

    def message(self) -> str:
        out = self.reason
        if len(self.problems) > 1:
            out += " | also: " + "; ".join(self.problems[1:])
        if self.notices:
            out += " | notices (files skipped): " + "; ".join(self.notices)
        return out


@dataclass
class TickPlan:
    cursor: IntakeCursor
    submissions: list[Submission] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # complete again, but content identical to the last run
    deferred: list[str] = field(default_factory=list)  # complete, left for the next tick by the per-tick budget


ManifestCheck = Callable[[str, Sequence[CaseFile]], "ManifestCheckResult | None"]
Inspector = Callable[[str, Sequence[CaseFile]], Inspection]


def plan_tick(
    cursor: IntakeCursor,
    listings: Mapping[str, Sequence[CaseFile]],
    inspect: Inspector,
    manifest_check: ManifestCheck,
    max_inspections: int | None = None,
    deadline: float | None = None,
) -> TickPlan:
    """Decide this tick for every listed case. Pure apart from the two callables, which read files.

    `manifest_check(case_id, files)` returns None when the folder has no manifest, else how the folder compares.
    `max_inspections` and `deadline` (a `time.monotonic()` value) bound the reading done in one tick; the rest
    stays complete and is taken next tick, so one heavy drop cannot hold up intake for every other case.
    """
    new = IntakeCursor(cases={}, ignored=list(cursor.ignored))
    plan = TickPlan(cursor=new)
    inspected = 0
    for case_id in sorted(listings):
        files = listings[case_id]
        fp = listing_fingerprint(files)
        prev = cursor.cases.get(case_id)
        state = prev.model_copy() if prev else CaseState()
        new.cases[case_id] = state
        if state.decided == fp:
            state.seen = fp
            continue
        stable = state.seen == fp
        state.seen = fp
        has_manifest = any(f.name == MANIFEST_FILE for f in files)
        manifest = manifest_check(case_id, files) if has_manifest else None
        # complete: a matching manifest; or, without one (or with only contradictions left), a stable listing.
        # A manifest still naming missing or short files means the upload is in progress, however long it pauses.
        complete = manifest.matches if manifest else stable
        if manifest and not manifest.matches and not manifest.incomplete:
            complete = stable
        if not complete:
            state.status = "waiting"
            plan.waiting.append(case_id)
            continue
        if (max_inspections is not None and inspected >= max_inspections) or (
            deadline is not None and inspected and time.monotonic() >= deadline
        ):
            plan.deferred.append(case_id)
            continue
        inspected += 1
        insp = inspect(case_id, files)
        if insp.unfinished and not insp.problems:
            state.status = "waiting"  # a PDF still being written: nothing decided, looked at again next tick
            plan.waiting.append(case_id)
            continue
        problems = insp.problems + (manifest.problems if manifest else ())
        state.decided = fp
        if problems:
            state.status = "rejected"
            plan.rejections.append(Rejection(case_id, fp, problems, insp.notices))
        elif state.submitted == insp.content_fp:
            state.status = "unchanged"
            plan.unchanged.append(case_id)
        else:
            state.status = "submitted"
            state.submitted = insp.content_fp
            plan.submissions.append(Submission(case_id, insp.content_fp, fp, insp.pdfs, insp.case_type, insp.notices))
    # Cases that left the store: forget the ones never run; keep the content of those that ran, so the same
    # content coming back is recognized and not run again.
    for case_id, prev in cursor.cases.items():
        if case_id not in listings and prev.submitted:
            new.cases[case_id] = CaseState(status="submitted", submitted=prev.submitted)
    return plan
