"""Command-line entry points behind `make demo` and `make dev`."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import settings
from .embedded.server import EmbeddedServer


def _start_embedded() -> EmbeddedServer:
    server = EmbeddedServer()
    api_base = server.ensure()
    # The packaged routing file's `${DECLARATION_EMBEDDED_API_BASE}`: set for the children this command starts, and
    # for this process's routing file, which resolves against the environment the settings were built from.
    os.environ["DECLARATION_EMBEDDED_API_BASE"] = api_base
    settings.configure(environ=os.environ)
    print(f"embedded model server: {api_base} (log {server.log_file})", flush=True)
    return server


def _secure() -> None:
    """Owner-only (or share-group) files for this process and every child it starts; earlier files tightened."""
    from .privacy.permissions import secure_process

    if changed := secure_process():
        print(f"file permissions: {changed} earlier files and folders made private (see docs/OPERATIONS.md)")


LARGE_DROP_HINT = (
    "Dropping large files into {inbox}: write the case folder's manifest.json (names, sizes, sha256) first, then "
    "copy the files; a case with a manifest waits until every listed file is complete, however slowly it arrives "
    "(docs/OPERATIONS.md)."
)


class Terminated(Exception):
    """SIGTERM received: stop everything as Ctrl-C does."""


def _raise_terminated(signum, frame):  # noqa: ANN001 - signal handler signature
    raise Terminated()


def _default_stop_signals() -> None:
    """In the UI's process before it starts: SIGINT and SIGTERM back to their defaults. A process started in the
    background by a non-interactive shell (`make dev &` in a script, nohup) inherits SIGINT *ignored*, and the UI
    would then never stop on the SIGINT `serve` sends it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent exits: `make` does not pass a SIGTERM it receives on
    to its recipe, so `kill <make's pid>` reaches `make dev` this way. (A no-op where prctl is missing.)"""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent was already gone before the request
        os.kill(os.getpid(), signal.SIGTERM)


def serve(supervisor: subprocess.Popen, ui_cmd: list[str], env: dict[str, str], cwd: str | os.PathLike) -> int:
    """Run the UI until it exits, Ctrl-C or SIGTERM; then stop the UI (SIGINT, as Ctrl-C does) and the model
    server's supervisor (which stops the server) and wait for both."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    ui = None
    try:
        ui = subprocess.Popen(ui_cmd, env=env, cwd=cwd, preexec_fn=_default_stop_signals)
        return ui.wait()
    except (KeyboardInterrupt, Terminated) as e:
        if ui is not None:
            ui.send_signal(signal.SIGINT)
            try:
                ui.wait(timeout=30)
            except subprocess.TimeoutExpired:
                ui.kill()
                ui.wait()
        return 130 if isinstance(e, KeyboardInterrupt) else 143
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        supervisor.terminate()
        try:
            supervisor.wait(timeout=30)
        except subprocess.TimeoutExpired:
            supervisor.kill()
        signal.signal(signal.SIGTERM, previous)


def demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    _secure()
    _start_embedded()
    return run_demo(force=args.force)


def _extraction_summary(ingest) -> list[str]:  # type: ignore[no-untyped-def]
    """What extraction reported (failures, skipped files, unreliable pages, letters), from the run's metadata."""
    for event in ingest.get_asset_materialization_events():
        if event.asset_key.path[-1] != "extracted_text":
            continue
        meta = event.materialization.metadata
        lines = [f"{meta['documents'].value} documents, {meta['pages'].value} pages "
                 f"({meta['ocr_pages'].value} OCR'd), {meta['failed_documents'].value} failed documents"]
        for key in ("skipped_files", "low_quality_page_list", "rotated_pages", "pages_without_ocr_language"):
            if key in meta and meta[key].value != "none":
                lines.append(f"{key.replace('_', ' ')}: {meta[key].value}")
        return lines
    return []


