"""A replay deployment: a real OpenAI-compatible HTTP server on 127.0.0.1 that plays a perfect drafter from a
hand-written reference declaration, judges that give 5, and a guard that hands each section back unchanged.

It measures what the pipeline keeps of good text (the fidelity benchmark, `scripts/bench_fidelity.py`):
- a drafter call is answered with the reference sentences of the element it asks for whose citations include a
  passage shown in the prompt, grouped in the reference's paragraphs, plus any seeded bad sentences for that
  element (`Seed`: what the pipeline must drop or flag);
- the answer honours `max_tokens` like a real server (about 4 characters a token): a longer answer is cut and
  ends with `finish_reason: "length"`; a continuation request (the prompt repeats the answer so far after
  `CONTINUE_MARKER`) gets the rest;
- usage counts are reported, so the call records carry tokens and the route's cost.

The server never reads the case files: what a drafter call gets depends only on the prompt it sent.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..drafting.prompts import CONTINUE_MARKER  # a continuation request repeats the answer so far after it
from ..text import CITATION_ANY_RE, comparable, split_sentences

CHARS_PER_TOKEN = 4
_LABEL_AT_START_RE = re.compile(r"(?:^|Note: )\[Ex\. ([A-Z]{1,2}), p\. (\d{1,4})\]", re.M)
_PART_RE = re.compile(r"Ex\.?\s*([A-Z]{1,2})\s*,\s*pp?\.\s*(\d{1,4})", re.I)
_JUDGE_KEY_RE = re.compile(r'"(\w+)": <1-5>')


@dataclass(frozen=True)
class ReferenceSentence:
    element_id: str
    paragraph: int  # index of its paragraph inside the element's section
    text: str  # as written in the reference, citations included
    pages: frozenset[tuple[str, int]]

    @property
    def key(self) -> str:
        return comparable(self.text)


def cited_pages(sentence: str) -> frozenset[tuple[str, int]]:
    out = set()
    for block in CITATION_ANY_RE.finditer(sentence):
        for m in _PART_RE.finditer(block.group(0)):
            out.add((m.group(1).upper(), int(m.group(2))))
    return frozenset(out)


def reference_sentences(markdown: str, titles: dict[str, str]) -> list[ReferenceSentence]:
    """The sentences of a reference declaration's element sections (`## <element title>`), in order.
    `titles` maps element id -> section title."""
    by_title = {t.casefold(): eid for eid, t in titles.items()}
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    out: list[ReferenceSentence] = []
    for title, body in zip(parts[1::2], parts[2::2]):
        eid = by_title.get(title.strip().casefold())
        if eid is None:
            continue
        paragraphs = [" ".join(p.split()) for p in body.split("\n\n") if p.strip()]
        for pi, para in enumerate(paragraphs):
            for s in split_sentences(para):
                out.append(ReferenceSentence(eid, pi, s, cited_pages(s)))
    return out


@dataclass(frozen=True)
class Seed:
    """A bad sentence the replay drafter slips into an element's answer. `kind` names what is wrong with it."""

    kind: str
    element_id: str
    text: str  # may hold {cite}: the label of the first passage shown for the element


@dataclass
class ReplayLog:
    """What the server saw and answered, per element."""

    shown: dict[str, set[tuple[str, int]]] = field(default_factory=lambda: defaultdict(set))
    served: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # element -> sentence keys
    seeds_served: list[Seed] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # role -> calls
    truncated: int = 0
    continuations: int = 0


