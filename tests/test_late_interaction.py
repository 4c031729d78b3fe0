"""Late interaction: token vectors kept at indexing, idf-weighted MaxSim in the second stage."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from index.generations import Home
from index.token_vectors import Tokens, pack, similarities, trimmed
from ingest.pipeline import run_ingest
from search import late_interaction
from search.candidates import Candidate

from .conftest import FakeEmbedder, count_rows, index_with_rows_per_chunk, rerun_without_a_page


class FakeTokenEmbedder(FakeEmbedder):
    """The fake bag of words, plus one vector per word (the same word, the same vector)."""

    def __init__(self) -> None:
        super().__init__()
        self.token_calls: list[str] = []

    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
        self.token_calls.extend(texts)
        out = []
        for t in texts:
            words = list(re.finditer(r"\w+|[^\w\s]", t.lower()))
            rows = [_word_vector("[CLS]"), *(_word_vector(m.group()) for m in words), _word_vector("[SEP]")]
            spans = [(0, 0), *(m.span() for m in words), (0, 0)]
            out.append(trimmed(np.vstack(rows), spans))
        return self.encode(texts), out


def _word_vector(word: str) -> np.ndarray:
    seed = int(hashlib.md5(word.encode()).hexdigest()[:8], 16)
    return np.random.default_rng(seed).standard_normal(64).astype("float32")


@pytest.fixture
def token_embedder() -> FakeTokenEmbedder:
    return FakeTokenEmbedder()


@pytest.mark.parametrize("dim", [384, 100])
def test_sign_bits_keep_which_token_is_closest(dim):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, dim)).astype("float32")
    noisy = x + 0.3 * rng.standard_normal(x.shape).astype("float32")
    sims = similarities(pack(x[:40]), noisy)  # queries x tokens
    assert sims.shape == (50, 40)
    assert np.allclose(sims, (np.sign(noisy) @ np.sign(x[:40]).T) / dim, atol=1e-6)  # cosine of the signs
    assert (sims[:40].argmax(1) == np.arange(40)).all()  # each noisy token is closest to its own


def test_indexing_keeps_each_chunks_token_vectors_and_drops_them_with_it(settings, token_embedder, wiki):
    rows = index_with_rows_per_chunk(settings, token_embedder, "chunk_tokens", "bits")
    for text, bits in rows:  # one row of sign bits per word piece of the embedded text (64 dims: 8 bytes)
        assert len(bits) // 8 >= len(re.findall(r"\w+", text))

    rerun_without_a_page(settings, wiki, token_embedder, "chunk_tokens", token_embedder.token_calls)


def test_off_keeps_no_token_vectors_and_turning_it_on_adds_them(settings, token_embedder):
    settings.search.late_interaction = 0.0
    run_ingest(settings, token_embedder)
    reader = Home(settings.home).open_reader()
    assert count_rows(reader.store.db, "chunk_tokens") == 0 and token_embedder.token_calls == []
    reader.close()

    settings.search.late_interaction = 0.3  # the next run re-stores every chunk with its tokens
    run_ingest(settings, token_embedder)
    reader = Home(settings.home).open_reader()
    assert count_rows(reader.store.db, "chunk_tokens") == count_rows(reader.store.db, "chunks") > 0
    reader.close()


def test_query_word_pieces_are_weighted_by_idf(settings, token_embedder):
    run_ingest(settings, token_embedder)
    reader = Home(settings.home).open_reader()
    query = "the rollback ."
    _, (toks,) = token_embedder.encode_with_tokens([query])
    w = late_interaction.query_weights(reader, query, toks)
    the, rollback, dot = w
    assert dot == 0.0  # punctuation counts for nothing
    assert rollback > the > 0  # a rare word over one in most pages
    assert w.sum() == pytest.approx(1.0)
    reader.close()


def test_late_interaction_lifts_the_document_with_the_querys_words(settings, token_embedder, monkeypatch):
    run_ingest(settings, token_embedder)
    reader = Home(settings.home).open_reader()
    query = "rollbacks deploy tool"
    _, (toks,) = token_embedder.encode_with_tokens([query])
    ids = reader.store.chunk_ids_of(["wiki/expenses.md", "wiki/engineering/deploys.md"])
    cands = [Candidate("wiki/expenses.md", ids["wiki/expenses.md"][0], score=1.0),
             Candidate("wiki/engineering/deploys.md", ids["wiki/engineering/deploys.md"][0], score=0.9)]
    same = late_interaction.rescore(reader, query, toks, [Candidate(**vars(c)) for c in cands], 0.0, 30)
    assert [c.doc_id for c in same] == ["wiki/expenses.md", "wiki/engineering/deploys.md"]
    moved = late_interaction.rescore(reader, query, toks, [Candidate(**vars(c)) for c in cands], 0.3, 30)
    assert [c.doc_id for c in moved] == ["wiki/engineering/deploys.md", "wiki/expenses.md"]
    assert moved[0].score == pytest.approx(0.9 + 0.3)

    # a document indexed without token vectors: the ranking is left as fused
    stored = late_interaction.token_vectors.get
    missing = set(ids["wiki/engineering/deploys.md"])
    monkeypatch.setattr(late_interaction.token_vectors, "get",
                        lambda db, chunk_ids: {i: b for i, b in stored(db, chunk_ids).items() if i not in missing})
    kept = late_interaction.rescore(reader, query, toks, [Candidate(**vars(c)) for c in cands], 0.3, 30)
    assert [c.score for c in kept] == [1.0, 0.9]
    reader.close()


@pytest.mark.parametrize("query", ['"', "deploy AND NEAR(tool", "*", "((( )", "。、！", "日本語の検索 deploy",
                                   "rollback " * 2000, "\x00\u202e tool"])
def test_hostile_queries_search_with_late_interaction(settings, token_embedder, query):
    from index.generations import LiveIndex
    from search.searcher import Searcher

    run_ingest(settings, token_embedder)
    results = Searcher(LiveIndex(Home(settings.home)), token_embedder, settings.search).search(query)
    assert all(h.doc_id.startswith("wiki/") for h in results.hits)


def test_search_adds_late_interaction_to_the_fused_scores_of_the_top(settings, token_embedder):
    from index.generations import LiveIndex
    from search.searcher import Searcher

    settings.search.sentence_weight = 0.0  # late interaction alone
    run_ingest(settings, token_embedder)
    live = LiveIndex(Home(settings.home))
    on = Searcher(live, token_embedder, settings.search).rank("rollbacks use the deploy tool").candidates
    assert on[0].doc_id == "wiki/engineering/deploys.md"
    added = [c.score - c.fused for c in on]
    assert max(added) == pytest.approx(0.3) and min(added) == pytest.approx(0.0)  # min-max over the top
    settings.search.late_interaction = 0.0
    off = Searcher(live, token_embedder, settings.search).rank("rollbacks use the deploy tool").candidates
    assert all(c.score == c.fused for c in off)


def test_evaluation_encodes_each_querys_tokens_once_ahead(tmp_path, token_embedder, monkeypatch):
    """``eval retrieval`` encodes the queries' token vectors in one batch before it times the
    methods, so the configured row's ms/q is search, as for the others (whose query vectors
    come from the cache), and the ranking is the one a query encoded alone gets."""
    from pathlib import Path

    from index.settings import Settings
    from search.evaluation import runner
    from search.evaluation.beir import load_beir

    data = load_beir(Path(__file__).parent / "fixtures/handbook-judged", "test")
    queries = list(data.queries.values())
    calls = token_embedder.token_calls  # the corpus's chunks too, at indexing
    while_searching: list[str] = []
    rank = runner.Searcher.rank

    def counting_rank(self, *args, **kwargs):
        before = len(calls)
        try:
            return rank(self, *args, **kwargs)
        finally:
            while_searching.extend(calls[before:])

    monkeypatch.setattr(runner.Searcher, "rank", counting_rank)
    ahead = runner.evaluate(data, Settings(home=tmp_path / "unused"), token_embedder,
                            cache=tmp_path / "cache.sqlite", progress=False)
    assert all(calls.count(q) == 1 for q in queries) and while_searching == []
    # without encoding ahead, each query is encoded when it is searched: the same ranking
    calls.clear()
    monkeypatch.setattr(runner.CachedEmbedder, "prepare_tokens", lambda self, texts: None)
    alone = runner.evaluate(data, Settings(home=tmp_path / "unused"), token_embedder,
                            cache=tmp_path / "cache.sqlite", progress=False)
    assert set(while_searching) == set(queries)  # by every method with late interaction on
    assert [r.scores for r in alone.results] == [r.scores for r in ahead.results]


def test_both_second_stage_steps_read_each_top_documents_shown_chunk_and_next_listed_once(
        settings, token_embedder, monkeypatch):
    from index import sentences
    from index.doc_map import DocMap
    from index.generations import LiveIndex
    from search import candidates
    from search.searcher import Searcher

    settings.chunking.size, settings.chunking.overlap = 80, 0  # several chunks a page: some left unread
    settings.search.sentence_weight = 0.1
    run_ingest(settings, token_embedder)
    read: dict[str, list[int]] = {}
    listed: list[list[str]] = []
    for name, module in (("tokens", late_interaction.token_vectors), ("sentences", sentences)):
        def recording(db, chunk_ids, _get=module.get, _name=name):
            read[_name] = list(chunk_ids)
            return _get(db, chunk_ids)
        monkeypatch.setattr(module, "get", recording)
    chunks_of = DocMap.chunks_of
    monkeypatch.setattr(DocMap, "chunks_of", lambda self, ids: listed.append(list(ids)) or chunks_of(self, ids))

    live = LiveIndex(Home(settings.home))
    top = Searcher(live, token_embedder, settings.search).rank("rollbacks use the deploy tool").candidates[:30]
    assert read["tokens"] and sorted(read["tokens"]) == sorted(read["sentences"])
    assert len(listed) == 1  # the chunk lists are made once, for both steps
    docs = live.get().docs()
    per_doc = docs.chunks_of([c.doc_id for c in top])
    want = {i for c in top for i in [c.chunk_id, *[x for x in per_doc[c.doc_id] if x != c.chunk_id][:1]]}
    assert set(read["tokens"]) == want
    assert candidates.SECOND_STAGE_CHUNKS == 2 and any(len(v) > 2 for v in per_doc.values())