def run_case(args: argparse.Namespace) -> int:
    """One case folder through both jobs on the shared instance, as the inbox sensor would run it."""
    from .cases.models import CaseFileError
    from .cases.storage import LocalCaseStorage
    from .demo import _ensure_instance as ensure_instance  # the demo's shared instance
    from .llm.routing_file import default_model_config, model_config_names
    from .orchestration.intake import inspect_case
    from .orchestration.jobs import FINGERPRINT_TAG, SOURCE_TAG, run_case_in_process
    from .orchestration.policies import was_interrupted

    folder = args.case_folder.resolve()
    case_id = folder.name
    roots = [settings.current().inbox_dir.resolve(), settings.current().cases_dir.resolve()]
    if not folder.is_dir():
        print(f"{folder}: no such case folder", file=sys.stderr)
        return 2
    if folder.parent not in roots:
        print(f"{folder}: a case folder must sit in {roots[0]} (or {roots[1]}); move it there, or set "
              "DECLARATION_INBOX_DIR to its parent folder", file=sys.stderr)
        return 2
    model = args.model_config or default_model_config()
    if model not in model_config_names():
        print(f"model configuration {model!r} is not in the routing file (known: "
              f"{', '.join(model_config_names())})", file=sys.stderr)
        return 2
    storage = LocalCaseStorage(roots=[str(folder.parent)])
    try:
        inspection = inspect_case(storage, case_id, storage.list_files(case_id))  # the sensor's own checks
    except CaseFileError as e:  # a linked case folder, or the same case id in two roots
        print(f"{case_id}: refused: {e}", file=sys.stderr)
        return 2
    if inspection.problems:
        print(f"{case_id}: not a valid case:\n  " + "\n  ".join(inspection.problems), file=sys.stderr)
        return 2
    for notice in inspection.notices:
        print(f"  notice: {notice}")

    _start_embedded()
    from .definitions import defs

    instance = ensure_instance()
    print(f"{case_id}: ingest_job (case_record, extracted_text, chunk_index), then declaration_job (draft, judge_scores, "
          f"guarded_declaration, eval_report) for model configuration '{model}'; instance {os.environ['DAGSTER_HOME']}",
          flush=True)
    started = time.monotonic()
    tags = {SOURCE_TAG: "cli", FINGERPRINT_TAG: inspection.content_fp}
    ingest, declaration = run_case_in_process(defs, instance, case_id, model, raise_on_error=False, tags=tags)
    print(f"  ingest run {ingest.run_id}: {'done' if ingest.success else 'FAILED'} "
          f"({time.monotonic() - started:.0f} s)", flush=True)
    for line in _extraction_summary(ingest):
        print(f"    {line}")
    if was_interrupted(ingest) or (declaration is not None and was_interrupted(declaration)):
        print(f"  {case_id}: interrupted; run the same command again to go on", file=sys.stderr)
        return 130
    if declaration is None:
        print(f"  {case_id}: ingest failed; see its run in the UI (make dev) for the reason", file=sys.stderr)
        return 1
    print(f"  declaration run {declaration.run_id}: {'done' if declaration.success else 'FAILED'} "
          f"({time.monotonic() - started:.0f} s)")
    latest = settings.current().outputs_dir / case_id / model / "latest"
    print(f"Outputs: {latest}/declaration.md  declaration.docx  eval_report.md")
    print(f"LLM call log: {settings.current().call_log}")
    return 0 if declaration.success else 1


def dev(args: argparse.Namespace) -> int:
    """The Dagster UI and daemon on 127.0.0.1, with the embedded model server supervised beside them."""
    _secure()
    server = EmbeddedServer()
    signal.signal(signal.SIGTERM, _raise_terminated)
    die_with_parent()
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "declaration_assets.embedded.server", "supervise"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        while not server.healthy() and time.monotonic() < deadline and supervisor.poll() is None:
            time.sleep(0.5)
    except (KeyboardInterrupt, Terminated):
        supervisor.terminate()
        supervisor.wait(timeout=30)
        return 143
    if not server.healthy():
        supervisor.terminate()
        print(f"embedded model server did not start; see {server.log_file}", file=sys.stderr)
        return 1
    env = dict(os.environ, DECLARATION_EMBEDDED_API_BASE=server.api_base())
    dagster = shutil.which("dagster", path=os.path.dirname(sys.executable)) or "dagster"
    cmd = [dagster, "dev", "-h", args.host, "-p", str(args.port), "-w", str(settings.current().project_root / "workspace.yaml")]
    print(f"Dagster UI: http://{args.host}:{args.port}  (Ctrl-C or SIGTERM stops the UI, the daemon and the model "
          "server)", flush=True)
    print(LARGE_DROP_HINT.format(inbox=settings.current().inbox_dir), flush=True)
    return serve(supervisor, cmd, env, settings.current().project_root)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="declaration-assets")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="materialize every asset for the sample cases with the embedded model")
    p.add_argument("--force", action="store_true", help="re-run even when inputs are unchanged")
    p.set_defaults(func=demo)
    p = sub.add_parser("run", help="run one case folder through both jobs (as the inbox sensor would)")
    p.add_argument("case_folder", type=Path, help="e.g. data/inbox/vawa-0003")
    p.add_argument("--model-config", default=None, help="a model configuration of the routing file (default: 'default')")
    p.set_defaults(func=run_case)
    p = sub.add_parser("dev", help="Dagster UI + daemon on 127.0.0.1 with the embedded model server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=dev)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
