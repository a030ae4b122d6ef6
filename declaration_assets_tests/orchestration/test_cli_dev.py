"""`make dev` on SIGTERM stops the UI and the model server's supervisor, as Ctrl-C does; it prints the hint about
large drops once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from declaration_assets import cli, settings

CHILD = r"""
import os, subprocess, sys, time
from declaration_assets import cli
if len(sys.argv) > 2:  # run as `make dev` runs it: SIGTERM when make goes
    import signal
    signal.signal(signal.SIGTERM, cli._raise_terminated)
    cli.die_with_parent()
# the stand-in supervisor, like the real one (embedded/server.py supervise), sets its own SIGTERM disposition
sleeper = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_DFL); time.sleep(600)"]
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


def started_pids(proc: subprocess.Popen, pidfile: Path) -> tuple[int, int]:
    """The supervisor's and the UI's pids, once the child under test has written both."""
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and Path(f"{pidfile}.ui").exists() and Path(f"{pidfile}.ui").read_text()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    return int(pidfile.read_text()), int(Path(f"{pidfile}.ui").read_text())


def _terminal_defaults() -> None:
    """The dispositions a command started from a terminal has, whatever the test runner inherited (a CI runner
    started in the background ignores SIGINT, and may ignore SIGTERM)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _ignore_sigint() -> None:
    _terminal_defaults()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a non-interactive shell does to a job started with `&`


@pytest.mark.parametrize("through_make", [False, True], ids=["direct", "through-make"])
def test_sigterm_stops_the_ui_and_the_supervisor(tmp_path, through_make):
    pidfile = tmp_path / "pids"
    env = dict(os.environ, PYTHONPATH=str(settings.current().project_root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if through_make:
        if shutil.which("make") is None:
            pytest.skip("no make")
        (tmp_path / "child.py").write_text(CHILD, encoding="utf-8")
        (tmp_path / "Makefile").write_text(f"dev:\n\t@{sys.executable} child.py {pidfile} make\n", encoding="utf-8")
        proc = subprocess.Popen(["make", "-s", "dev"], env=env, cwd=tmp_path, preexec_fn=_terminal_defaults)
    else:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(pidfile)], env=env, cwd=tmp_path,
                                preexec_fn=_terminal_defaults)
    supervisor, ui = started_pids(proc, pidfile)
    try:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        assert code == 143 or (through_make and code != 0)
        deadline = time.monotonic() + 10
        while (alive(supervisor) or alive(ui)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(supervisor) and not alive(ui)
    finally:
        for pid in (supervisor, ui):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_large_drop_hint_names_the_manifest():
    hint = cli.LARGE_DROP_HINT.format(inbox=settings.current().inbox_dir)
    assert "manifest.json" in hint and str(settings.current().inbox_dir) in hint


def test_a_launcher_that_ignores_sigint_does_not_keep_the_ui_running(tmp_path):
    """Started in the background (SIGINT inherited as ignored), the UI still stops at once on the SIGINT that
    `serve` sends it, instead of being killed after its 30 s grace."""
    pidfile = tmp_path / "pids"
    env = dict(os.environ, PYTHONPATH=str(settings.current().project_root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(pidfile)], env=env, cwd=tmp_path, preexec_fn=_ignore_sigint)
    supervisor, ui = started_pids(proc, pidfile)
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 143  # well inside the 30 s after which serve would kill the UI
        assert not alive(ui)
    finally:
        for pid in (supervisor, ui):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
