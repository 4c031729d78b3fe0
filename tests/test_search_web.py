"""Search results, the JSON API and the HTML page, through FastAPI's TestClient."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.generations import Home, LiveIndex
from ingest.pipeline import run_ingest
from search.searcher import Searcher
from web.app import create_app

from .conftest import write


@pytest.fixture
def indexed(settings, fake_embedder):
    run_ingest(settings, fake_embedder)
    return settings


@pytest.fixture
def client(indexed, fake_embedder):
    return TestClient(create_app(indexed, embedder=fake_embedder))


def test_search_finds_page_with_authors_and_anchor(indexed, fake_embedder):
    s = Searcher(LiveIndex(Home(indexed.home)), fake_embedder, indexed.search)
    res = s.search("expense a desk chair home office")
    top = res.hits[0]
    assert top.doc_id == "wiki/expenses.md"
    assert top.title == "Expenses"
    assert [a.name for a in top.authors] == ["Ada Lovelace", "Bob Builder"]
    assert top.url == "https://wiki.example/expenses#home-office"
    assert len({h.doc_id for h in res.hits}) == len(res.hits)  # one hit per document


def test_api_search_shape(client):
    r = client.get("/api/search", params={"q": "laptop first day", "k": 2})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"query", "took_ms", "hits"}
    hit = body["hits"][0]
    assert set(hit) >= {"doc_id", "chunk_id", "title", "url", "source", "kind", "snippet",
                        "score", "authors", "updated_at"}
    assert hit["doc_id"] == "wiki/onboarding/laptop.md"
    assert hit["authors"][0]["name"] == "Carol Chen"
    assert len(body["hits"]) <= 2


def test_paging_does_not_repeat_documents(client):
    a = client.get("/api/search", params={"q": "the", "k": 1, "page": 1}).json()
    b = client.get("/api/search", params={"q": "the", "k": 1, "page": 2}).json()
    assert a["hits"][0]["doc_id"] != b["hits"][0]["doc_id"]
    assert a["has_more"]


def test_search_page_renders_results(client):
    r = client.get("/search", params={"q": "deploy release train"})
    assert r.status_code == 200
    soup = BeautifulSoup(r.text, "html.parser")
    hits = soup.select("li.hit")
    assert hits
    first = hits[0]
    assert first.select_one(".hit-title").get_text(strip=True) == "Deploying to production"
    assert first.select_one(".badge.source").get_text() == "wiki"
    assert soup.select_one("input#q")["value"] == "deploy release train"
    assert first.select("mark")  # query terms highlighted


def test_home_page_without_query(client):
    soup = BeautifulSoup(client.get("/").text, "html.parser")
    assert soup.select_one("form[role=search] input[name=q]") is not None
    assert "3 documents" in soup.get_text()


def test_html_in_documents_is_escaped(settings, wiki, fake_embedder):
    write(wiki / "xss.md", "# <script>alert(1)</script>\n\nexploit <img src=x onerror=alert(2)> "
                           "payload text\n")
    run_ingest(settings, fake_embedder)
    c = TestClient(create_app(settings, embedder=fake_embedder))
    r = c.get("/search", params={"q": "exploit payload"})
    soup = BeautifulSoup(r.text, "html.parser")
    assert [s["src"] for s in soup.find_all("script")] == ["/static/search.js", "/static/feedback.js", "/static/asking.js"]  # only ours
    assert soup.find("img") is None
    assert "<script>alert(1)</script>" in soup.get_text()


def test_query_length_and_hostile_text(client):
    assert client.get("/api/search", params={"q": "x" * 5000}).status_code == 422
    for q in ['"unbalanced', "NEAR(a b)", "a AND OR", "*", "日本語の質問", "<b>x</b>"]:
        assert client.get("/api/search", params={"q": q}).status_code == 200


def test_healthz_and_status(client, indexed):
    assert client.get("/healthz").json()["ok"] is True
    st = client.get("/api/status").json()
    assert st["counts"]["documents"] == 3
    assert st["last_run"]["status"] == "ok"
    assert st["sources"]["wiki"]["documents"] == 3


def test_empty_index_says_what_to_do(settings, fake_embedder):
    c = TestClient(create_app(settings, embedder=fake_embedder))
    r = c.get("/search", params={"q": "anything"})
    assert r.status_code == 503
    assert "whoknows ingest" in r.text
    assert c.get("/api/search", params={"q": "x"}).status_code == 503


def test_server_follows_new_generation_without_restart(settings, wiki, fake_embedder):
    run_ingest(settings, fake_embedder)
    app = create_app(settings, embedder=fake_embedder)
    app.state.searcher.index.check_every = 0
    c = TestClient(app)
    assert not c.get("/api/search", params={"q": "zanzibar sabbatical"}).json()["hits"][0][
        "title"].startswith("Sabbatical")
    write(wiki / "sabbatical.md", "# Sabbatical\n\nAfter five years take a zanzibar sabbatical.\n")
    run_ingest(settings, fake_embedder)
    hits = c.get("/api/search", params={"q": "zanzibar sabbatical"}).json()["hits"]
    assert hits[0]["title"] == "Sabbatical"


def test_snippets_read_as_text_not_markdown():
    from search.snippets import make_snippet

    s = make_snippet("See [submitting **expenses**](../pay/index.md) and `the tool` <td>now</td>.", "expenses")
    assert s == "See submitting expenses and the tool now."


def test_a_search_whose_client_went_away_is_not_run(indexed, fake_embedder):
    """Typing aborts the previous keystroke's request: the server drops it instead of searching."""
    import asyncio

    app = create_app(indexed, embedder=fake_embedder)
    calls: list[str] = []
    real = Searcher.search
    Searcher.search = lambda self, q, **kw: calls.append(q) or real(self, q, **kw)  # type: ignore[method-assign]

    async def request(disconnected: bool) -> int:
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.disconnect"} if disconnected else {"type": "http.request", "body": b""}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": "/api/search", "raw_path": b"/api/search",
                 "query_string": b"q=laptop", "headers": [(b"host", b"127.0.0.1")],
                 "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000), "root_path": ""}
        await app(scope, receive, send)
        return next(m["status"] for m in sent if m["type"] == "http.response.start")

    try:
        assert asyncio.run(request(disconnected=True)) == 499 and calls == []
        assert asyncio.run(request(disconnected=False)) == 200 and calls == ["laptop"]
    finally:
        Searcher.search = real  # type: ignore[method-assign]


