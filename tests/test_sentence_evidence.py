"""Sentence evidence: chunks' sentences encoded and kept at indexing, the best one's cosine in
the second stage."""

from __future__ import annotations

import numpy as np
import pytest

from index import sentences
from index.generations import Home
from index.sentences import chunk_sentences, split_sentences
from ingest.pipeline import run_ingest
from search import sentence_evidence
from search.candidates import Candidate

from .conftest import count_rows, index_with_rows_per_chunk, rerun_without_a_page


def test_sentences_end_before_a_capital_not_inside_abbreviations_or_code():
    text = ("Use e.g. the deploy tool, or call deploy.run() yourself. Then wait five minutes or so!\n"
            "- A list item of its own line\n"
            "この文は二十文字を超える長さの日本語の文章になっています。次の文も同じように十分な長さがある日本語の文です。")
    assert split_sentences(text) == [
        "Use e.g. the deploy tool, or call deploy.run() yourself.", "Then wait five minutes or so!",
        "A list item of its own line", "この文は二十文字を超える長さの日本語の文章になっています。",
        "次の文も同じように十分な長さがある日本語の文です。"]


def test_every_chunk_has_a_sentence_even_without_a_long_one():
    assert chunk_sentences("Ask IT.") == ["Ask IT."]
    assert chunk_sentences("  \n ") == []
    long = "word " * 400
    assert [len(s) for s in chunk_sentences(long)] == [1000]  # cut where the encoder stops reading


@pytest.mark.parametrize("dim", [384, 64])
def test_eight_bit_codes_keep_the_cosines(dim):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, dim)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[:20] + 0.5 * rng.standard_normal((20, dim)).astype("float32")
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    blob = sentences.pack(x)
    assert len(blob) == 200 * dim
    back = np.array([sentences.cosines(blob, dim, row) for row in q]).T
    assert np.abs(back - x @ q.T).max() < 0.02
    assert (back.argmax(axis=0) == (x @ q.T).argmax(axis=0)).all()


def test_indexing_keeps_each_chunks_sentences_and_removes_them_with_the_page(settings, wiki, fake_embedder):
    rows = index_with_rows_per_chunk(settings, fake_embedder, "chunk_sentences", "codes")
    assert all(len(codes) == len(chunk_sentences(text)) * fake_embedder.dim for text, codes in rows)

    rerun_without_a_page(settings, wiki, fake_embedder, "chunk_sentences", fake_embedder.encoded)


def test_off_encodes_no_sentences_and_turning_it_on_adds_them_from_one_encoding(settings, fake_embedder):
    settings.search.sentence_weight = 0.0
    rec = run_ingest(settings, fake_embedder)
    reader = Home(settings.home).open_reader()
    chunks = [r[0] for r in reader.store.db.execute("SELECT text FROM chunks")]
    assert count_rows(reader.store.db, "chunk_sentences") == 0 and rec.sentences_embedded == 0
    assert len(fake_embedder.encoded) == len(chunks)
    reader.close()

    settings.search.sentence_weight = 0.2  # the next run re-stores every chunk with its sentences
    fake_embedder.encoded.clear()
    rec = run_ingest(settings, fake_embedder)
    reader = Home(settings.home).open_reader()
    assert count_rows(reader.store.db, "chunk_sentences") == count_rows(reader.store.db, "chunks")
    wanted = {s for t in chunks for s in chunk_sentences(t)}
    assert set(fake_embedder.encoded) == wanted  # the chunks' own vectors came from the cache
    assert rec.sentences_embedded == len(wanted)
    reader.close()


def test_the_document_with_the_best_matching_sentence_is_lifted(settings, fake_embedder, monkeypatch):
    run_ingest(settings, fake_embedder)
    reader = Home(settings.home).open_reader()
    query = "file the receipt in the expense tool within 60 days"
    qvec = fake_embedder.encode([query])[0]
    ids = reader.store.chunk_ids_of(["wiki/expenses.md", "wiki/engineering/deploys.md"])
    cands = [Candidate("wiki/engineering/deploys.md", ids["wiki/engineering/deploys.md"][0], score=1.0),
             Candidate("wiki/expenses.md", ids["wiki/expenses.md"][0], score=0.9)]

    def fresh():
        return [Candidate(**vars(c)) for c in cands]

    same = sentence_evidence.rescore(reader, qvec, fresh(), 0.0, 30)
    assert [c.score for c in same] == [1.0, 0.9]
    moved = sentence_evidence.rescore(reader, qvec, fresh(), 0.2, 30)
    assert [c.doc_id for c in moved] == ["wiki/expenses.md", "wiki/engineering/deploys.md"]
    assert [c.score for c in moved] == pytest.approx([0.9 + 0.2, 1.0])  # min-max over the top
    only_first = sentence_evidence.rescore(reader, qvec, fresh(), 0.2, 1)  # one document: nothing to compare
    assert [c.score for c in only_first] == [1.0, 0.9]
    other_model = np.full(384, 384 ** -0.5, dtype="float32")  # a query encoded by a model of another size
    assert [c.score for c in sentence_evidence.rescore(reader, other_model, fresh(), 0.2, 30)] == [1.0, 0.9]

    # a document indexed without sentence vectors: the ranking is left as fused
    stored = sentence_evidence.sentences.get
    missing = set(ids["wiki/expenses.md"])
    monkeypatch.setattr(sentence_evidence.sentences, "get",
                        lambda db, chunk_ids: {i: b for i, b in stored(db, chunk_ids).items() if i not in missing})
    kept = sentence_evidence.rescore(reader, qvec, fresh(), 0.2, 30)
    assert [c.score for c in kept] == [1.0, 0.9]
    reader.close()


def test_search_adds_sentence_evidence_after_fusion_only_in_hybrid_mode(settings, fake_embedder):
    from index.generations import LiveIndex
    from search.searcher import Searcher

    settings.search.late_interaction, settings.search.sentence_weight = 0.0, 0.2  # sentence evidence alone
    run_ingest(settings, fake_embedder)
    live = LiveIndex(Home(settings.home))
    query = "expense tool receipt"
    on = Searcher(live, fake_embedder, settings.search).rank(query).candidates
    added = [c.score - c.fused for c in on]
    assert max(added) == pytest.approx(0.2) and min(added) == pytest.approx(0.0)
    settings.search.sentence_weight = 0.0
    off = Searcher(live, fake_embedder, settings.search).rank(query).candidates
    assert all(c.score == c.fused for c in off)
    settings.search.sentence_weight, settings.search.mode = 0.2, "dense"
    dense = Searcher(live, fake_embedder, settings.search).rank(query).candidates
    assert all(c.score == c.fused for c in dense)
