"""Importing the project in a bare process does not make litellm fetch its price map from the network.

litellm fetches its model price map at import unless LITELLM_LOCAL_MODEL_COST_MAP is set before its first import.
A fresh interpreter without the variable imports a module of the project with every proxy variable pointing at a
local socket that records each request's first line (httpx honours HTTP(S)_PROXY): no request may go to the price
map's host, and litellm must report its map as the packaged one, forced by the environment.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

from declaration_assets import settings
from declaration_assets.llm._litellm import litellm

PROBE = """
import json, sys, importlib
importlib.import_module(sys.argv[1])
import litellm
from litellm.litellm_core_utils.get_model_cost_map import get_model_cost_map_source_info
info = get_model_cost_map_source_info()
print(json.dumps({"source": info["source"], "url": info["url"], "forced": info["is_env_forced"],
                  "fallback": info["fallback_reason"], "models": len(litellm.model_cost),
                  "env": __import__("os").environ.get("LITELLM_LOCAL_MODEL_COST_MAP")}))
"""


@contextmanager
def recording_proxy() -> Iterator[tuple[str, list[bytes]]]:
    """A local socket posing as a proxy: records the first bytes of every connection, answers nothing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(2.0)
                try:
                    seen.append(conn.recv(512))
                except OSError:
                    seen.append(b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", seen
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


@pytest.mark.parametrize("module", ["declaration_assets.llm.engine", "declaration_assets.llm.resources",
                                    "declaration_assets.definitions"])
def test_bare_import_does_not_fetch_the_price_map(module: str) -> None:
    price_host = urlsplit(litellm.model_cost_map_url).hostname
    assert price_host
    proxies = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
    env = {k: v for k, v in os.environ.items() if k.upper() not in ("LITELLM_LOCAL_MODEL_COST_MAP", "NO_PROXY", *proxies)}
    with recording_proxy() as (proxy, seen):
        env.update({k: proxy for name in proxies for k in (name, name.lower())})
        env["PYTHONPATH"] = str(settings.current().project_root)
        done = subprocess.run([sys.executable, "-c", PROBE, module], env=env, cwd=settings.current().project_root,
                              capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert not [s for s in seen if price_host.encode() in s], f"importing {module} asked {price_host} for prices"
    assert info["env"] == "True"
    assert (info["source"], info["url"], info["forced"], info["fallback"]) == ("local", None, True, None)
    assert info["models"] > 100  # the packaged map, not an empty one
    assert "model cost map" not in done.stderr.lower()
