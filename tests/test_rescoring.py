"""The second stage: complete evidence before fusion, and the optional cross-encoder."""

from __future__ import annotations

import numpy as np
import pytest

from index.generations import Home, LiveIndex
from ingest.pipeline import run_ingest
from search.rescoring import complete_evidence, exact_dense, passage_text
from search.searcher import Searcher


@pytest.fixture
def indexed(settings, fake_embedder):
    run_ingest(settings, fake_embedder)
    return settings


def test_exact_dense_is_the_best_chunk_cosine(indexed, fake_embedder):
    reader = Home(indexed.home).open_reader()
    q = fake_embedder.encode(["book flights travel portal"])[0]
    ids = reader.store.chunk_ids_of(["wiki/expenses.md"])["wiki/expenses.md"]
    sims = reader.vectors.reconstruct(ids) @ q
    score, chunk = exact_dense(reader, q, ["wiki/expenses.md", "wiki/missing.md"])["wiki/expenses.md"]
    assert score == pytest.approx(float(sims.max())) and chunk == ids[int(np.argmax(sims))]
    kw, dn = complete_evidence({"wiki/expenses.md": (3.0, ids[0])}, {"wiki/onboarding/laptop.md": (0.5, 99)},
                               exact_dense(reader, q, ["wiki/expenses.md"]))
    assert set(kw) == set(dn) == {"wiki/expenses.md", "wiki/onboarding/laptop.md"}
    assert kw["wiki/onboarding/laptop.md"][0] == 0.0
    assert dn["wiki/expenses.md"] == (pytest.approx(float(sims.max())), ids[int(np.argmax(sims))])
    reader.close()


def test_second_stage_changes_only_hybrid(indexed, fake_embedder):
    live = LiveIndex(Home(indexed.home))
    q = "deploy rollback release train"
    on = Searcher(live, fake_embedder, indexed.search).rank(q)
    indexed.search.rescore = False
    off = Searcher(live, fake_embedder, indexed.search).rank(q)
    assert {c.doc_id for c in on.candidates} == {c.doc_id for c in off.candidates}
    assert on.candidates[0].doc_id == "wiki/engineering/deploys.md"
    assert all(c.keyword is not None and c.dense is not None for c in on.candidates)


def _tiny_cross_encoder(path):
    """A 1-layer BERT with random weights and a 40-word vocabulary: no download."""
    transformers = pytest.importorskip("transformers")
    words = ("deploy deploys release train rollback tool tuesday laptop home expense desk chair "
             "travel flights portal new hires first day office receipt the a to and").split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    transformers.BertTokenizer(str(path / "vocab.txt")).save_pretrained(str(path))
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=32, num_labels=1)
    transformers.set_seed(0)
    transformers.BertForSequenceClassification(cfg).save_pretrained(str(path))
    return path


def test_cross_encoder_reorders_the_top(indexed, fake_embedder, tmp_path):
    model = _tiny_cross_encoder(tmp_path / "ce")
    indexed.search.cross_encoder, indexed.search.cross_encoder_top = str(model), 2
    s = Searcher(LiveIndex(Home(indexed.home)), fake_embedder, indexed.search)
    q = "deploy release train"
    ranking = s.rank(q)
    head = ranking.candidates[:2]
    from sentence_transformers import CrossEncoder

    ce = CrossEncoder(str(model), device="cpu")
    want = ce.predict([(q, passage_text(ranking.chunks[c.chunk_id])) for c in head])
    assert [c.score for c in head] == pytest.approx(sorted(map(float, want), reverse=True), abs=1e-5)
    assert len(s.search(q).hits) == 3


def test_missing_cross_encoder_folder_is_a_clear_error(indexed, fake_embedder, tmp_path):
    indexed.search.cross_encoder = str(tmp_path / "nope")
    with pytest.raises(ValueError, match="cross_encoder: model folder not found"):
        Searcher(LiveIndex(Home(indexed.home)), fake_embedder, indexed.search)


def test_best_in_segments_is_a_per_segment_argmax():
    import numpy as np

    from search.rescoring import best_in_segments
    rng = np.random.default_rng(3)
    for _ in range(50):
        counts = rng.integers(1, 6, rng.integers(1, 30))
        values = rng.integers(0, 4, counts.sum()).astype("float32")  # many ties
        got = best_in_segments(values, counts)
        start = 0
        for i, n in enumerate(counts):
            part = values[start : start + n]
            assert got[i] == (float(part.max()), start + int(np.argmax(part)))
            start += n
    values = np.array([1.0, np.nan, 0.5], dtype="float32")
    assert best_in_segments(values, np.array([1, 1, 1])) == {0: (1.0, 0), 2: (0.5, 2)}
