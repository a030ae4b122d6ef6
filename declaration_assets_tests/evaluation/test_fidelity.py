"""The replay deployment (a real local HTTP server) and the fidelity benchmark on one sample case."""

from __future__ import annotations

import json
import urllib.request

import pytest

from declaration_assets import settings
from declaration_assets.drafting import prompts
from declaration_assets.evaluation.replay import ReplayServer, Seed, reference_sentences

REFERENCE = """# Declaration of X

## Qualifying Relationship

I married Ricardo on June 15, 2019 [Ex. B, p. 1]. He is a citizen [Ex. C, p. 1; Ex. B, p. 2].

We lived at 2215 Calloway Street, Apt 14B [Ex. C, p. 1].

## Battery or Extreme Cruelty

He pushed me on April 23, 2023 [Ex. A, p. 2].
"""
TITLES = {"qualifying_relationship": "Qualifying Relationship", "abuse": "Battery or Extreme Cruelty"}


def chat(base: str, user: str, max_tokens: int | None = None) -> dict:
    body = {"model": "replay", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": user}]}
    if max_tokens:
        body["max_tokens"] = max_tokens
    req = urllib.request.Request(f"{base}/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_replay_serves_the_reference_sentences_whose_pages_were_shown_cuts_at_max_tokens_and_continues():
    sentences = reference_sentences(REFERENCE, TITLES)
    assert [s.pages for s in sentences][1] == frozenset({("C", 1), ("B", 2)})
    seeds = [Seed("staff_note", "qualifying_relationship", "Staff to confirm it {cite}.")]
    with ReplayServer(sentences, TITLES, seeds) as server:
        prompt = "Section: Qualifying Relationship.\n\n[Ex. C, p. 1] lease text\n\n[Ex. Q, p. 9] other"
        answer = chat(server.base_url, prompt)["choices"][0]
        assert answer["finish_reason"] == "stop"
        assert answer["message"]["content"] == ("He is a citizen [Ex. C, p. 1; Ex. B, p. 2].\n\n"
                                                "We lived at 2215 Calloway Street, Apt 14B [Ex. C, p. 1].\n\n"
                                                "Staff to confirm it [Ex. C, p. 1].")
        cut = chat(server.base_url, prompt, max_tokens=10)
        head = cut["choices"][0]["message"]["content"]
        assert cut["choices"][0]["finish_reason"] == "length" and len(head) == 40
        rest = chat(server.base_url, prompt + "\n\n" + prompts.CONTINUE_MARKER + "\n" + head)
        assert head + rest["choices"][0]["message"]["content"] == answer["message"]["content"]
        judge = chat(server.base_url, 'Reply with only this JSON object:\n{"voice": <1-5>, "facts": <1-5>}')
        assert json.loads(judge["choices"][0]["message"]["content"])["voice"] == 5
        guard = chat(server.base_url, "Current text:\nI was hit [Ex. A, p. 1].\n\nPassages from my records ...")
        assert guard["choices"][0]["message"]["content"] == "I was hit [Ex. A, p. 1]."
        assert server.log.served["qualifying_relationship"] == {sentences[1].key, sentences[2].key}


@pytest.mark.integration
@pytest.mark.timeout(1800)
def test_fidelity_benchmark_on_one_case_meets_its_targets(tmp_path):
    """The real assets with the capable profile keep a perfect drafter's text and still refuse the seeded bad
    sentences (docs/BENCHMARKS.md, "Fidelity", has the three-case figures)."""
    from declaration_assets.evaluation.fidelity import SEED_KINDS, run_case

    before = settings.current().outputs_dir
    result = run_case("vawa-0001", tmp_path, profile="capable")
    assert settings.current().outputs_dir == before  # the benchmark's folders were put back
    assert result.shown >= 60
    assert result.survival >= 0.9, result.dropped
    assert result.status == "READY", result.reasons
    assert result.f1 is not None and result.f1 >= 0.8
    for kind in SEED_KINDS:
        caught, served = result.seeds[kind]
        assert served >= 1 and caught == served, (kind, caught, served)
    assert result.tokens["prompt"] > 0 and result.cost_usd > 0
