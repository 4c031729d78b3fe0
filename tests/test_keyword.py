"""Keyword retrieval: user input never reaches FTS5 as syntax."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.filters import ChunkFilter
from index.generations import Home, LiveIndex
from index.models import Chunk, Document, Section
from index.store import Store
from ingest.pipeline import run_ingest
from search.keyword import KeywordRetriever, keyword_terms, match_expression
from search.searcher import Searcher

HOSTILE = [
    '"unbalanced', "a\"b", "NEAR(a b)", "NEAR(expense chair, 2)", "a AND OR", "AND", "OR NOT",
    "*", "expen*", "^expense", "(((", "())", "title:secret", "text:desk OR title:x", "{title text}:x",
    "-desk", "+chair", "desk:", ":", "\x00\x01", "日本語の質問", "кресло стол", "مكتب", "🙂 emoji",
    "x" * 10_000, "desk " * 3000, "", "   ", "\"\"", "''", "a'b", ";DROP TABLE chunks;--",
]


@pytest.fixture(scope="module", params=["impacts", "fts5"])
def store(tmp_path_factory, request):
    """The same little corpus searched through the stored impacts and (a store without
    them, as an older one) through FTS5's bm25()."""
    s = Store.open_write(tmp_path_factory.mktemp("kw") / "store.sqlite")
    docs = [
        ("d/1", "Expenses", "You can expense a desk and a chair for your home office."),
        ("d/2", "Travel", "Book flights through the travel portal; title: economy class."),
        ("d/3", "日本語", "日本語の質問 に答える"),
        ("d/4", "NEAR and AND", "Operators near the chair are just words here."),
    ]
    for doc_id, title, text in docs:
        doc = Document(id=doc_id, source="d", kind="wiki", title=title, sections=[Section(text)])
        s.put_document(doc, [Chunk(doc_id=doc_id, position=0, text=text, title=title)])
    if request.param == "impacts":
        s.refresh_impacts((1.0, 1.0, 1.0))
    assert (s.impact_info("chunks_fts") is not None) == (request.param == "impacts")
    yield s
    s.close()


def search(store: Store, q: str) -> list[int]:
    return [c for c, _ in KeywordRetriever().retrieve(store, q, 10)]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_queries_search_safely(store, q):
    search(store, q)  # must not raise


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_string_is_a_safe_query(store, q):
    ids = search(store, q)
    assert len(ids) == len(set(ids))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(['"', "(", ")", "*", "^", ":", "AND", "OR", "NOT", "NEAR", "+", "-",
                                 "title", "desk", "{", "}", ",", " "]), max_size=40))
def test_fts_operator_soup_is_safe(store, parts):
    search(store, "".join(parts))
    search(store, " ".join(parts))


def test_operators_are_plain_words(store):
    assert search(store, "NEAR") == [4]  # the word, not the operator
    assert set(search(store, "chair AND travel")) == {1, 2, 4}  # OR of terms, not AND
    assert search(store, "expen*") == []  # no prefix queries: "expen" is not a word here
    assert set(search(store, "title:desk")) == {1, 2}  # no column filter: "title" and "desk"


def test_stemming_and_non_latin(store):
    assert search(store, "chairs expensed") == [1, 4]  # porter stems; two terms beat one
    assert search(store, "日本語の質問") == [3]


def test_terms_and_expression():
    assert keyword_terms("The desk AND the chair!") == ["desk", "chair"]
    assert keyword_terms("the a") == ["the", "a"]  # only stop words: keep them
    assert match_expression('say "hi" (now)') == '"say" OR "hi" OR "now"'
    assert match_expression("!!! ???") is None
    assert len(keyword_terms("w" * 10_000)[0]) <= 64
    assert len(keyword_terms(" ".join(f"w{i}" for i in range(500)))) == 64


