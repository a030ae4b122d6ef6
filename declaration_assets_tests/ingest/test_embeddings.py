"""Embeddings: the packaged MiniLM offline, normalized, cached by content hash; the FAISS index and retrieval."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from declaration_assets.retrieval import embeddings as emb
from declaration_assets.retrieval.embeddings import Embedder, EmbeddingCache, content_key
from declaration_assets.retrieval.index import build_chunk_index, embedding_input, retrieve, retrieve_many
from declaration_assets.retrieval.models import Chunk

from .test_chunking import _case, _page

TEXTS = [
    "We were married on June 5, 2018 at the Dallas County courthouse.",
    "He pushed me against the wall and took my phone.",
    "The lease lists both of us as tenants of Apartment 12.",
]


def test_vectors_are_normalized_and_equal_to_the_models_own(tmp_path: Path) -> None:
    e = Embedder(cache_dir=str(tmp_path))
    vectors, stats = e.embed_with_stats(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert stats.computed == 3 and stats.cache_hits == 0
    reference = e.model().encode(TEXTS, normalize_embeddings=True)
    assert np.allclose(vectors, reference, atol=1e-5)
    assert e.model_name == "all-MiniLM-L6-v2" and e.dim == 384


def test_unchanged_text_is_never_embedded_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = Embedder(cache_dir=str(tmp_path)).embed_with_stats(TEXTS)

    def no_model(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the model was used although every text is cached")

    monkeypatch.setattr(emb, "load_model", no_model)
    again, stats = Embedder(cache_dir=str(tmp_path)).embed_with_stats([TEXTS[2], TEXTS[0], TEXTS[0]])
    assert stats.computed == 0 and stats.cache_hits == 2 and stats.unique_texts == 2 and stats.texts == 3
    assert np.array_equal(again, first[[2, 0, 0]])


def test_only_new_texts_reach_the_model(tmp_path: Path) -> None:
    e = Embedder(cache_dir=str(tmp_path))
    e.embed(TEXTS[:2])
    _, stats = e.embed_with_stats(TEXTS)
    assert (stats.cache_hits, stats.computed) == (2, 1)
    assert EmbeddingCache(tmp_path).count() == 3


def test_cache_keys_depend_on_model_and_text_and_cache_can_be_off(tmp_path: Path) -> None:
    assert content_key("m1", "x") != content_key("m2", "x") != content_key("m1", "y")
    e = Embedder(cache_dir="")
    _, s1 = e.embed_with_stats(TEXTS[:1])
    _, s2 = e.embed_with_stats(TEXTS[:1])
    assert s1.computed == s2.computed == 1


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Embedder(model_path=str(tmp_path / "nope"), cache_dir="").embed(["x"])


def test_index_survives_pickling_and_finds_the_right_passage(embedder: Embedder) -> None:
    case = _case(
        _page("Marriage Certificate\n\nJohn and Ana were married on June 5, 2018 in Dallas, Texas.", document="m.pdf"),
        _page("Lease\n\nBoth spouses rent Apartment 12 at 4410 Maple Avenue from July 2018.", document="l.pdf"),
        _page("Police Report\n\nOfficers arrested the husband for assault after he choked her.", document="p.pdf"),
    )
    index, stats = build_chunk_index(case, embedder)
    assert stats.texts == 3 and index.dim == 384 and index.case_id == "vawa-0009"
    restored = pickle.loads(pickle.dumps(index))
    top = retrieve(restored, embedder, "when did the wedding take place", k=2)
    assert [s.rank for s in top] == [1, 2]
    assert top[0].chunk.document == "m.pdf" and top[0].chunk.citation() == "[Ex. A, p. 1]"
    assert top[0].score >= top[1].score
    assert restored == index  # a deserialized live index does not change the value
    arrest = retrieve(restored, embedder, "arrest for domestic violence", k=1)[0]
    assert arrest.chunk.document == "p.pdf"
    many = retrieve_many(restored, embedder, ["wedding date", "where did they live together"], k=2)
    assert {s.chunk.document for s in many} == {"m.pdf", "l.pdf"}


def test_retrieval_refuses_an_index_from_another_model(embedder: Embedder, tmp_path: Path) -> None:
    case = _case(_page("Some passage of text about a marriage."))
    index, _ = build_chunk_index(case, embedder)
    other = Embedder(model_path=str(tmp_path / "another-model"), cache_dir="")
    with pytest.raises(ValueError, match="rebuild chunk_index"):
        retrieve(index, other, "marriage")
    with pytest.raises(ValueError, match="empty"):
        retrieve(index, embedder, "   ")


def test_embedding_input_adds_title_and_heading_once() -> None:
    c = Chunk(chunk_id="B-p2-0", document="m.pdf", exhibit="B", page=2, start=0, end=10, heading="Recording",
              text="Recorded on June 12, 2018.")
    assert embedding_input(c, "Marriage Certificate") == "Marriage Certificate\nRecording\nRecorded on June 12, 2018."
    c2 = c.model_copy(update={"text": "Recording\n\nRecorded on June 12, 2018."})
    assert embedding_input(c2, None) == c2.text
