"""The confluence source against a local server speaking the REST API (v1) the way Cloud does:
CQL search paged with ``_links.next``, content with expansions, comments, versions, a 429."""

from __future__ import annotations

import base64
import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from index.generations import Home
from index.models import Document
from index.settings import Settings, SourceSettings
from ingest.pipeline import run_ingest
from ingest.sources.confluence import ConfluenceSource
from ingest.storage_markdown import storage_to_markdown
from search.permissions import Viewer

from .conftest import source_items
from .json_server import json_server

TOKEN_ENV, TOKEN, USER = "WHOKNOWS_TEST_CONFLUENCE_TOKEN", "atl-token-123", "bot@corp.example"
ADA = {"accountId": "acc-ada", "displayName": "Ada Lovelace", "email": "ada@corp.example", "type": "known"}
BOB = {"accountId": "acc-bob", "displayName": "Bob Builder", "type": "known"}
CAROL = {"accountId": "acc-carol", "displayName": "Carol Chen", "email": "carol@corp.example", "type": "known"}
OLD = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
VPN_BODY = ("<h1>VPN guide</h1><p>Ask <ac:link><ri:user ri:account-id=\"acc-ada\" /></ac:link> first.</p>"
            "<h2>Rotating the certificate</h2><ac:structured-macro ac:name=\"code\"><ac:parameter ac:name="
            "\"language\">bash</ac:parameter><ac:plain-text-body><![CDATA[vpnctl rotate --cert && echo <ok>]]>"
            "</ac:plain-text-body></ac:structured-macro><p>See <ac:link><ri:page ri:content-title=\"Certificates\" />"
            "</ac:link>.</p>")


def restriction(groups: list[str] = (), users: list[dict] = ()) -> dict[str, Any]:
    return {"read": {"operation": "read", "restrictions": {
        "group": {"results": [{"type": "group", "name": g} for g in groups], "size": len(groups)},
        "user": {"results": list(users), "size": len(users)}}}}


def page(pid: str, title: str, space: str, body: str, *, kind: str = "page", ancestors: list[str] = (),
         labels: list[str] = (), restricted: dict | None = None, by: dict = ADA) -> dict[str, Any]:
    return {"id": pid, "type": kind, "status": "current", "title": title, "space": {"key": space},
            "version": {"number": 1, "when": OLD.isoformat(), "by": by},
            "history": {"createdBy": by, "createdDate": OLD.isoformat()},
            "ancestors": [{"id": a} for a in ancestors], "body": {"storage": {"value": body}},
            "metadata": {"labels": {"results": [{"prefix": "global", "name": n} for n in labels]}},
            "restrictions": restricted or restriction(), "_links": {"webui": f"/spaces/{space}/pages/{pid}"},
            "_modified": OLD}


