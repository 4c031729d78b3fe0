"""Filters (source, kind, author, tag, dates, groups) applied inside retrieval; facets;
more like this; the API and page parameters."""

from __future__ import annotations

import json
from datetime import date

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.filters import ChunkFilter
from index.generations import Home, LiveIndex
from index.settings import SourceSettings
from ingest.pipeline import run_ingest
from search.searcher import Searcher
from web.app import create_app

from .conftest import write


@pytest.fixture
def indexed(settings, wiki, tmp_path, fake_embedder):
    write(wiki / "secret.md", "---\nvisible_to: [eng]\nauthor: Dan Dev\n---\n# Desk policy for "
          "engineers\n\nEngineers get a standing desk and a chair.\n")
    corpus = tmp_path / "papers"
    rows = [{"_id": "p1", "title": "Ergonomics", "text": "A study of office furniture."},
            {"_id": "p2", "title": "Sleep", "text": "Sleep and memory in adults."}]
    write(corpus / "corpus.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    settings.sources.append(SourceSettings(name="papers", kind="beir", path=str(corpus)))
    run_ingest(settings, fake_embedder)
    return settings


@pytest.fixture
def searcher(indexed, fake_embedder):
    return Searcher(LiveIndex(Home(indexed.home)), fake_embedder, indexed.search)


def docs(res):
    return [h.doc_id for h in res.hits]


QUERY = "desk chair office furniture"


def test_each_filter_restricts_results(searcher):
    everything = docs(searcher.search(QUERY))
    assert {"wiki/expenses.md", "papers/p1", "wiki/secret.md"} <= set(everything)
    # dense retrieval ranks every allowed document, so compare the sets that pass each filter
    assert docs(searcher.search(QUERY, flt=ChunkFilter.build(sources=["papers"])))[0] == "papers/p1"
    assert set(docs(searcher.search(QUERY, flt=ChunkFilter.build(sources=["papers"])))) == \
        {"papers/p1", "papers/p2"}
    assert set(docs(searcher.search(QUERY, flt=ChunkFilter.build(kinds=["document"])))) == \
        {"papers/p1", "papers/p2"}
    by_name = docs(searcher.search(QUERY, flt=ChunkFilter.build(authors=["ada lovelace"])))
    assert by_name == ["wiki/expenses.md"]
    ada = searcher.search(QUERY).hits[everything.index("wiki/expenses.md")].authors[0]
    assert docs(searcher.search(QUERY, flt=ChunkFilter.build(authors=[ada.id]))) == ["wiki/expenses.md"]
    assert docs(searcher.search(QUERY, flt=ChunkFilter.build(tags=["FINANCE"]))) == ["wiki/expenses.md"]
    dated = ChunkFilter.build(since=date(2024, 1, 1), until=date(2024, 3, 1))
    assert docs(searcher.search(QUERY, flt=dated)) == ["wiki/expenses.md"]
    assert docs(searcher.search(QUERY, flt=ChunkFilter.build(until=date(2024, 2, 29)))) == []


def test_filters_combine_with_and_values_with_or(searcher):
    both = ChunkFilter.build(sources=["wiki", "papers"], tags=["finance"])
    assert docs(searcher.search(QUERY, flt=both)) == ["wiki/expenses.md"]
    either = ChunkFilter.build(authors=["Ada Lovelace", "Dan Dev"])
    assert set(docs(searcher.search(QUERY, flt=either))) == {"wiki/expenses.md", "wiki/secret.md"}


def test_groups_constraint_hides_documents(searcher):
    public = docs(searcher.search(QUERY, flt=ChunkFilter(groups=("everyone",))))
    assert "wiki/secret.md" not in public and "wiki/expenses.md" in public
    assert docs(searcher.search(QUERY, flt=ChunkFilter(groups=("eng",)))) == ["wiki/secret.md"]
    assert docs(searcher.search(QUERY, flt=ChunkFilter(groups=()))) == []


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_restrictive_filter_does_not_starve_results(indexed, fake_embedder, mode):
    # only 1 candidate per retriever: filtering after retrieval would find nothing
    indexed.search.candidates, indexed.search.mode = 1, mode
    s = Searcher(LiveIndex(Home(indexed.home)), fake_embedder, indexed.search)
    res = s.search("adults memory sleep", k=1, flt=ChunkFilter.build(sources=["papers"]))
    assert docs(res) == ["papers/p2"]


def test_facets_count_documents_per_source_and_kind(searcher):
    facets = searcher.search(QUERY).facets
    assert facets["source"]["papers"] >= 1 and facets["source"]["wiki"] >= 2
    assert facets["kind"]["document"] == facets["source"]["papers"]


def test_more_like_this_excludes_the_document(searcher):
    res = searcher.similar("wiki/expenses.md", k=3)
    assert res.hits and "wiki/expenses.md" not in docs(res)
    assert docs(searcher.similar("wiki/expenses.md", flt=ChunkFilter.build(sources=["papers"]))) \
        and all(d.startswith("papers/") for d in docs(searcher.similar(
            "wiki/expenses.md", flt=ChunkFilter.build(sources=["papers"]))))
    assert docs(searcher.similar("wiki/nope.md")) == []


def test_api_filter_parameters(indexed, fake_embedder):
    c = TestClient(create_app(indexed, embedder=fake_embedder))
    body = c.get("/api/search", params={"q": QUERY, "source": "papers"}).json()
    assert [h["doc_id"] for h in body["hits"]] == ["papers/p1", "papers/p2"]
    assert body["filters"] == {"source": ["papers"]}
    body = c.get("/api/search", params=[("q", QUERY), ("tag", "finance"), ("tag", "x"),
                                        ("since", "2024-01-01"), ("until", "2024-12-31")]).json()
    assert [h["doc_id"] for h in body["hits"]] == ["wiki/expenses.md"]
    assert body["facets"]["source"] == {"wiki": 1}
    assert c.get("/api/search", params={"q": "x", "since": "yesterday"}).status_code == 422
    sim = c.get("/api/similar", params={"doc_id": "wiki/expenses.md", "kind": "wiki"}).json()
    assert sim["hits"] and all(h["kind"] == "wiki" and h["doc_id"] != "wiki/expenses.md"
                               for h in sim["hits"])


def test_page_keeps_filters_in_form_pager_and_facets(indexed, fake_embedder):
    c = TestClient(create_app(indexed, embedder=fake_embedder))
    r = c.get("/search", params={"q": QUERY, "source": "wiki", "author": "<i>Ada</i>"})
    soup = BeautifulSoup(r.text, "html.parser")
    assert soup.select_one("input[name=source]")["value"] == "wiki"
    assert soup.select_one("input[name=author]")["value"] == "<i>Ada</i>"  # escaped, not markup
    assert soup.find("i") is None
    r = c.get("/search", params={"q": QUERY})
    soup = BeautifulSoup(r.text, "html.parser")
    facet = soup.select_one("a.facet[data-facet=source]")
    assert facet is not None and "source=" in facet["href"] and "q=desk" in facet["href"]
    r = c.get("/search", params={"like": "wiki/expenses.md"})
    soup = BeautifulSoup(r.text, "html.parser")
    assert soup.select("li.hit") and "wiki/expenses.md" not in [
        li["data-doc-id"] for li in soup.select("li.hit")]
