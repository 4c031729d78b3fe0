"""Hostile content is inert: titles, bodies, names, tags, headings and links that are XSS
payloads render as text on every page, and no script of theirs runs in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.generations import Home
from index.settings import Settings, SourceSettings
from ingest.pipeline import run_ingest
from web.app import create_app
from web.security import safe_url

from .browser import browser, needs_chromium, serve_app
from .conftest import write

# each payload sets a different flag if it ever runs; none may
SCRIPT = "<script>window.__xss=1;alert(1)</script>"
IMG = '"><img src=x onerror="window.__xss=2;alert(2)">'
SVG = "'><svg onload=window.__xss=3>"
TEXTAREA = "</textarea></title><script>window.__xss=4</script>"
TEMPLATE = "{{7*7}} {% raw %}${7*7}"
JS_URL = "javascript:window.__xss=5;alert(5)//"
PAYLOADS = (SCRIPT, IMG, SVG, TEXTAREA, TEMPLATE)
QUERY = "quarterly vendor payload review"


def hostile_wiki(root: Path) -> None:
    write(root / "evil.md", f"""---
title: '{IMG.replace("'", "''")} {SCRIPT}'
author: '"onmouseover=window.__xss=6 x="'
tags: ["{SCRIPT.replace('"', '')}", "{TEMPLATE}", "{SVG.replace('"', '')}"]
---
# Ignored heading

## {IMG} heading

The {QUERY} covers {SCRIPT} and {TEXTAREA} and {TEMPLATE}.
A [link]({JS_URL}) and <a href="{JS_URL}">raw html</a> and {SVG}.
""")
    write(root / "plain.md", f"# Vendor notes\n\n## {TEXTAREA}\n\nAnother {QUERY} page with {TEMPLATE}.\n")
    write(root / f"{IMG.replace('/', '')}.md", "")  # an unreadable file whose name is a payload


def hostile_forum(root: Path) -> None:
    post = {"id": 1, "post_number": 1, "post_type": 1, "username": IMG.replace("/", ""), "name": SCRIPT,
            "created_at": "2024-02-01T09:00:00.000Z",
            "cooked": f"<p>{QUERY}</p><script>window.__xss=7</script><a href='{JS_URL}'>x</a><p>{TEXTAREA}</p>"}
    reply = {**post, "id": 2, "post_number": 2, "username": "mallory", "name": TEXTAREA,
             "cooked": f"<p>Answer to the {QUERY}: {TEMPLATE} <img src=x onerror=window.__xss=8></p>"}
    topic = {"id": 7, "title": f"{SVG} {QUERY}", "slug": f"{IMG}", "category_id": 1, "tags": [SCRIPT, TEMPLATE],
             "post_stream": {"posts": [post, reply]}}
    write(root / "t/7.json", json.dumps(topic))
    write(root / "site.json", json.dumps({"categories": [{"id": 1, "slug": "general", "name": SCRIPT}]}))


def hostile_stackexchange(root: Path) -> None:
    def row(**attrs: str) -> str:
        return "<row " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items()) + " />"

    body = f"<p>How is the {QUERY} done?</p><script>window.__xss=10</script><p>{TEXTAREA} {TEMPLATE}</p>"
    answer = f"<p>The {QUERY} is monthly. <a href='{JS_URL}'>steps</a> <img src=x onerror=window.__xss=11></p>"
    write(root / "Posts.xml", "<posts>" + row(
        Id="1", PostTypeId="1", CreationDate="2024-03-01T10:00:00.000", Score="3", OwnerUserId="5",
        AcceptedAnswerId="2", Title=f"{SVG} {QUERY}", Tags=f"<{SCRIPT.replace('<', '').replace('>', '')}><{TEMPLATE}>",
        Body=body) + row(
        Id="2", PostTypeId="2", ParentId="1", CreationDate="2024-03-02T10:00:00.000", Score="5", OwnerUserId="6",
        Body=answer) + "</posts>")
    write(root / "Users.xml", "<users>" + row(Id="5", DisplayName=SCRIPT, WebsiteUrl=JS_URL) + row(
        Id="6", DisplayName=IMG, WebsiteUrl=JS_URL) + "</users>")


def hostile_mediawiki(root: Path) -> None:
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    text = (f"== {IMG} ==\nThe {QUERY} on the wiki: {SCRIPT} {TEXTAREA} {TEMPLATE}\n"
            f"[{JS_URL} a link] <span onmouseover=\"window.__xss=12\">{SVG}</span>")
    write(root / "export.xml", f"""<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10">
