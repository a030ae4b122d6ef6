"""`make dev` on SIGTERM stops the UI and the model server's supervisor, as Ctrl-C does; it prints the hint about
large drops once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from declaration_assets import cli, settings

CHILD = r"""
import os, subprocess, sys, time
from declaration_assets import cli
sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
supervisor = subprocess.Popen(sleeper, start_new_session=True)  # as `make dev` starts it: its own session
ui = [sys.executable, "-c", "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)",
      sys.argv[1] + ".ui"]
open(sys.argv[1], "w").write(str(supervisor.pid))
sys.exit(cli.serve(supervisor, ui, dict(os.environ), "."))
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as stopped
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_sigterm_stops_the_ui_and_the_supervisor(tmp_path):
    pidfile = tmp_path / "pids"
    env = dict(os.environ, PYTHONPATH=str(settings.PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(pidfile)], env=env, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and Path(f"{pidfile}.ui").exists() and Path(f"{pidfile}.ui").read_text()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    supervisor, ui = int(pidfile.read_text()), int(Path(f"{pidfile}.ui").read_text())
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
        deadline = time.monotonic() + 10
        while (alive(supervisor) or alive(ui)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(supervisor) and not alive(ui)
    finally:
        for pid in (supervisor, ui):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_large_drop_hint_names_the_manifest():
    hint = cli.LARGE_DROP_HINT.format(inbox=settings.INBOX_DIR)
    assert "manifest.json" in hint and str(settings.INBOX_DIR) in hint
