"""What the router remembers between calls: per-server slots, per-deployment cooldowns, spend per run.

One `RouterState` is created and owned by the `LLMRouter` resource and handed to its engine; nothing here is a
module global. Slots reach further than the state object: each server's slots are lock files (`slots.py`), so
routers in other processes, or other router instances in this one, share them. Spend is re-read from the call log
the first time a run is seen, so a new state never forgets what a run already spent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .routing import Deployment
from .slots import ServerSlots


class ServerPools:
    """Concurrency slots per server (api_base), sized from the routing file; across processes through lock files."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, ServerSlots] = {}
        self._sizes: dict[str, int] = {}
        self._switch_locks: dict[str, threading.Lock] = {}

    def pool(self, dep: Deployment) -> ServerSlots:
        key = dep.server_key
        with self._lock:
            size = min(dep.max_concurrency, self._sizes.get(key, dep.max_concurrency))
            if key not in self._pools or self._sizes[key] != size:
                # A smaller size from another deployment on the same server wins; a live pool is never shrunk
                # under a holder (the new slots serve new callers).
                self._pools[key] = ServerSlots(key, size)
                self._sizes[key] = size
            self._switch_locks.setdefault(key, threading.Lock())
            return self._pools[key]

    def switch_lock(self, dep: Deployment) -> threading.Lock:
        """One lock per server, held while the server switches models (an Ollama unload)."""
        with self._lock:
            return self._switch_locks.setdefault(dep.server_key, threading.Lock())


class Cooldowns:
    """A deployment that failed `cooldown.after_failures` calls in a row is skipped for `cooldown.seconds`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fails: dict[str, int] = {}
        self._until: dict[str, float] = {}

    def active(self, dep: Deployment) -> float:
        with self._lock:
            return max(0.0, self._until.get(dep.name, 0.0) - time.monotonic())

    def failed(self, dep: Deployment) -> None:
        with self._lock:
            n = self._fails.get(dep.name, 0) + 1
            self._fails[dep.name] = n
            if n >= dep.cooldown.after_failures:
                self._until[dep.name] = time.monotonic() + dep.cooldown.seconds
                self._fails[dep.name] = 0

    def succeeded(self, dep: Deployment) -> None:
        with self._lock:
            self._fails.pop(dep.name, None)
            self._until.pop(dep.name, None)


NO_RUN = "(no run)"


class Spend:
    """USD spent per run on paid deployments. A run seen for the first time starts from what the call log says it
    spent (`spent_in_log`), so a retried step or a second router in the same run keeps counting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_run: dict[str, float] = {}

    def spent(self, run_id: str | None, spent_in_log: Callable[[str], float] | None) -> float:
        rid = run_id or NO_RUN
        with self._lock:
            if rid not in self._by_run:
                self._by_run[rid] = spent_in_log(run_id) if (spent_in_log and run_id) else 0.0
            return self._by_run[rid]

    def add(self, run_id: str | None, cost: float, spent_in_log: Callable[[str], float] | None) -> None:
        self.spent(run_id, spent_in_log)
        with self._lock:
            self._by_run[run_id or NO_RUN] += cost


class RouterState:
    """Pools, cooldowns and spend of one router resource (see the module docstring for what reaches further)."""

    def __init__(self) -> None:
        self.pools = ServerPools()
        self.cooldowns = Cooldowns()
        self.spend = Spend()
