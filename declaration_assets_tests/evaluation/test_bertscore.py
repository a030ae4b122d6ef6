"""BERTScore in parts: sections aligned by title, long sections scored in windows, aggregated by length."""

from __future__ import annotations

import re

import pytest

from declaration_assets.drafting.models import Draft, Section
from declaration_assets.evaluation.bertscore import (
    AlignedSection,
    align_sections,
    default_model,
    BertScoreScorer,
    parse_reference,
    score_sections,
    windows,
)


class OverlapScorer:
    """Word-overlap stand-in for BERTScore (P = shared/candidate words, R = shared/reference words); records calls."""

    name = "overlap"

    def __init__(self):
        self.calls: list[tuple[list[str], list[str]]] = []

    def score(self, candidates, references):
        self.calls.append((list(candidates), list(references)))
        out = []
        for c, r in zip(candidates, references):
            cw, rw = set(c.split()), set(r.split())
            p, rc = len(cw & rw) / len(cw), len(cw & rw) / len(rw)
            out.append((p, rc, 0.0 if p + rc == 0 else 2 * p * rc / (p + rc)))
        return out


def words(prefix: str, n: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_windows_cover_every_word_in_near_equal_parts():
    text = words("w", 700)
    ws = windows(text, 300)
    assert len(ws) == 3 and " ".join(ws) == text
    assert max(len(w.split()) for w in ws) - min(len(w.split()) for w in ws) <= 1
    assert windows("", 300) == [] and windows("a b", 300) == ["a b"]


def test_long_section_is_scored_in_several_windows_and_the_tail_counts():
    head, tail, other = words("h", 300), words("t", 300), words("x", 300)
    aligned = [AlignedSection("abuse", "Battery or Extreme Cruelty", f"{head} {other}", f"{head} {tail}")]
    scorer = OverlapScorer()
    result = score_sections(aligned, scorer, window_words=300)
    (cands, refs), = scorer.calls
    assert len(cands) == 4  # 2 candidate windows x 2 reference windows, in one batch
    s = result.sections[0]
    assert (s.candidate_windows, s.reference_windows) == (2, 2)
    # Half the candidate matches the reference and half the reference is covered: the tail is not ignored.
    assert s.precision == pytest.approx(0.5) and s.recall == pytest.approx(0.5)


def test_alignment_by_title_and_length_weighted_aggregate():
    draft = Draft(case_id="vawa-0002", model_config_name="default", case_type="vawa", declarant_name="X", language="en",
                  prompt_version="t", exhibits=[], sections=[
                      Section(kind="introduction", title="Introduction", paragraphs=[words("i", 10)]),
                      Section(kind="element", element_id="abuse", title="Abuse (model's own title)",
                              paragraphs=[words("a", 100) + " [Ex. A, p. 1]"]),
                      Section(kind="element", element_id="good_faith_marriage", title="Good-Faith Marriage",
                              paragraphs=[words("zz", 30)]),
                  ])
    reference = parse_reference(
        "# Declaration of X\n\n" + words("i", 10) + "\n\n## Battery or Extreme Cruelty\n\n" + words("a", 100)
        + " [Ex. B, p. 2]\n\n## Good Moral Character\n\n" + words("m", 50) + "\n\n## Exhibit List\n\n- Exhibit A\n"
    )
    assert [t for t, _ in reference] == ["Introduction", "Battery or Extreme Cruelty", "Good Moral Character"]
    titles = {"abuse": "Battery or Extreme Cruelty", "good_faith_marriage": "Good-Faith Marriage"}
    aligned = align_sections(draft, reference, titles)
    by_key = {a.key: a for a in aligned}
    assert by_key["abuse"].reference == words("a", 100)  # matched by the element's title, citations removed
    assert by_key["good_faith_marriage"].reference == ""  # not in the reference
    assert by_key["good_moral_character"].candidate == ""  # missing from the declaration
    result = score_sections(aligned, OverlapScorer())
    status = {s.key: s.status for s in result.sections}
    assert status == {"introduction": "scored", "abuse": "scored", "good_faith_marriage": "not_in_reference",
                      "good_moral_character": "missing_in_declaration"}
    # Recall is weighted by reference words: 110 of 160 reference words are covered perfectly.
    assert result.recall == pytest.approx(110 / 160)
    assert result.precision == pytest.approx(1.0)


def test_the_attestation_pairs_with_the_references_closing():
    draft = Draft(case_id="vawa-0001", model_config_name="default", case_type="vawa", declarant_name="X", language="en",
                  prompt_version="t", exhibits=[], sections=[
                      Section(kind="closing", title="Attestation", paragraphs=[words("c", 20)]),
                  ])
    reference = parse_reference("# Declaration of X\n\n## Closing\n\n" + words("c", 20) + "\n")
    (closing,) = align_sections(draft, reference, {})
    assert (closing.key, closing.title, closing.reference) == ("closing", "Closing", words("c", 20))
    assert score_sections([closing], OverlapScorer()).sections[0].status == "scored"


def test_real_bertscore_scores_beyond_the_512_token_cut():
    """With the offline MiniLM model: a difference after the first 512 tokens still lowers the score."""
    from declaration_assets_tests.checks.fixtures import REFERENCES

    ref = dict(parse_reference((REFERENCES / "vawa-0002.md").read_text(encoding="utf-8")))
    abuse = ref["Battery or Extreme Cruelty"]
    assert len(abuse.split()) > 600
    n = len(abuse.split())
    head = " ".join(abuse.split()[: n // 2])
    unrelated = " ".join(["The weather report for the coastal region predicts light rain and mild winds."] * 40)
    path, layers = default_model()
    scorer = BertScoreScorer(path, layers)
    same = score_sections([AlignedSection("abuse", "A", abuse, abuse)], scorer).sections[0]
    changed = score_sections([AlignedSection("abuse", "A", head + " " + unrelated, abuse)], scorer).sections[0]
    assert same.candidate_windows >= 2 and same.f1 == pytest.approx(1.0, abs=1e-3)
    assert changed.f1 < same.f1 - 0.05  # one-shot scoring truncated at 512 tokens would see (almost) no difference
    assert re.search(r"layer 6", scorer.name)