<siteinfo><sitename>{esc(SCRIPT)}</sitename><base>{esc(JS_URL)}</base></siteinfo>
<page><title>{esc(TEXTAREA)} {esc(QUERY)}</title><ns>0</ns><id>3</id><revision><id>1</id>
<timestamp>2024-03-03T10:00:00Z</timestamp><contributor><username>{esc(SVG)}</username><id>8</id></contributor>
<text xml:space="preserve">{esc(text)}</text></revision></page></mediawiki>
""")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from .conftest import FakeEmbedder

    tmp = tmp_path_factory.mktemp("hostile")
    hostile_wiki(tmp / "wiki")
    hostile_forum(tmp / "forum")
    hostile_stackexchange(tmp / "se")
    hostile_mediawiki(tmp / "mw")
    settings = Settings(home=tmp / "home", sources=[
        SourceSettings(name="wiki", kind="markdown", path=str(tmp / "wiki"), url=JS_URL + "{path}"),
        SourceSettings(name="forum", kind="discourse", path=str(tmp / "forum"),
                       options={"base_url": JS_URL}),
        SourceSettings(name="se", kind="stackexchange", path=str(tmp / "se"), options={"site": "se.example"}),
        SourceSettings(name="mw", kind="mediawiki", path=str(tmp / "mw")),
    ])
    settings.web.base_url = 'https://whoknows.example/"><script>window.__xss=9</script>'
    embedder = FakeEmbedder()
    assert run_ingest(settings, embedder).status == "ok"
    return settings, embedder


@pytest.fixture(scope="module")
def client(hostile):
    settings, embedder = hostile
    return TestClient(create_app(settings, embedder=embedder))


def people(client) -> list[str]:
    hits = client.get("/api/search", params={"q": QUERY, "k": 20}).json()
    ids = {a["id"] for h in hits["hits"] for a in h["authors"]}
    ids |= {e["person"]["id"] for e in hits["experts"]}
    return sorted(ids)


def pages(client) -> list[str]:
    client.get("/search", params={"q": SCRIPT + " no such words at all xyzzy"})  # a gap with a payload query
    out = [f"/search?q={QUERY}", f"/search?q={IMG}", f"/ask?q={QUERY}", f"/ask?q={TEXTAREA}",
           f"/popup?q={QUERY}", f"/popup?q={SVG}", "/admin", "/admin/gaps", "/bookmarklet", "/", "/topics",
           f"/search?q={QUERY}&tag={SCRIPT}", "/search?like=wiki/evil.md"]
    return out + [f"/people/{p}" for p in people(client)]


def assert_inert(html: str, where: str) -> None:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        for attr, value in tag.attrs.items():
            assert not attr.lower().startswith("on"), f"{where}: event handler {attr}={value!r} on <{tag.name}>"
            if attr in ("href", "src", "action", "formaction"):
                v = value if isinstance(value, str) else " ".join(value)
                ok = safe_url(v) or (where == "/bookmarklet" and tag.get("id") == "bookmarklet")
                assert ok, f"{where}: {attr}={v!r} on <{tag.name}>"
    scripts = soup.find_all("script")
    assert all(s.get("src", "").startswith("/static/") and not s.string for s in scripts), f"{where}: {scripts}"
    assert not soup.find_all(["img", "svg", "iframe", "object", "embed"]), where
    assert not soup.find_all("textarea"), where
    for payload in PAYLOADS:
        assert payload not in html or payload == TEMPLATE, f"{where}: raw payload {payload!r}"


def test_the_corpus_really_carries_the_payloads(client):
    text = client.get("/api/search", params={"q": QUERY, "k": 20}).text
    sources = {h["source"] for h in json.loads(text)["hits"]}
    assert sources == {"wiki", "forum", "se", "mw"}  # every kind of source brings hostile pages
    for payload in (SCRIPT, IMG.replace("/", ""), SVG, TEXTAREA, TEMPLATE):
        assert json.dumps(payload)[1:-1] in text, payload
    assert "javascript:" in text  # the links stored are hostile too; pages must not use them


def test_every_page_renders_payloads_as_text(client):
    seen_text = ""
    for path in pages(client):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html"), path
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert_inert(r.text, path.split("?")[0])
        seen_text += BeautifulSoup(r.text, "html.parser").get_text()
    for payload in (SCRIPT, SVG, TEXTAREA, TEMPLATE):  # shown as typed: template syntax is not evaluated
        assert payload in seen_text, f"{payload!r} should be shown as text somewhere"


def test_links_with_a_javascript_scheme_never_become_hrefs(client):
    person_pages = [f"/people/{p}" for p in people(client)]
    for path in (f"/search?q={QUERY}", f"/popup?q={QUERY}", f"/ask?q={QUERY}", *person_pages):
        hrefs = [a["href"] for a in BeautifulSoup(client.get(path).text, "html.parser").find_all(href=True)]
        assert hrefs and not [h for h in hrefs if "javascript" in h.lower()], path


@pytest.mark.parametrize("url,safe", [
    ("https://wiki.example/a", True), ("/search?q=a:b", True), ("mailto:a@b.example", True), ("", False),
    ("javascript:alert(1)", False), ("JaVaScRiPt:alert(1)", False), (" javascript:alert(1)", False),
    ("java\tscript:alert(1)", False), ("java\nscript:alert(1)", False), ("\x00javascript:x", False),
    ("data:text/html,<script>alert(1)</script>", False), ("vbscript:x", False), ("http://[", False),
])
def test_safe_url(url, safe):
    assert bool(safe_url(url)) is safe


def test_machine_formats_are_not_html(client):
    r = client.get("/api/suggest", params={"q": "<script"})
    assert r.headers["content-type"].startswith("application/x-suggestions+json")
    assert r.headers["x-content-type-options"] == "nosniff"
    for path in ("/api/search", "/api/ask", "/api/experts"):
        r = client.get(path, params={"q": SCRIPT})
        assert r.headers["content-type"] == "application/json" and r.headers["x-content-type-options"] == "nosniff"
    xml = client.get("/opensearch.xml")
    assert xml.headers["content-type"].startswith("application/opensearchdescription+xml")
    assert "<script>" not in xml.text and "&lt;script&gt;" in xml.text
    from defusedxml.ElementTree import fromstring
    assert fromstring(xml.content).tag.endswith("OpenSearchDescription")


def test_bookmarklet_code_cannot_be_broken_out_of_by_the_base_url(client):
    code = BeautifulSoup(client.get("/bookmarklet").text, "html.parser").select_one("#bookmarklet")["href"]
    js = code[len("javascript:"):]
    literal = re.search(r"window\.open\((\".*?(?<!\\)\")\+", js)
    assert literal, js
    assert json.loads(literal.group(1)).endswith("/popup?q=")  # the base stays inside one string literal


def test_fts_syntax_in_queries_is_inert(client):
    for q in ('"unbalanced', "a OR", "NEAR(a b", "*", "col:vendor", "^x", "a AND (b", "'; DROP TABLE chunks; --"):
        r = client.get("/api/search", params={"q": q})
        assert r.status_code == 200, q
    assert client.get("/api/search", params={"q": QUERY}).json()["hits"]


def test_random_hostile_input_gets_an_answer_or_a_clear_refusal_never_a_server_error(client):
    """Seeded random queries, filters and document ids mixing scripts, control and zero-width
    characters, FTS5 and SQL syntax and markup, against every endpoint that reads user input."""
    import random
    import string
    from urllib.parse import quote

    rnd = random.Random(13)
    chars = string.printable + "ÄöüßéñЖя中文日本語한국어العربيةעברית🙂\u200b\u202e\x00\x01\x7f"
    pieces = ['"', "'", "(", ")", "*", "^", ":", " NEAR ", " AND ", " OR ", " NOT ", "-", "{", "[", "\\", "%", "_",
              "..", "<script>", SCRIPT, TEMPLATE, "\n"]
    paths = ["/api/search", "/api/experts", "/api/ask", "/api/similar", "/search", "/ask", "/popup", "/api/suggest",
             "/api/topics", "/doc"]
    for _ in range(120):
        q = "".join(rnd.choice(chars) if rnd.random() < 0.8 else rnd.choice(pieces)
                    for _ in range(rnd.choice([1, 5, 40, 400, 3000])))
        path, params = rnd.choice(paths), {"q": q}
        if path == "/api/similar":
            params = {"doc_id": q}
        if path == "/doc":
            path = "/doc/" + quote(q[:300], safe="")
        params.update(rnd.choice([{}, {"since": q[:12]}, {"until": "2024-13-45"}, {"tag": q[:20]},
                                  {"author": q[:20]}, {"source": q[:10]}, {"page": "-5"}, {"k": "100000"}]))
        r = client.get(path, params=params)
        assert r.status_code < 500, (path, params)
        if r.status_code >= 400:  # refused with a reason a person can read
            assert r.json()["detail"] if "json" in r.headers["content-type"] else r.text, (path, params)


def test_paths_with_dot_dot_are_rejected(client, hostile, tmp_path):
    from index.settings import ConfigError, load_settings

    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/%2e%2e%2fauth.py"):
        r = client.get(path)
        assert r.status_code in (400, 404), path
        assert "create_app" not in r.text and "Authenticator" not in r.text
    for doc_id in ("../../../../etc/passwd", "wiki/../../../etc/passwd", "/etc/passwd"):
        r = client.get("/api/similar", params={"doc_id": doc_id})  # ids are looked up, never opened
        assert r.status_code == 200 and r.json()["hits"] == [] and "root:" not in r.text
        assert client.get(f"/people/..%2f..%2f{doc_id}").status_code == 404
    cfg = tmp_path / "w.toml"
    cfg.write_text('[[sources]]\nname = "../../etc"\nkind = "markdown"\npath = "x"\n')
    with pytest.raises(ConfigError, match="letters, digits"):
        load_settings(cfg)
    settings, embedder = hostile
    assert not (Home(settings.home).path.parent / "etc").exists()


def test_git_subdir_may_not_leave_the_repository(tmp_path):
    from ingest.sources.git import GitSource

    cfg = SourceSettings(name="g", kind="git", path=str(tmp_path), options={"subdir": "docs/../../.."})
    with pytest.raises(ValueError, match="may not contain '..'"):
        GitSource(cfg, Settings(home=tmp_path / "home"))


def _flags(page) -> dict[str, object]:
    return page.evaluate("() => ({xss: window.__xss === undefined ? null : window.__xss})")


def _watch(page) -> list[str]:
    events: list[str] = []
    page.on("dialog", lambda d: (events.append(f"dialog {d.message}"), d.dismiss()))
    page.on("console", lambda m: events.append(f"console {m.text}") if "Content Security Policy" in m.text
            else None)
    return events


@needs_chromium
@pytest.mark.browser
def test_no_payload_runs_in_chromium(hostile):
    settings, embedder = hostile
    with serve_app(create_app(settings, embedder=embedder)) as base, browser() as b:
        page = b.new_page()
        events = _watch(page)
        page.goto(f"{base}/search?q={QUERY}")
        assert page.locator("li.hit").count() >= 2 and page.locator(".expert-name").count() >= 1
        person_pages = [page.locator(".expert-name").nth(i).get_attribute("href")
                        for i in range(page.locator(".expert-name").count())]
        for path in (f"/search?q={QUERY}", f"/search?q={SCRIPT}", f"/ask?q={QUERY}", "/admin", "/admin/gaps", "/topics",
                     *person_pages):
            page.goto(base + path)
            assert _flags(page) == {"xss": None}, path
            protocols = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.protocol)")
            assert set(protocols) <= {"http:", "https:", "mailto:"}, path
        assert events == []


@needs_chromium
@pytest.mark.browser
def test_bookmarklet_popup_with_hostile_selection_and_results_runs_nothing(hostile):
    settings, embedder = hostile
    with serve_app(create_app(settings, embedder=embedder)) as base, browser() as b:
        ctx = b.new_context()
        page = ctx.new_page()
        page.set_content(f"<title>{QUERY}</title><p id=sel>{QUERY} {SCRIPT.replace('<', '&lt;')}</p>")
        page.evaluate("""() => { const r = document.createRange();
            r.selectNodeContents(document.getElementById('sel'));
            const s = window.getSelection(); s.removeAllRanges(); s.addRange(r); }""")
        code = f"""(function(){{var s=String(window.getSelection()).trim();
            window.open({json.dumps(base + '/popup?q=')}+encodeURIComponent(s.slice(0,500)),'whoknows','popup');}})()"""
        with ctx.expect_page() as info:
            page.evaluate(code)
        popup = info.value
        events = _watch(popup)
        popup.wait_for_load_state()
        assert SCRIPT in popup.locator("#q").input_value()  # the selection is the query, as text
        assert popup.locator("li.hit").count() >= 1
        assert _flags(popup) == {"xss": None}
        protocols = popup.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.protocol)")
        assert set(protocols) <= {"http:", "https:"}
        assert events == []
