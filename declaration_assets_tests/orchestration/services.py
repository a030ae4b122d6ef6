"""Starting and always stopping the real services of the orchestration tests (bounded waits, free ports)."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STAND_IN_MODULE = "declaration_assets_tests.orchestration.stand_in_defs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def write_dagster_home(home: Path, base: Path | None = None, overrides: dict | None = None) -> Path:
    """A DAGSTER_HOME whose dagster.yaml is `base` (a tracked deploy/ file) with `overrides` applied on top."""
    home.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(base.read_text()) if base else {}
    for key, value in (overrides or {}).items():
        config[key] = value
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


def write_workspace(path: Path, module: str = STAND_IN_MODULE) -> Path:
    path.write_text(yaml.safe_dump({"load_from": [{"python_module": {"module_name": module, "working_directory": str(REPO)}}]}))
    return path


def service_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_TELEMETRY_DISABLED="1",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        PYTHONPATH=str(REPO),
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env


class Service:
    """A subprocess in its own process group, with its output in a log file; `stop()` ends the whole group."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path = REPO):
        self.log = log
        self._fh = log.open("ab")
        self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=self._fh, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20, group: bool = True) -> None:
        """SIGTERM (then SIGKILL) the process, or with `group` everything it started (e.g. run workers)."""
        send = (lambda sig: os.killpg(self.proc.pid, sig)) if group else self.proc.send_signal
        try:
            send(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                send(signal.SIGKILL)
                self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        if group:
            try:  # the leader may be gone while children of its group remain
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not self._fh.closed:
            self._fh.close()

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def daemon(home: Path, workspace: Path, env: dict[str, str]) -> Service:
    return Service([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, home / "daemon.log")


class PostgresServer:
    """A throwaway PostgreSQL (Debian's package) on a free 127.0.0.1 port; initdb refuses root, so it runs as
    the `postgres` user, with its data and socket directories in a fresh /tmp folder owned by that user."""

    def __init__(self):
        import glob
        import shutil
        import tempfile

        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins or shutil.which("runuser") is None:
            raise RuntimeError("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) or runuser not found")
        self.bin = Path(bins[-1])
        self.root = Path(tempfile.mkdtemp(prefix="declaration-pg-"))
        self.data, self.sock, self.logfile = self.root / "data", self.root / "sock", self.root / "server.log"
        self.sock.mkdir()
        self.port = free_port()
        shutil.chown(self.root, "postgres", "postgres")
        shutil.chown(self.sock, "postgres", "postgres")
        self.started = False

    def _as_postgres(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, timeout=timeout, capture_output=True)

    def start(self, db: str = "dagster") -> str:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.logfile), "-w", "-t", "60", "start", timeout=90)
        self.started = True
        self._as_postgres(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", db)
        return db

    def stop(self) -> None:
        import shutil

        if self.started:
            try:
                self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
            finally:
                self.started = False
        shutil.rmtree(self.root, ignore_errors=True)