def test_a_one_line_section_is_shown_with_what_follows_it(settings, wiki, fake_embedder):
    write(wiki / "leave.md", "# Parental leave\n\n## Process\n\nZanzibar handover checklist\n\n## Details\n\n"
          + "Employees receive sixteen weeks of paid leave after the birth or adoption of a child. " * 4)
    write(wiki / "closing.md", "# Quarter close\n\n" + "Finance reconciles every account before the books close. " * 12
          + "\n\n## Owner\n\nYolanda quillwort owns it")
    run_ingest(settings, fake_embedder)
    s = Searcher(LiveIndex(Home(settings.home)), fake_embedder, settings.search)
    hit = next(h for h in s.search("zanzibar handover checklist").hits if h.doc_id == "wiki/leave.md")
    assert hit.heading == "Process"  # the short section's chunk is the hit ...
    assert hit.snippet.startswith("Zanzibar handover checklist Employees receive sixteen weeks")  # ... read on
    assert hit.snippet.endswith(" …") and len(hit.snippet) <= settings.search.snippet_chars + 2
    last = next(h for h in s.search("yolanda quillwort").hits if h.doc_id == "wiki/closing.md")
    # the page's last line: the window ends with it and begins in the text before
    assert last.snippet.startswith("… ") and last.snippet.endswith("the books close. Yolanda quillwort owns it")


def test_a_short_post_is_not_read_on_into_the_next_post_of_its_thread(tmp_path, fake_embedder):
    from pathlib import Path

    from index.settings import Settings, SourceSettings

    fixture = Path(__file__).parent / "fixtures/stackexchange/cardano"
    settings = Settings(home=tmp_path / "home", sources=[SourceSettings(
        name="cardano", kind="stackexchange", path=str(fixture), options={"site": "cardano.stackexchange.com"})])
    run_ingest(settings, fake_embedder)
    store = LiveIndex(Home(settings.home)).get().store
    rows = store.db.execute("SELECT id, doc_id, position, section FROM chunks ORDER BY doc_id, position").fetchall()
    # the last chunk of each post whose thread has a next post: its neighbour after is another person's post
    ends = [r[0] for r, n in zip(rows, rows[1:], strict=False) if r[1] == n[1] and r[3] != n[3]]
    assert ends

    def around(ids: list[int]) -> list[tuple[str, str]]:
        return list(store.around_in_section(list(store.chunks_by_ids(ids).values())).values())

    assert all(after == "" for _, after in around(ends))
    # and the first chunk of each later post has nothing before it either
    starts = [n[0] for r, n in zip(rows, rows[1:], strict=False) if r[1] == n[1] and r[3] != n[3]]
    assert all(before == "" for before, _ in around(starts))
