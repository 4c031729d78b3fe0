"""Answers: extractive with citations, asked-before, gaps, and the optional LLM path against a
local server that speaks the OpenAI-compatible streaming protocol."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.gaps import GapLog
from index.generations import Home, LiveIndex
from index.sentences import split_sentences
from index.settings import AnswerSettings, ExpertSettings, LlmSettings
from ingest.pipeline import run_ingest
from search.answers import Answerer
from search.experts import ExpertFinder
from search.llm import ChatClient
from search.searcher import Searcher
from web.app import create_app

from .test_experts import _ingest_docs, _threads


@pytest.fixture
def answerer(settings, fake_embedder):
    run_ingest(settings, fake_embedder)
    s = Searcher(LiveIndex(Home(settings.home)), fake_embedder, settings.search,
                 ExpertFinder(ExpertSettings()))
    return Answerer(s, AnswerSettings(min_confidence=0.3), GapLog(settings.home / "state.sqlite"))


def test_split_sentences_drops_fragments():
    s = split_sentences("# Title\n\n- You can expense a desk. Chairs too, up to 500 dollars!\nok")
    assert s == ["You can expense a desk.", "Chairs too, up to 500 dollars!"]


@pytest.mark.parametrize("sentence_weight", [0.1, 0.0])
def test_answers_use_the_sentence_vectors_kept_at_indexing(settings, fake_embedder, sentence_weight):
    """With sentence evidence on, an answer encodes only the question (its ~30 sentences were
    encoded at indexing, the most of an answer's time); off, it encodes them, to the same answer."""
    settings.search.sentence_weight = sentence_weight
    run_ingest(settings, fake_embedder)
    s = Searcher(LiveIndex(Home(settings.home)), fake_embedder, settings.search)
    fake_embedder.encoded.clear()
    ans = Answerer(s, AnswerSettings(min_confidence=0.3)).ask("how much can I expense for a desk and chair")
    assert "500 dollars" in ans.answer and ans.citations[0].doc_id == "wiki/expenses.md"
    question = "how much can I expense for a desk and chair"
    if sentence_weight:
        assert fake_embedder.encoded == [question]  # once: the answer reuses the search's vector
    else:
        assert "You can expense a desk and a chair for your home office up to 500 dollars." in fake_embedder.encoded


def test_extractive_answer_cites_the_passage_it_quotes(answerer):
    ans = answerer.ask("how much can I expense for a desk and chair for my home office")
    assert ans.confident
    assert "500 dollars" in ans.answer
    assert ans.citations[0].doc_id == "wiki/expenses.md"
    assert ans.citations[0].url == "https://wiki.example/expenses#home-office"
    assert ans.citations[0].author == "Ada Lovelace"
    store = answerer.searcher.index.get().store
    for c in ans.citations:  # every citation points to a document and passage that exist
        doc = store.document(c.doc_id)
        assert doc is not None and c.quote in doc.text
        assert f"[{c.n}]" in ans.answer
    assert ans.experts and ans.experts[0].person.name in {"Ada Lovelace", "Bob Builder"}


def test_answer_quotes_markdown_links_by_their_text(settings, wiki, fake_embedder):
    from search.snippets import plain_text

    from .conftest import write

    write(wiki / "standing.md", "# Standing desks\n\nStanding desks are ordered through the "
          "[equipment portal](../tools/equipment.md) with a manager's approval.\n")
    run_ingest(settings, fake_embedder)
    s = Searcher(LiveIndex(Home(settings.home)), fake_embedder, settings.search, ExpertFinder(ExpertSettings()))
    ans = Answerer(s, AnswerSettings(min_confidence=0.0)).ask("how are standing desks ordered")
    assert "through the equipment portal with" in ans.answer and "](" not in ans.answer
    cited = next(c for c in ans.citations if c.doc_id == "wiki/standing.md")
    doc = s.index.get().store.document(cited.doc_id)
    assert cited.quote in plain_text(doc.text) and "](" not in cited.quote  # verbatim, as a reader sees it


def test_unanswerable_question_is_not_confident_and_logged_as_gap(answerer, settings):
    ans = answerer.ask("quantum chromodynamics lattice gauge simulation")
    assert not ans.confident
    assert ans.answer == "" or ans.confidence < 0.3
    gaps = GapLog(settings.home / "state.sqlite").top()
    assert [(g.query, g.kind, g.count) for g in gaps] == [
        ("quantum chromodynamics lattice gauge simulation", "no-confident-answer", 1)]
    answerer.ask("Quantum chromodynamics, lattice gauge simulation?")
    assert GapLog(settings.home / "state.sqlite").top()[0].count == 2  # normalised


def test_asked_before_shows_the_accepted_answer(tmp_path, settings, fake_embedder):
    _ingest_docs(settings, fake_embedder, _threads())
    s = Searcher(LiveIndex(Home(settings.home)), fake_embedder, settings.search,
                 ExpertFinder(ExpertSettings()))
    a = Answerer(s, AnswerSettings(asked_before=0.6))
    ans = a.ask("How do I rotate the database password?")
    assert ans.asked_before is not None
    assert ans.asked_before.accepted and ans.asked_before.author == "Ada"
    assert "vault CLI" in ans.answer and ans.confident
    assert ans.citations[0].url == "https://forum.example/t/0#p0"


class FakeLLM(BaseHTTPRequestHandler):
    """Speaks /v1/chat/completions with stream=true; the reply is set per test."""

    reply = "Desks and chairs up to 500 dollars [1]."
    status = 200
    delay = 0.0
    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeLLM.requests.append(body)
        time.sleep(self.delay)
        if self.status != 200:
            self.send_response(self.status)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for word in self.reply.split(" "):
            chunk = {"choices": [{"delta": {"content": word + " "}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


@pytest.fixture
def llm_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeLLM.reply, FakeLLM.status, FakeLLM.delay, FakeLLM.requests = (
        "Desks and chairs up to 500 dollars [1].", 200, 0.0, [])
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _llm_answerer(answerer, url, timeout=5.0):
    answerer.llm = ChatClient(LlmSettings(base_url=url, timeout_s=timeout))
    return answerer


def test_llm_answer_streams_and_keeps_valid_citations(answerer, llm_server):
    a = _llm_answerer(answerer, llm_server)
    events = list(a.ask_stream("how much for a home office desk"))
    tokens = [v for k, v in events if k == "token"]
    assert len(tokens) > 3 and "".join(tokens).strip() == FakeLLM.reply
    final = events[-1][1]
    assert final.generated and final.answer == FakeLLM.reply
    assert [c.n for c in final.citations] == [1]
    prompt = FakeLLM.requests[0]["messages"][1]["content"]
    assert prompt.startswith("Passages:") and "[1]" in prompt and FakeLLM.requests[0]["stream"]


@pytest.mark.parametrize("reply,status,delay", [
    ("A desk costs 500 dollars [9].", 200, 0.0),   # cites a passage it was not given
    ("A desk costs 500 dollars.", 200, 0.0),       # cites nothing
    ("", 500, 0.0),                                 # server error
    ("Too slow [1].", 200, 3.0),                    # timeout
])
def test_llm_failures_fall_back_to_extractive(answerer, llm_server, reply, status, delay):
    FakeLLM.reply, FakeLLM.status, FakeLLM.delay = reply, status, delay
    a = _llm_answerer(answerer, llm_server, timeout=1.0)
    ans = a.ask("how much can I expense for a desk and chair for my home office")
    assert not ans.generated
    assert "500 dollars" in ans.answer and ans.citations[0].doc_id == "wiki/expenses.md"


def test_unreachable_llm_falls_back(answerer):
    a = _llm_answerer(answerer, "http://127.0.0.1:9/v1", timeout=1.0)
    assert not a.ask("home office desk expense").generated


def test_ask_api_page_stream_and_gaps(settings, fake_embedder):
    run_ingest(settings, fake_embedder)
    settings.answers.min_confidence = 0.3
    c = TestClient(create_app(settings, embedder=fake_embedder))
    body = c.get("/api/ask", params={"q": "expense a desk and chair for the home office"}).json()
    assert set(body) >= {"question", "answer", "confident", "citations", "asked_before", "experts"}
    assert body["confident"] and body["citations"][0]["doc_id"] == "wiki/expenses.md"
    soup = BeautifulSoup(c.get("/ask", params={"q": "expense a desk chair home office"}).text, "html.parser")
    assert "500 dollars" in soup.select_one("#answer").get_text()
    assert soup.select("#citations li")
    r = c.get("/api/ask/stream", params={"q": "zebra migration patterns"})
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "event: answer" in r.text
    soup = BeautifulSoup(c.get("/ask", params={"q": "zebra migration patterns"}).text, "html.parser")
    assert "No confident answer" in soup.select_one("#answer").get_text()
    gaps = c.get("/api/gaps").json()["gaps"]
    assert gaps[0]["query"] == "zebra migration patterns" and gaps[0]["count"] == 2
    page = BeautifulSoup(c.get("/admin/gaps").text, "html.parser")
    assert "zebra migration patterns" in page.select_one("#gaps").get_text()


def test_streamed_answer_with_a_bad_citation_ends_extractive(answerer, llm_server):
    FakeLLM.reply = "A desk costs 500 dollars [7]."
    events = list(_llm_answerer(answerer, llm_server).ask_stream("how much for a home office desk"))
    assert [k for k, _ in events][-1] == "answer" and any(k == "token" for k, _ in events)
    final = events[-1][1]
    assert not final.generated and "[7]" not in final.answer
    assert final.citations and final.citations[0].doc_id == "wiki/expenses.md"
