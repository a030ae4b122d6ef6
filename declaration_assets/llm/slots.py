"""Call slots per model server, shared by every process on this host.

A deployment's `max_concurrency` is a promise about the *server*: llama.cpp answers one request at a time, an
Ollama box has so much memory. Dagster runs each step in its own process (the multiprocess executor) and several
runs at once, so a threading semaphore alone would only limit the calls of one step. Here a server's slots are
files locked with `flock`: a call holds one slot from before its request until its answer is read, whatever
process it runs in. The kernel drops a lock when its process dies, so a killed run never leaves a slot taken.

Written by hand because nothing in the stack offers a counting semaphore across processes with a timeout
(`filelock` is one lock, not N slots). Hosts do not share these files: across machines (k8s, celery) the
Dagster pools named in `orchestration/policies.py` are the limit.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from pathlib import Path

POLL_S = 0.05  # how often a waiting call looks for a slot another process released


def slots_dir() -> Path:
    from .. import settings

    return settings.current().slots_dir


class ServerSlots:
    """`size` slots for one server (keyed by its api_base): `acquire(timeout)` / `release()` like a semaphore."""

    def __init__(self, server_key: str, size: int, directory: Path | None = None) -> None:
        self.server_key = server_key
        self.size = size
        self.directory = directory or slots_dir()
        digest = hashlib.sha256(server_key.encode()).hexdigest()[:16]
        self._paths = [self.directory / f"{digest}.{i}.lock" for i in range(size)]
        # Threads of this process queue here first, so they wait without polling the files.
        self._threads = threading.BoundedSemaphore(size)
        self._held = threading.local()

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(0.0, timeout)
        if not self._threads.acquire(timeout=max(0.0, timeout)):
            return False
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            while True:
                for path in self._paths:
                    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        os.close(fd)
                        continue
                    self._held.fd = fd
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    self._threads.release()
                    return False
                time.sleep(min(POLL_S, left))
        except BaseException:
            self._threads.release()
            raise

    def free_now(self) -> bool:
        """Whether a slot is free at this instant (taken and given back at once; the answer may be stale a moment
        later, which only means the caller queues there instead)."""
        if not self.acquire(timeout=0):
            return False
        self.release()
        return True

    def release(self) -> None:
        fd = getattr(self._held, "fd", None)
        if fd is None:
            raise RuntimeError(f"release of a slot on {self.server_key} this thread does not hold")
        self._held.fd = None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
            self._threads.release()