class Confluence:
    """A tiny Confluence Cloud under /wiki: spaces, CQL search, content, comments, versions."""

    def __init__(self) -> None:
        self.spaces = {
            "ENG": [{"operation": {"operation": "read", "targetType": "space"}, "anonymousAccess": False,
                     "subjects": {"group": {"results": [{"name": "confluence-users"}]}}}],
            "HR": [{"operation": {"operation": "read", "targetType": "space"},
                    "subjects": {"group": {"results": [{"name": "hr"}]}}},
                   {"operation": {"operation": "create", "targetType": "page"},
                    "subjects": {"group": {"results": [{"name": "confluence-users"}]}}}],
        }
        self.pages = {p["id"]: p for p in (
            page("100", "VPN guide", "ENG", VPN_BODY, labels=["vpn", "network"]),
            page("101", "Holiday calendar 2024", "ENG", "<p>Offices close on 24 December.</p>", kind="blogpost",
                 by=BOB),
            page("102", "Falcon roadmap", "ENG", "<p>The uplink codename is BLUEBIRD.</p>",
                 restricted=restriction(["falcon"], [CAROL])),
            page("103", "Falcon budget", "ENG", "<p>BLUEBIRD costs 2 million.</p>", ancestors=["102"]),
            page("104", "Salary bands", "HR", "<p>Level 3 pays 80k.</p>"),
        )}
        self.comments: dict[str, list[dict[str, Any]]] = {"100": [self.comment("900", "100", "Works on macOS too.")]}
        self.versions = {"100": [{"by": ADA, "when": OLD.isoformat(), "number": 1},
                                 {"by": BOB, "when": (OLD + timedelta(days=1)).isoformat(), "number": 2,
                                  "minorEdit": True},
                                 {"by": ADA, "when": (OLD + timedelta(days=2)).isoformat(), "number": 3}]}
        self.per_page = 2
        self.too_many: dict[str, list[str]] = {}
        self.broken: set[str] = set()  # content ids answered with HTTP 500
        self.redirects: dict[str, str] = {}  # path → Location of a 302
        self.log: list[tuple[str, dict[str, str]]] = []

    def comment(self, cid: str, pid: str, text: str) -> dict[str, Any]:
        return {"id": cid, "type": "comment", "status": "current", "container": {"id": pid, "type": "page"},
                "version": {"number": 1, "when": OLD.isoformat()}, "_modified": OLD,
                "history": {"createdBy": CAROL, "createdDate": OLD.isoformat()},
                "body": {"storage": {"value": f"<p>{text}</p>"}}}

    def edit(self, pid: str, body: str) -> None:
        p = self.pages[pid]
        p["version"] = {"number": p["version"]["number"] + 1, "when": datetime.now(UTC).isoformat(), "by": CAROL}
        p["body"]["storage"]["value"] = body
        p["_modified"] = datetime.now(UTC)

    def search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        cql = query["cql"][0]
        spaces = re.findall(r'"(\w+)"', re.search(r"space in \(([^)]*)\)", cql).group(1))
        types = [t.strip() for t in re.search(r"type in \(([^)]*)\)", cql).group(1).split(",")]
        since = re.search(r'lastmodified >= "([^"]+)"', cql)
        floor = datetime.strptime(since.group(1), "%Y/%m/%d %H:%M").replace(tzinfo=UTC) if since else None
        items = [p for p in self.pages.values() if p["type"] in types and p["space"]["key"] in spaces]
        if "comment" in types:
            items += [c for pid, cs in self.comments.items() for c in cs if self.pages.get(pid, {}).get("space", {})
                      .get("key") in spaces]
        items = sorted((i for i in items if floor is None or i["_modified"] >= floor),
                       key=lambda i: i["_modified"], reverse=True)
        start, limit = int(query.get("start", ["0"])[0]), min(int(query["limit"][0]), self.per_page)
        expand = query.get("expand", [""])[0]
        shown = [{k: v for k, v in i.items() if k in ("id", "type", "status", "title", "version", "container")
                  or (k == "restrictions" and "restrictions" in expand)} for i in items[start : start + limit]]
        links = {"base": "http://x/wiki", "context": "/wiki"}
        if start + limit < len(items):
            links["next"] = "/rest/api/content/search?" + urlencode(
                {"cql": cql, "limit": limit, "start": start + limit, "expand": expand})
        return {"results": shown, "start": start, "limit": limit, "size": len(shown), "_links": links}

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path == "/rest/api/space":
            return 200, {"results": [{"key": k, "permissions": v} for k, v in self.spaces.items()], "_links": {}}
        if path.startswith("/rest/api/space/"):
            key = path.rsplit("/", 1)[1]
            return (200, {"key": key, "permissions": self.spaces[key]}) if key in self.spaces else (404, {})
        if path == "/rest/api/content/search":
            return 200, self.search(query)
        m = re.fullmatch(r"/rest/api/content/(\d+)(/child/comment|/version)?", path)
        if not m or m.group(1) not in self.pages:
            return 404, {"message": "No content found"}
        if m.group(1) in self.broken:
            return 500, {"message": "boom"}
        pid, sub = m.group(1), m.group(2)
        if sub == "/child/comment":
            return 200, {"results": [copy.deepcopy(c) for c in self.comments.get(pid, [])], "_links": {}}
        if sub == "/version":
            return 200, {"results": self.versions.get(pid, []), "_links": {}}
        return 200, {k: v for k, v in copy.deepcopy(self.pages[pid]).items() if k != "_modified"}


