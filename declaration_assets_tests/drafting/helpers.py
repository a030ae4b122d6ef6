"""Hand-built case values for drafting and judging tests (no PDFs, no embeddings)."""

from __future__ import annotations

import re

import numpy as np

from declaration_assets.cases.models import CaseRecord
from declaration_assets.extraction.models import DocumentInfo, ExtractedCase, PageText
from declaration_assets.retrieval.models import Chunk, ScoredChunk

PAGES = {
    ("01-intake.pdf", 1): "I met Ricardo in February 2018 at church in Houston. He played guitar with the band.",
    ("01-intake.pdf", 2): "Ricardo pushed me against the wall on April 23, 2023 and I called the police.",
    ("02-marriage-certificate.pdf", 1): "Marriage Certificate. Ricardo Benitez and Lucia Montoya were married on "
    "June 15, 2019 in Harris County, Texas.",
    ("03-lease.pdf", 1): "Residential lease for 2215 Calloway Street, Apt 14B, Houston. Tenants: Ricardo Benitez "
    "and Lucia Montoya. We moved in on July 1, 2019.",
}
DOCS = [
    DocumentInfo(name="01-intake.pdf", title="Intake Questionnaire", pages=2, exhibit="A"),
    DocumentInfo(name="02-marriage-certificate.pdf", title="Marriage Certificate", pages=1, exhibit="B"),
    DocumentInfo(name="03-lease.pdf", title="Residential Lease", pages=1, exhibit="C"),
]
LETTERS = {d.name: d.exhibit for d in DOCS}


def record(language: str = "en") -> CaseRecord:
    return CaseRecord.model_validate(
        {
            "case_id": "vawa-0001",
            "case_type": "vawa",
            "language": language,
            "parties": [
                {"role": "declarant", "name": "Lucia Montoya", "citizenship": "Colombia"},
                {"role": "abuser", "name": "Ricardo Benitez", "relationship": "husband"},
            ],
        }
    )


def extracted() -> ExtractedCase:
    return ExtractedCase(
        case_id="vawa-0001",
        documents=DOCS,
        pages=[PageText(document=d, page=p, method="text", language="en", text=t) for (d, p), t in PAGES.items()],
    )


def chunks() -> list[Chunk]:
    out = []
    for i, ((doc, page), text) in enumerate(PAGES.items()):
        out.append(Chunk(chunk_id=f"{LETTERS[doc]}-p{page}-0", document=doc, exhibit=LETTERS[doc], page=page,
                         start=0, end=len(text), heading=None, text=text))
    return out


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 3}


def keyword_search(k: int = 3):
    """A deterministic stand-in for embedding search: passages ranked by shared words with the query."""
    cs = chunks()

    def search(query: str) -> list[ScoredChunk]:
        q = words(query)
        scored = [(len(q & words(c.text)) / (len(q) or 1), i, c) for i, c in enumerate(cs)]
        scored = [s for s in scored if s[0] > 0]
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [ScoredChunk(chunk=c, score=float(s), rank=r) for r, (s, _, c) in enumerate(scored[:k], start=1)]

    return search


class HashEmbedder:
    """Bag-of-words vectors (hashed), normalised: enough to exercise a real FAISS index in tests."""

    dim = 64

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in words(t):
                out[i, sum(map(ord, w)) % self.dim] += 1.0
            n = np.linalg.norm(out[i])
            if n:
                out[i] /= n
        return out


# ---------------------------------------------------------------------------------------------------------------
# A router resource that hands calls to a scripted client. Dagster rebuilds resources from their config for a run,
# so the client is looked up by a config key instead of living in a private attribute.

_CLIENTS: dict[str, object] = {}


def fake_router(client: object):
    from declaration_assets.llm.resources import LLMRouter

    class ScriptedRouter(LLMRouter):
        client_key: str

        def _client_obj(self):
            return _CLIENTS[self.client_key]

        def setup_for_execution(self, context) -> None:  # no routing file, no engine
            pass

        def teardown_after_execution(self, context) -> None:
            pass

        def complete(self, role, prompt, ctx):
            return self._client_obj().complete(role, prompt, ctx)

        def judge_roles(self, model_config):
            return self._client_obj().judge_roles(model_config)

        def role_description(self, model_config, role):
            return self._client_obj().role_description(model_config, role)

    key = f"client-{id(client)}"
    _CLIENTS[key] = client
    return ScriptedRouter(client_key=key, use_cache=False)
