"""Every citation in every answer points to a document and passage that exist: over the wiki
and Stack Exchange fixtures, for extractive, "asked before" and generated answers, the cited
document is in the index, its link is the document's, and the quote is its stored text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.generations import Home, LiveIndex
from index.settings import AnswerSettings, ExpertSettings, LlmSettings, SourceSettings
from ingest.pipeline import run_ingest
from search.answers import Answer, Answerer
from search.experts import ExpertFinder
from search.llm import ChatClient
from search.searcher import Searcher

from .test_answers import FakeLLM, llm_server  # noqa: F401  (fixture)

SE = Path(__file__).parent / "fixtures" / "stackexchange"


@pytest.fixture
def mixed(settings, fake_embedder):
    """The wiki fixture plus two Stack Exchange fixture dumps, in one index."""
    settings.sources += [
        SourceSettings(name=site, kind="stackexchange", path=str(SE / site),
                       options={"site": f"{site}.stackexchange.com"}) for site in ("cardano", "beer")]
    run_ingest(settings, fake_embedder)
    return Searcher(LiveIndex(Home(settings.home)), fake_embedder, settings.search,
                    ExpertFinder(ExpertSettings()))


def _questions(searcher: Searcher) -> list[str]:
    """Titles, first lines and sentences of every document, and some off-topic ones."""
    store = searcher.index.get().store
    ids = [r[0] for r in store.db.execute("SELECT id FROM documents ORDER BY id")]
    out = ["quantum chromodynamics lattice gauge", "how many dollars for a desk", "staking rewards",
           "what temperature for lager", "", "?"]
    for d in ids:
        doc = store.document(d)
        assert doc is not None
        out.append(doc.title)
        out += [s.text.split("\n")[0][:300] for s in doc.sections[:2]]
    return out


def assert_citations_exist(searcher: Searcher, ans: Answer) -> None:
    store = searcher.index.get().store
    for c in ans.citations:
        doc = store.document(c.doc_id)
        assert doc is not None, c.doc_id
        assert c.quote.strip() and c.quote in doc.text, (c.doc_id, c.quote)
        assert c.url.split("#")[0] == doc.url
        anchor = c.url.partition("#")[2]
        if anchor and doc.kind == "forum":
            assert anchor in {s.anchor for s in doc.sections}, (c.url, c.doc_id)
        if not ans.asked_before:
            assert f"[{c.n}]" in ans.answer
    assert [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1))


@pytest.mark.parametrize("asked_before", [0.75, 2.0])  # with and without "asked before"
def test_every_extractive_citation_exists(mixed, asked_before):
    answerer = Answerer(mixed, AnswerSettings(min_confidence=0.0, asked_before=asked_before))
    questions = _questions(mixed)
    cited = 0
    for q in questions:
        ans = answerer.ask(q)
        assert_citations_exist(mixed, ans)
        cited += len(ans.citations)
    assert len(questions) > 30 and cited > len(questions)  # most answers cite something


def test_every_generated_citation_exists(mixed, llm_server):  # noqa: F811
    FakeLLM.reply = "First [1], then [2], and [1] again."
    answerer = Answerer(mixed, AnswerSettings(min_confidence=0.0, asked_before=2.0),
                        llm=ChatClient(LlmSettings(base_url=llm_server, timeout_s=5.0)))
    for q in _questions(mixed):
        ans = answerer.ask(q)
        if ans.question and ans.citations:
            assert ans.generated and [c.n for c in ans.citations] == [1, 2]
        store = mixed.index.get().store
        for c in ans.citations:
            doc = store.document(c.doc_id)
            assert doc is not None and c.quote.strip() and c.quote in doc.text, (c.doc_id, c.quote)
            assert c.url.split("#")[0] == doc.url
            assert re.search(rf"\[{c.n}\]", ans.answer)