@pytest.fixture
def wiki_server():
    state = Confluence()

    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()

    def respond(raw: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        url = urlsplit(raw)
        state.log.append((raw, headers))
        path = url.path.removeprefix("/wiki")
        if headers.get("Authorization") != expected:
            return 401, {"message": "unauthorized"}, {}
        if path in state.redirects:
            return 302, {}, {"Location": state.redirects[path]}
        pending = state.too_many.get(path)
        if pending:
            return 429, {"message": "rate limited"}, {"Retry-After": pending.pop(0)}
        return (*state.answer(path, parse_qs(url.query)), {})

    with json_server(respond) as url:
        state.url = url + "/wiki"  # type: ignore[attr-defined]
        yield state


def conf_settings(tmp_path, url: str, **options: Any) -> Settings:
    options = {"delay": 0, "max_wait": 0.01, "token_env": TOKEN_ENV, "username": USER, "spaces": ["ENG", "HR"],
               "group_map": {"confluence-users": "everyone"}} | options
    return Settings(home=tmp_path / "home", sources=[SourceSettings(name="conf", kind="confluence", path=url,
                                                                    options=options)])


def read(src: ConfluenceSource) -> tuple[dict[str, Document], dict[str, str], list[str]]:
    return source_items(src.iter_documents())


def content_fetches(log: list[tuple[str, dict[str, str]]]) -> list[str]:
    return sorted(m.group(1) for p, _ in log if (m := re.match(r"/wiki/rest/api/content/(\d+)\?", p)))


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def test_pages_blog_posts_comments_labels_and_contributors(tmp_path, wiki_server):
    settings = conf_settings(tmp_path, wiki_server.url)
    docs, failures, _ = read(ConfluenceSource(settings.sources[0], settings))
    assert failures == {}
    assert sorted(docs) == ["conf/100", "conf/101", "conf/102", "conf/103", "conf/104"]
    vpn = docs["conf/100"]
    assert vpn.kind == "wiki" and vpn.markdown and vpn.tags == ["vpn", "network"]
    assert vpn.url == f"{wiki_server.url}/spaces/ENG/pages/100"
    assert vpn.sections[0].text.startswith("# VPN guide\n\nAsk @Ada Lovelace first.\n\n## Rotating the certificate")
    assert "```\nvpnctl rotate --cert && echo <ok>\n```" in vpn.sections[0].text and "See Certificates." in vpn.text
    assert (vpn.sections[1].heading, vpn.sections[1].text) == ("Comment by Carol Chen", "Works on macOS too.")
    roles = [(c.person.name, c.role, c.weight) for c in vpn.contributions]
    assert roles == [("Ada Lovelace", "author", 0.889), ("Bob Builder", "editor", 0.111),
                     ("Carol Chen", "commenter", 0.2)]
    assert vpn.contributions[0].person.emails == ["ada@corp.example"]
    assert docs["conf/101"].title == "Holiday calendar 2024"  # a blog post
    assert any("start=2" in p for p, _ in wiki_server.log)  # followed _links.next (past the context path)


def test_space_permissions_and_page_restrictions_become_visibility(tmp_path, wiki_server):
    settings = conf_settings(tmp_path, wiki_server.url)
    docs, _, _ = read(ConfluenceSource(settings.sources[0], settings))
    assert docs["conf/100"].visible_to == ["everyone"]  # confluence-users, mapped
    assert docs["conf/104"].visible_to == ["hr"]  # the HR space's read permission, not its create one
    assert docs["conf/102"].visible_to == ["falcon", "user:carol@corp.example"]
    assert docs["conf/103"].visible_to == ["falcon", "user:carol@corp.example"]  # inherited from its parent
    carol, bob = Viewer("carol@corp.example"), Viewer("bob@corp.example", frozenset({"hr"}))
    assert carol.can_see(docs["conf/103"].visible_to) and not bob.can_see(docs["conf/103"].visible_to)
    assert bob.can_see(docs["conf/104"].visible_to) and not carol.can_see(docs["conf/104"].visible_to)


def test_a_space_without_readable_permissions_is_for_admins_only(tmp_path, wiki_server):
    wiki_server.spaces["HR"] = []
    settings = conf_settings(tmp_path, wiki_server.url)
    docs, failures, _ = read(ConfluenceSource(settings.sources[0], settings))
    assert docs["conf/104"].visible_to == ["admins"]
    assert "who may read this space is unknown" in failures["space/HR"]
    settings = conf_settings(tmp_path, wiki_server.url, space_groups={"HR": ["people-team"]})
    docs, _, _ = read(ConfluenceSource(settings.sources[0], settings))
    assert docs["conf/104"].visible_to == ["people-team"]


def test_incremental_run_fetches_only_changed_pages(tmp_path, wiki_server, fake_embedder):
    settings = conf_settings(tmp_path, wiki_server.url)
    rec = run_ingest(settings, fake_embedder)
    assert rec.sources["conf"].added == 5
    assert content_fetches(wiki_server.log) == ["100", "101", "102", "103", "104"]
    wiki_server.log.clear()
    rec = run_ingest(settings, fake_embedder)  # nothing changed upstream
    assert content_fetches(wiki_server.log) == [] and rec.sources["conf"].unchanged == 5
    assert any("lastmodified" in p for p, _ in wiki_server.log)
    wiki_server.edit("101", "<p>Offices close on 24 and 31 December.</p>")
    wiki_server.comments["104"] = [wiki_server.comment("901", "104", "Level 4 is missing.")]
    wiki_server.comments["104"][0]["_modified"] = datetime.now(UTC)
    wiki_server.log.clear()
    rec = run_ingest(settings, fake_embedder)
    assert content_fetches(wiki_server.log) == ["101", "104"]  # the edited page and the commented one
    assert (rec.sources["conf"].updated, rec.sources["conf"].unchanged) == (2, 3)
    reader = Home(settings.home).open_reader()
    assert "31 December" in reader.store.document("conf/101").text
    assert "Level 4 is missing." in reader.store.document("conf/104").text
    wiki_server.log.clear()
    rec = run_ingest(settings, fake_embedder)  # both are still in the listing's overlap window, as they were
    assert content_fetches(wiki_server.log) == [] and rec.sources["conf"].unchanged == 5


def test_a_page_deleted_upstream_leaves_after_the_listing(tmp_path, wiki_server):
    settings = conf_settings(tmp_path, wiki_server.url)
    first = ConfluenceSource(settings.sources[0], settings)
    read(first)
    del wiki_server.pages["101"]
    later = ConfluenceSource(settings.sources[0], settings)
    later.state = first.state
    docs, _, unchanged = read(later)
    assert "conf/101" in unchanged  # the daily listing is not due: kept
    later.state["swept_at"] = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    wiki_server.log.clear()
    swept = ConfluenceSource(settings.sources[0], settings)
    swept.state = later.state
    docs, failures, unchanged = read(swept)
    assert failures == {} and docs == {}
    assert sorted(unchanged) == ["conf/100", "conf/102", "conf/103", "conf/104"]
    assert content_fetches(wiki_server.log) == []  # the listing alone tells
    assert "101" not in swept.state["pages"]


def test_deleted_page_leaves_the_index_and_restriction_changes_are_picked_up(tmp_path, wiki_server, fake_embedder):
    settings = conf_settings(tmp_path, wiki_server.url, sweep_days=0)  # list every page on every run
    run_ingest(settings, fake_embedder)
    del wiki_server.pages["101"]
    wiki_server.pages["102"]["restrictions"] = restriction(["falcon", "leads"], [CAROL])  # no version bump
    wiki_server.comments["104"] = [wiki_server.comment("901", "104", "Level 4 is missing.")]
    wiki_server.comments["104"][0]["_modified"] = datetime.now(UTC)  # a comment bumps no page version either
    wiki_server.log.clear()
    rec = run_ingest(settings, fake_embedder)
    assert rec.sources["conf"].deleted == 1 and rec.sources["conf"].error == ""
    assert content_fetches(wiki_server.log) == ["102", "103", "104"]  # re-restricted, its child, commented
    store = Home(settings.home).open_reader().store
    assert store.document("conf/101") is None
    assert store.document("conf/102").visible_to == ["falcon", "leads", "user:carol@corp.example"]
    assert store.document("conf/103").visible_to == ["falcon", "leads", "user:carol@corp.example"]


def test_a_429_is_waited_out_and_a_failing_page_is_kept_and_retried(tmp_path, wiki_server):
    wiki_server.too_many["/rest/api/content/search"] = ["1"]
    settings = conf_settings(tmp_path, wiki_server.url)
    first = ConfluenceSource(settings.sources[0], settings)
    docs, _, _ = read(first)
    assert len(docs) == 5
    assert sum(p.startswith("/wiki/rest/api/content/search") for p, _ in wiki_server.log) == 4  # 3 pages + 1 retry
    wiki_server.edit("100", "<p>new text</p>")
    wiki_server.broken.add("100")
    second = ConfluenceSource(settings.sources[0], settings)
    second.state = first.state
    docs, failures, unchanged = read(second)
    assert failures["100"].startswith("HTTP 500") and "conf/100" in unchanged
    wiki_server.broken.clear()
    third = ConfluenceSource(settings.sources[0], settings)
    third.state = second.state
    wiki_server.log.clear()
    docs, _, _ = read(third)
    assert "new text" in docs["conf/100"].text and content_fetches(wiki_server.log) == ["100"]


def test_credentials_come_from_the_environment(tmp_path, wiki_server, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV)
    settings = conf_settings(tmp_path, wiki_server.url)
    with pytest.raises(ValueError, match=f"environment variable {TOKEN_ENV}"):
        read(ConfluenceSource(settings.sources[0], settings))
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    read(ConfluenceSource(settings.sources[0], settings))
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    assert all(h.get("Authorization") == expected for _, h in wiki_server.log)
    assert TOKEN not in repr(ConfluenceSource(settings.sources[0], settings)._client().opts)


def test_credentials_never_follow_a_redirect_to_another_server(tmp_path, wiki_server):
    seen: list[str] = []

    def elsewhere(path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        seen.append(path)
        return 200, {"results": []}, {}

    with json_server(elsewhere) as other:
        wiki_server.redirects["/rest/api/space/ENG"] = other.replace("127.0.0.1", "localhost") + "/steal"
        settings = conf_settings(tmp_path, wiki_server.url)
        with pytest.raises(HTTPError, match="redirect to another server"):
            read(ConfluenceSource(settings.sources[0], settings))
        assert seen == []
    wiki_server.redirects["/rest/api/space/ENG"] = f"{wiki_server.url}/rest/api/space/HR"  # same server: followed
    read(ConfluenceSource(settings.sources[0], settings))


def test_storage_format_to_markdown():
    text = storage_to_markdown(
        "<h3>Steps</h3><ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status>"
        "<ac:task-body>renew</ac:task-body></ac:task><ac:task><ac:task-status>incomplete</ac:task-status>"
        "<ac:task-body>announce</ac:task-body></ac:task></ac:task-list>"
        "<ac:structured-macro ac:name=\"note\"><ac:rich-text-body><p>Keys expire.</p></ac:rich-text-body>"
        "</ac:structured-macro><ac:structured-macro ac:name=\"toc\"><ac:parameter ac:name=\"maxLevel\">2"
        "</ac:parameter></ac:structured-macro><table><tr><th>Host</th><th>Port</th></tr><tr><td>vpn1</td>"
        "<td>443</td></tr></table><p><ac:image><ri:attachment ri:filename=\"net.png\" /></ac:image></p>"
        "<script>alert(1)</script><ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[cut off")
    assert text.startswith("### Steps\n\n- [x] renew\n- [ ] announce\n\nNote:")
    assert "Keys expire." in text and "maxLevel" not in text and "2\n" not in text
    assert "| Host | Port\n| vpn1 | 443" in text and "[image: net.png]" in text and "alert" not in text
    assert text.endswith("```\ncut off\n```")
