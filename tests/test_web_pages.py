"""The search page's facets and no-result help, the document page and the API docs, through
FastAPI's TestClient (the same pages in a real browser: test_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.settings import AclRule, AuthSettings
from index.tokens import TokenStore
from ingest.pipeline import run_ingest
from web.app import create_app

from .conftest import write

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"


@pytest.fixture
def client(settings, fake_embedder):
    run_ingest(settings, fake_embedder)
    return TestClient(create_app(settings, embedder=fake_embedder))


def soup_of(client, path: str, **params) -> BeautifulSoup:
    r = client.get(path, params=params) if params else client.get(path)
    assert r.status_code == 200, r.text
    return BeautifulSoup(r.text, "html.parser")


def facets(soup: BeautifulSoup) -> dict[str, dict[str, tuple[int, str]]]:
    out: dict[str, dict[str, tuple[int, str]]] = {}
    for a in soup.select("nav.facets a.facet"):
        n = int(a.select_one(".count").get_text())
        value = a.get_text(" ", strip=True).rsplit(" ", 1)[0]
        out.setdefault(a["data-facet"], {})[value] = (n, a["href"])
    return out


def test_facets_have_counts_for_source_kind_author_and_year(client):
    f = facets(soup_of(client, "/search", q="expense desk laptop deploy"))
    assert f["source"]["wiki"][0] == 3
    assert set(f["author"]) == {"Ada Lovelace", "Bob Builder", "Carol Chen"}
    assert f["author"]["Carol Chen"][0] == 1
    assert f["year"]["2024"][0] == 1  # expenses.md: updated 2024-03-01


def test_an_author_facet_filters_to_that_author(client):
    f = facets(soup_of(client, "/search", q="expense desk laptop deploy"))
    n, href = f["author"]["Carol Chen"]
    soup = soup_of(client, href)
    hits = soup.select("li.hit")
    assert len(hits) == n
    assert all("Carol Chen" in h.select_one(".authors").get_text() for h in hits)
    chip = soup.select_one("#active-filters a.chip")
    assert "author: Carol Chen" in chip.get_text()
    assert len(soup_of(client, chip["href"]).select("li.hit")) == 3  # the chip removes the filter


def test_a_year_facet_is_a_date_range(client):
    _, href = facets(soup_of(client, "/search", q="expense desk laptop deploy"))["year"]["2024"]
    params = parse_qs(urlparse(href).query)
    assert params["since"] == ["2024-01-01"] and params["until"] == ["2024-12-31"]
    titles = [h.get_text(strip=True) for h in soup_of(client, href).select("li.hit .hit-title")]
    assert titles == ["Expenses"]


def test_no_results_suggest_rephrasings_and_experts(client):
    soup = soup_of(client, "/search", q="how do I get a laptop", source="nowhere")
    box = soup.select_one("#no-results")
    assert box is not None and not soup.select("li.hit")
    assert box.find("a", string="Search again without the filters")["href"] == "/search?q=how+do+I+get+a+laptop"
    alts = [a.get_text() for a in soup.select("#rephrasings a")]
    assert "get laptop" in alts and "getting a laptop" in alts
    assert soup.select_one("aside.experts .expert-name").get_text() == "Carol Chen"
    body = client.get("/api/search", params={"q": "how do I get a laptop", "source": "nowhere"}).json()
    assert body["hits"] == [] and body["help"]["experts"][0]["person"]["name"] == "Carol Chen"
    assert "getting a laptop" in body["help"]["rephrasings"]


def test_results_link_to_the_document_page(client):
    link = soup_of(client, "/search", q="desk chair home office").select_one("li.hit .hit-title a")["href"]
    assert link.startswith("/doc/wiki/expenses.md?q=desk+chair+home+office#c")
    soup = soup_of(client, link)
    assert soup.select_one("h1").get_text() == "Expenses"
    marked = soup.select(".passage.match")
    assert len(marked) == 1 and "desk and a chair" in marked[0].get_text()
    assert marked[0]["id"] == "c" + link.rsplit("#c", 1)[1]  # the passage the result showed
    assert [m.get_text() for m in marked[0].select("mark")][:2] == ["desk", "chair"]
    assert "Travel" in soup.select_one(".doc-text").get_text()  # the whole text, not just the match
    assert [a.get_text() for a in soup.select("#contributors .expert-name")] == ["Ada Lovelace", "Bob Builder"]
    assert soup.select_one("#original")["href"] == "https://wiki.example/expenses"


def test_document_page_text_is_not_repeated_by_chunk_overlap(settings, wiki, fake_embedder):
    sentences = [f"Sentence number {i} talks about topic {i * 7}." for i in range(120)]
    write(wiki / "long.md", "# Long page\n\n" + " ".join(sentences) + "\n")
    run_ingest(settings, fake_embedder)
    c = TestClient(create_app(settings, embedder=fake_embedder))
    text = soup_of(c, "/doc/wiki/long.md").select_one(".doc-text").get_text()
    assert len(c.app.state.searcher.index.get().store.chunk_ids_of(["wiki/long.md"])["wiki/long.md"]) > 3
    for s in sentences:
        assert text.count(s) == 1, s


def test_document_page_is_404_for_unknown_and_restricted_documents(settings, wiki, fake_embedder):
    write(wiki / "hr/bands.md", "---\nauthor: Harriet Secret\n---\n# Salary bands\n\nThe secret table.\n")
    settings.sources[0].acl = [AclRule(path="hr/*", visible_to=["hr"])]
    settings.auth = AuthSettings(mode="token")
    run_ingest(settings, fake_embedder)
    c = TestClient(create_app(settings, embedder=fake_embedder))
    tokens = TokenStore(settings.home / "state.sqlite")
    staff, hr = tokens.create("sam", ["eng"]), tokens.create("hanna", ["hr"])

    def get(token: str, path: str) -> int:
        return c.get(path, headers={"Authorization": f"Bearer {token}"}).status_code

    assert get(hr, "/doc/wiki/hr/bands.md") == 200
    assert get(staff, "/doc/wiki/hr/bands.md") == 404
    assert get(staff, "/doc/wiki/nothing.md") == 404
    assert get(staff, "/doc/wiki/expenses.md") == 200


def test_api_docs_are_local_and_describe_every_endpoint(client):
    soup = soup_of(client, "/docs")
    assets = [t.get("src") or t.get("href") for t in soup.select("script, link[rel=stylesheet]")]
    assert len(assets) == 3 and all(urlparse(a).netloc in ("", "testserver") for a in assets), assets
    assert not soup.select("script:not([src])")  # the CSP allows no inline script
    for a in assets:
        assert client.get(a).status_code == 200, a
    ops = [(path, op) for path, item in client.get("/openapi.json").json()["paths"].items() for op in item.values()]
    assert len(ops) >= 15
    undescribed = [path for path, op in ops if not op.get("summary") or len(op.get("description", "")) < 20]
    assert not undescribed, f"describe these endpoints (docstring or web/apidocs.py DESCRIPTIONS): {undescribed}"


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_text_colours_meet_wcag_aa_in_both_themes():
    css = (STATIC / "style.css").read_text()
    light = dict(re.findall(r"--(\w+):\s*(#[0-9a-f]{6})", css.split("@media (prefers-color-scheme: dark)")[0]))
    dark = {**light, **dict(re.findall(r"--(\w+):\s*(#[0-9a-f]{6})", css.split("@media (prefers-color-scheme: dark)")[1]
                                      .split("}")[0]))}
    for theme in (light, dark):
        for fg, bg in [("fg", "bg"), ("muted", "bg"), ("accent", "bg"), ("fg", "card"), ("muted", "card"),
                       ("accent", "card"), ("fg", "badge"), ("accent", "badge"), ("bg", "accent"), ("fg", "mark")]:
            assert contrast(theme[fg], theme[bg]) >= 4.5, (fg, bg, theme[fg], theme[bg])


def test_browser_search_opensearch_and_suggestions(settings, fake_embedder):
    from defusedxml import ElementTree

    settings.web.base_url = "https://whoknows.corp.example/"
    run_ingest(settings, fake_embedder)
    c = TestClient(create_app(settings, embedder=fake_embedder))
    link = soup_of(c, "/").select_one("link[rel=search]")
    assert link["type"] == "application/opensearchdescription+xml" and link["href"] == "/opensearch.xml"
    r = c.get("/opensearch.xml")
    assert r.headers["content-type"].startswith("application/opensearchdescription+xml")
    ns = {"os": "http://a9.com/-/spec/opensearch/1.1/"}
    urls = {u.get("type"): u.get("template") for u in ElementTree.fromstring(r.content).findall("os:Url", ns)}
    assert urls["text/html"] == "https://whoknows.corp.example/search?q={searchTerms}"
    assert urls["application/x-suggestions+json"] == "https://whoknows.corp.example/api/suggest?q={searchTerms}"
    # a browser asks for /favicon.ico where a response names no icon: it gets the page's icon
    icon = soup_of(c, "/").select_one("link[rel=icon]")["href"]
    r = c.get("/favicon.ico", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == icon
    assert c.get("/favicon.ico").headers["content-type"].startswith("image/svg+xml")
    r = c.get("/api/suggest", params={"q": "exp"})
    assert r.headers["content-type"].startswith("application/x-suggestions+json")
    assert r.json() == ["exp", ["Expenses"]]
    code = soup_of(c, "/bookmarklet").select_one("#bookmarklet")["href"]
    assert code.startswith("javascript:") and '"https://whoknows.corp.example/popup?q="' in code