class ReplayServer:
    """`with ReplayServer(sentences, titles) as server: ... server.base_url` (OpenAI-compatible, `/v1`)."""

    def __init__(self, sentences: list[ReferenceSentence], titles: dict[str, str], seeds: list[Seed] = (),
                 port: int = 0):
        self.sentences = list(sentences)
        self.titles = dict(titles)
        self.seeds = list(seeds)
        self.log = ReplayLog()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "ReplayServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- answers --------------------------------------------------------------------------------------------
    def answer(self, messages: list[dict[str, Any]]) -> tuple[str, str]:
        """(role, full answer) for one chat request."""
        system = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
        user = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
        keys = _JUDGE_KEY_RE.findall(user)
        if keys:
            scores: dict[str, Any] = {k: 5 for k in keys if k != "reasons"}
            scores["reasons"] = "Every fact is supported by the cited evidence, in the declarant's own voice."
            return "judge", json.dumps(scores)
        if "Current text:\n" in user:
            current = user.split("Current text:\n", 1)[1].split("\n\nPassages from my records", 1)[0]
            return "guard", current.strip()
        return "drafter", self._draft(system + "\n" + user)

    def _element(self, prompt: str) -> str | None:
        # The element the prompt is for: its "Section: <title>." line (capable) or "notes about <title>." (small);
        # only then any title in the text (case facts or a must-show text may name another element).
        by_title = {t.casefold(): eid for eid, t in self.titles.items()}
        for m in re.finditer(r"^Section: (.+?)\.$|notes about (.+?)\.", prompt, re.M):
            eid = by_title.get((m.group(1) or m.group(2)).strip().casefold())
            if eid:
                return eid
        folded = prompt.casefold()
        found = [(len(t), eid) for eid, t in self.titles.items() if t.casefold() in folded]
        return max(found)[1] if found else None

    def _draft(self, prompt: str) -> str:
        eid = self._element(prompt)
        if eid is None:
            return "I have nothing to add."
        head, _, so_far = prompt.partition(CONTINUE_MARKER)
        shown = {(m.group(1), int(m.group(2))) for m in _LABEL_AT_START_RE.finditer(head)}
        with self._lock:
            self.log.shown[eid] |= shown
        paragraphs: dict[int, list[str]] = defaultdict(list)
        for s in self.sentences:
            if s.element_id == eid and s.pages & shown:
                paragraphs[s.paragraph].append(s.text)
                with self._lock:
                    self.log.served[eid].add(s.key)
        first = sorted(shown)[0] if shown else None
        cite = f"[Ex. {first[0]}, p. {first[1]}]" if first else ""
        extra = [sd for sd in self.seeds if sd.element_id == eid]
        with self._lock:
            self.log.seeds_served += [sd for sd in extra if sd not in self.log.seeds_served]
        blocks = [" ".join(paragraphs[k]) for k in sorted(paragraphs)]
        blocks += [sd.text.replace("{cite}", cite) for sd in extra]
        full = "\n\n".join(blocks) or "I have nothing to add from these notes."
        if so_far:
            done = so_far.lstrip("\n")  # the answer so far, exactly as it was sent (trailing space included)
            with self._lock:
                self.log.continuations += 1
            return full[len(done):] if full.startswith(done) else full
        return full


def _cut(text: str, max_tokens: int | None) -> tuple[str, str]:
    if max_tokens is None or math.ceil(len(text) / CHARS_PER_TOKEN) <= max_tokens:
        return text, "stop"
    limit = max_tokens * CHARS_PER_TOKEN
    return text[:limit], "length"


def _handler(owner: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _json(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                return self._json(200, {"object": "list", "data": [{"id": "replay", "object": "model"}]})
            self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self._json(400, {"error": {"message": "invalid JSON"}})
            if not self.path.rstrip("/").endswith("/chat/completions"):
                return self._json(404, {"error": {"message": "not found"}})
            messages = body.get("messages") or []
            role, full = owner.answer(messages)
            max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
            text, finish = _cut(full, int(max_tokens) if max_tokens else None)
            with owner._lock:
                owner.log.calls[role] += 1
                owner.log.truncated += finish == "length"
            prompt_chars = sum(len(str(m.get("content") or "")) for m in messages)
            usage = {"prompt_tokens": math.ceil(prompt_chars / CHARS_PER_TOKEN),
                     "completion_tokens": math.ceil(len(text) / CHARS_PER_TOKEN)}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            cid, created, model = f"chatcmpl-replay-{time.monotonic_ns()}", int(time.time()), body.get("model", "replay")
            if not body.get("stream"):
                return self._json(200, {
                    "id": cid, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": finish}], "usage": usage})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            pieces = [text[i:i + 400] for i in range(0, len(text), 400)] or [""]
            for i, piece in enumerate(pieces):
                delta = {"content": piece, **({"role": "assistant"} if i == 0 else {})}
                self._event({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                             "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            self._event({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                         "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": usage})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _event(self, payload: dict[str, Any]) -> None:
            self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
            self.wfile.flush()

    return Handler
