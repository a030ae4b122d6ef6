"""Command-line entry points behind `make demo` and `make dev`."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

from . import settings
from .embedded.server import EmbeddedServer


def _start_embedded() -> EmbeddedServer:
    server = EmbeddedServer()
    api_base = server.ensure()
    os.environ["DECLARATION_EMBEDDED_API_BASE"] = api_base
    print(f"embedded model server: {api_base} (log {server.log_file})", flush=True)
    return server


def demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    _start_embedded()
    return run_demo(force=args.force)


def dev(args: argparse.Namespace) -> int:
    """The Dagster UI and daemon on 127.0.0.1, with the embedded model server supervised beside them."""
    server = EmbeddedServer()
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "declaration_assets.embedded.server", "supervise"], start_new_session=True
    )
    deadline = time.monotonic() + 180
    while not server.healthy() and time.monotonic() < deadline and supervisor.poll() is None:
        time.sleep(0.5)
    if not server.healthy():
        supervisor.terminate()
        print(f"embedded model server did not start; see {server.log_file}", file=sys.stderr)
        return 1
    env = dict(os.environ, DECLARATION_EMBEDDED_API_BASE=server.api_base())
    dagster = shutil.which("dagster", path=os.path.dirname(sys.executable)) or "dagster"
    cmd = [dagster, "dev", "-h", args.host, "-p", str(args.port), "-w", str(settings.PROJECT_ROOT / "workspace.yaml")]
    print(f"Dagster UI: http://{args.host}:{args.port}  (Ctrl-C stops the UI, the daemon and the model server)", flush=True)
    ui = subprocess.Popen(cmd, env=env, cwd=settings.PROJECT_ROOT)
    try:
        return ui.wait()
    except KeyboardInterrupt:
        ui.send_signal(signal.SIGINT)
        return ui.wait(timeout=30)
    finally:
        supervisor.terminate()
        try:
            supervisor.wait(timeout=30)
        except subprocess.TimeoutExpired:
            supervisor.kill()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="declaration-assets")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="materialize every asset for the sample cases with the embedded model")
    p.add_argument("--force", action="store_true", help="re-run even when inputs are unchanged")
    p.set_defaults(func=demo)
    p = sub.add_parser("dev", help="Dagster UI + daemon on 127.0.0.1 with the embedded model server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=dev)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