def test_searcher_survives_hostile_queries(settings, fake_embedder):
    run_ingest(settings, fake_embedder)
    s = Searcher(LiveIndex(Home(settings.home)), fake_embedder, settings.search)
    for q in HOSTILE:
        res = s.search(q)
        assert len(res.query) <= 2000
    assert s.search("title:expenses AND desk").hits[0].doc_id == "wiki/expenses.md"


WORDS = ("chair desk expense office travel flight portal economy report weekly running runs "
         "zeppelin hangar budget approval manager laptop monitor keyboard").split()


def _random_store(path, seed: int = 7) -> Store:
    """Chunks and documents of random lengths and words, in every column."""
    import random
    rnd = random.Random(seed)
    s = Store.open_write(path)
    for d in range(60):
        doc_id = f"r/{d}"
        chunks = [Chunk(doc_id=doc_id, position=p, title=" ".join(rnd.choices(WORDS, k=rnd.randint(1, 4))),
                        heading=" ".join(rnd.choices(WORDS, k=rnd.randint(0, 3))),
                        text=" ".join(rnd.choices(WORDS, k=rnd.randint(1, 80))))
                  for p in range(rnd.randint(1, 4))]
        doc = Document(id=doc_id, source="r", kind="wiki", title=chunks[0].title,
                       sections=[Section(c.text, heading=c.heading) for c in chunks])
        s.put_document(doc, chunks)
    return s


QUERIES = ["chair", "desk chair", "running runs ran", "zeppelin weekly report budget", "chair chair",
           "laptop monitor keyboard manager approval", "absent words only", "the chair of the desk"]


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0), (3.0, 0.5, 1.0)])
def test_stored_impacts_rank_as_fts5_bm25_does(tmp_path, weights):
    s = _random_store(tmp_path / "store.sqlite")
    s.refresh_impacts(weights)
    kr = KeywordRetriever(weights)
    for q in QUERIES:
        fts = s.keyword_search(match_expression(q), weights, 500)
        fast = kr.retrieve(s, q, 500)
        assert [c for c, _ in fast] == [c for c, _ in fts], q  # ties in rowid order, as FTS5
        assert [v for _, v in fast] == pytest.approx([v for _, v in fts], rel=1e-5), q
        fts_docs = dict(s.document_keyword_search(match_expression(q), 500))
        assert kr.retrieve_documents(s, q, 500) == pytest.approx(fts_docs, rel=1e-5), q
    # the best 5 of many are the first 5 of the full ranking
    assert kr.retrieve(s, "chair desk", 5) == kr.retrieve(s, "chair desk", 500)[:5]
    s.close()


def test_impacts_keep_to_the_filter_and_fall_back_to_fts5_when_they_cannot_answer(tmp_path):
    s = _random_store(tmp_path / "store.sqlite")
    s.refresh_impacts((1.0, 1.0, 1.0))
    flt = ChunkFilter(exclude_docs=tuple(f"r/{d}" for d in range(0, 60, 2)))
    allowed = set(s.allowed_chunk_ids(flt))
    hits = KeywordRetriever().retrieve(s, "chair desk", 500, flt)
    assert hits and {c for c, _ in hits} <= allowed
    assert hits == KeywordRetriever().retrieve(s, "chair desk", 500, flt, np.array(sorted(allowed)))
    assert [c for c, _ in hits] == [c for c, _ in s.keyword_search(match_expression("chair desk"), (1, 1, 1), 500, flt)]
    docs = KeywordRetriever().retrieve_documents(s, "chair desk", 500, flt)
    assert docs and all(int(d[2:]) % 2 == 1 for d in docs)
    # other column weights than the stored ones: FTS5 ranks, with the weights asked for
    other = KeywordRetriever((5.0, 1.0, 1.0)).retrieve(s, "chair", 500)
    assert other == s.keyword_search('"chair"', (5.0, 1.0, 1.0), 500)
    s.close()


def test_query_terms_become_fts5s_own_tokens():
    from index.impacts import stems
    assert stems("running") == ("run",)
    assert stems("Café") == ("cafe",)
    assert stems("!!") == ()
