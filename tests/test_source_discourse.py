"""The discourse source: saved topic files, and the live JSON API against a local server."""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from index.models import Document, Failure
from index.settings import Settings, SourceSettings
from ingest.pipeline import run_ingest
from ingest.sources.discourse import DiscourseSource
from ingest.sources.discourse_api import ClientOptions, DiscourseClient, DiscourseUnavailable

from .conftest import write
from .json_server import json_server

FIXTURES = Path(__file__).parent / "fixtures" / "discourse"
KEY_ENV, KEY, API_USER = "WHOKNOWS_TEST_DISCOURSE_KEY", "secret-key-123", "whoknows-bot"


def read(src: DiscourseSource) -> tuple[dict[str, Document], list[Failure]]:
    docs: dict[str, Document] = {}
    failures: list[Failure] = []
    for item in src.iter_documents():
        if isinstance(item, Failure):
            failures.append(item)
        else:
            docs[item.id] = item
    return docs, failures


def folder_source(path: Path, tmp_path: Path, **options: Any) -> DiscourseSource:
    options.setdefault("base_url", "https://forum.example")
    cfg = SourceSettings(name="forum", kind="discourse", path=str(path), options=options)
    return DiscourseSource(cfg, Settings(home=tmp_path / "home"))


def topic_fixture(tid: int) -> dict[str, Any]:
    return json.loads((FIXTURES / "t" / f"{tid}.json").read_text(encoding="utf-8"))


# ---- saved topic files ---------------------------------------------------------------


def test_saved_topics_become_forum_documents_with_post_sections(tmp_path):
    docs, failures = read(folder_source(FIXTURES, tmp_path))
    assert failures == []
    assert sorted(docs) == ["forum/101", "forum/102", "forum/104"]  # 103 is a private message
    doc = docs["forum/101"]
    assert doc.kind == "forum"
    assert doc.title == topic_fixture(101)["title"]
    assert doc.url == "https://forum.example/t/rsync-drops-permissions-on-backup/101"
    assert doc.tags == ["backup", "rsync"]
    assert docs["forum/102"].tags == ["on-call", "process"]  # tags as {"name": ...} objects
    # the whisper (5) and the post its author deleted (6) are left out
    assert [s.anchor for s in doc.sections] == ["post_1", "post_2", "post_3", "post_4", "post_7"]
    assert doc.sections[3].heading == "Accepted answer by Carol Chen"
    assert doc.sections[3].author.profile_url == "https://forum.example/u/carol"
    assert doc.sections[1].author.name == "bob"  # no display name: the username


def test_html_is_text_with_code_kept_and_scripts_dropped(tmp_path):
    docs, _ = read(folder_source(FIXTURES, tmp_path))
    doc = docs["forum/101"]
    assert "```\nrsync -a /srv/data backup:/srv/data\n```" in doc.sections[0].text
    assert "alert" not in doc.text and "<code>" not in doc.text
    assert "- Acknowledge open pages" in docs["forum/102"].text


def test_roles_likes_and_the_accepted_solution(tmp_path):
    docs, _ = read(folder_source(FIXTURES, tmp_path))
    roles = [(c.person.handles[0], c.role, c.section, c.score) for c in docs["forum/101"].contributions]
    assert roles == [
        ("forum:alice", "asker", 0, None),
        ("forum:bob", "answerer", 1, 1),
        ("forum:alice", "commenter", 2, None),  # the asker's own follow-up is no answer
        ("forum:carol", "answerer", 3, 7),
        ("forum:carol", "accepted-answerer", 3, 7),
        ("forum:alice", "commenter", 4, None),
    ]
    assert [c.score for c in docs["forum/102"].contributions] == [3, 1]  # like_count
    assert docs["forum/101"].contributions[0].at.isoformat() == "2024-02-01T09:00:00+00:00"


def test_accepted_answer_from_the_post_flag_alone(tmp_path):
    topic = topic_fixture(101)
    del topic["accepted_answer"]
    write(tmp_path / "saved/t/101.json", json.dumps(topic))
    docs, _ = read(folder_source(tmp_path / "saved", tmp_path))
    accepted = [c for c in docs["forum/101"].contributions if c.role == "accepted-answerer"]
    assert [c.person.name for c in accepted] == ["Carol Chen"]


def test_category_visibility_from_site_json_and_options(tmp_path):
    docs, _ = read(folder_source(FIXTURES, tmp_path))
    assert docs["forum/101"].visible_to == ["everyone"]
    assert sorted(docs["forum/102"].visible_to) == ["sre", "staff"]  # group_permissions
    assert docs["forum/104"].visible_to == ["staff"]  # restricted, groups unknown: never everyone
    docs, _ = read(folder_source(FIXTURES, tmp_path, category_groups={"secret-projects": ["falcon-team"]}))
    assert docs["forum/104"].visible_to == ["falcon-team"]


def test_bad_files_are_reported_and_the_rest_indexed(tmp_path):
    folder = tmp_path / "saved"
    write(folder / "t/101.json", (FIXTURES / "t/101.json").read_bytes())
    write(folder / "t/broken.json", '{"post_stream": {"posts": [')
    write(folder / "t/other.json", '{"users": []}')
    write(folder / "t/latin1.json", '{"title": "caf\xe9"}'.encode("latin-1"))
    empty = topic_fixture(102)
    empty["post_stream"]["posts"] = []
    write(folder / "t/102.json", json.dumps(empty))
    docs, failures = read(folder_source(folder, tmp_path))
    assert list(docs) == ["forum/101"]
    reasons = {f.item: f.reason for f in failures}
    assert reasons["t/broken.json"].startswith("not valid JSON")
    assert reasons["t/other.json"] == "not a Discourse topic (no post_stream)"
    assert reasons["t/latin1.json"].startswith("not valid UTF-8")
    assert reasons["t/102"] == "topic has no readable posts"


# ---- the live API against a local server ----------------------------------------------


class Forum:
    """A tiny Discourse: /site.json, /latest.json paging, /t/<id>.json in chunks, posts.json."""

    def __init__(self) -> None:
        self.topics = {t: topic_fixture(t) for t in (101, 102, 103, 104)}
        site = json.loads((FIXTURES / "site.json").read_text(encoding="utf-8"))
        self.groups = {c["id"]: c.pop("group_permissions", None) for c in site["categories"]}
        self.site = site
        self.per_page = 2
        self.chunk = 2  # posts per /t/<id>.json, so longer topics need posts.json
        self.too_many: dict[str, list[str]] = {}  # path → Retry-After values still to send as 429
        self.log: list[tuple[str, dict[str, str]]] = []

    def latest(self, page: int) -> dict[str, Any]:
        topics = sorted((t for t in self.topics.values() if t["archetype"] == "regular"),
                        key=lambda t: t["bumped_at"], reverse=True)
        part = topics[page * self.per_page : (page + 1) * self.per_page]
        more = (page + 1) * self.per_page < len(topics)
        summaries = [{k: t[k] for k in ("id", "title", "slug", "posts_count", "created_at", "last_posted_at",
                                        "bumped_at", "pinned", "category_id")} | {"bumped": True} for t in part]
        return {"users": [], "topic_list": {"can_create_topic": False, "per_page": self.per_page,
                                            "more_topics_url": f"/latest?page={page + 1}" if more else None,
                                            "topics": summaries}}

    def answer(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, Any]:
        if path == "/site.json":
            return 200, self.site
        if path == "/latest.json":
            return 200, self.latest(int(query.get("page", ["0"])[0]))
        parts = path.strip("/").removesuffix(".json").split("/")
        if parts[0] == "c" and parts[2] == "show":
            groups = self.groups.get(int(parts[1]))
            if groups is None or headers.get("Api-Key") != KEY:
                return 403, {"errors": ["You are not permitted to view the requested resource."]}
            return 200, {"category": {"id": int(parts[1]), "group_permissions": groups}}
        topic = self.topics.get(int(parts[1]))
        if parts[0] != "t" or topic is None:
            return 404, {"errors": ["not found"]}
        if len(parts) == 3 and parts[2] == "posts":
            wanted = {int(i) for i in query.get("post_ids[]", [])}
            return 200, {"post_stream": {"posts": [p for p in topic["post_stream"]["posts"] if p["id"] in wanted]}}
        shown = copy.deepcopy(topic)
        shown["post_stream"]["posts"] = shown["post_stream"]["posts"][: self.chunk]
        return 200, shown


@pytest.fixture
def forum():
    state = Forum()

    def respond(path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        url = urlsplit(path)
        state.log.append((path, headers))
        pending = state.too_many.get(url.path)
        if pending:
            return 429, {"errors": ["slow down"]}, {"Retry-After": pending.pop(0)}
        return (*state.answer(url.path, parse_qs(url.query), headers), {})

    with json_server(respond) as url:
        state.url = url  # type: ignore[attr-defined]
        yield state


def live_settings(tmp_path: Path, url: str, **options: Any) -> Settings:
    options = {"delay": 0, "api_key_env": KEY_ENV, "api_username": API_USER, "max_wait": 0.01} | options
    return Settings(home=tmp_path / "home", sources=[
        SourceSettings(name="forum", kind="discourse", path=url, options=options)])


def fetched_topics(log: list[tuple[str, dict[str, str]]]) -> list[str]:
    return [p for p, _ in log if p.startswith("/t/") and p.endswith(".json") and "posts" not in p]


def test_live_run_pages_fetches_long_topics_and_sends_the_key(tmp_path, forum, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    settings = live_settings(tmp_path, forum.url)
    docs, failures = read(DiscourseSource(settings.sources[0], settings))
    assert failures == []
    assert sorted(docs) == ["forum/101", "forum/102", "forum/104"]
    assert any("page=1" in p for p, _ in forum.log)  # followed more_topics_url
    assert any("/t/101/posts.json?post_ids" in p for p, _ in forum.log)  # posts past the first chunk
    assert [s.anchor for s in docs["forum/101"].sections] == ["post_1", "post_2", "post_3", "post_4", "post_7"]
    assert docs["forum/101"].url == f"{forum.url}/t/rsync-drops-permissions-on-backup/101"
    assert sorted(docs["forum/102"].visible_to) == ["sre", "staff"]  # groups from /c/5/show.json
    assert docs["forum/104"].visible_to == ["staff"]  # /c/7/show.json refused: fail closed
    assert all(h.get("Api-Key") == KEY and h.get("Api-Username") == API_USER for _, h in forum.log)


def test_second_run_fetches_only_topics_bumped_since(tmp_path, forum, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    settings = live_settings(tmp_path, forum.url)
    read(DiscourseSource(settings.sources[0], settings))
    forum.log.clear()
    topic = forum.topics[102]
    reply = copy.deepcopy(topic["post_stream"]["posts"][1]) | {
        "id": 1013, "post_number": 3, "cooked": "<p>Also hand over the pager.</p>",
        "created_at": "2024-05-01T08:00:00.000Z"}
    topic["post_stream"]["posts"].append(reply)
    topic["post_stream"]["stream"].append(1013)
    topic["bumped_at"] = topic["last_posted_at"] = "2024-05-01T08:00:00.000Z"
    docs, failures = read(DiscourseSource(settings.sources[0], settings))
    assert fetched_topics(forum.log) == ["/t/102.json"]
    assert sorted(docs) == ["forum/101", "forum/102", "forum/104"]  # unchanged topics from the mirror
    assert "Also hand over the pager." in docs["forum/102"].text
    assert not any("page=1" in p for p, _ in forum.log)  # the first page was all that was new


def test_topics_deleted_upstream_leave_at_the_next_sweep(tmp_path, forum, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    daily = live_settings(tmp_path, forum.url)
    read(DiscourseSource(daily.sources[0], daily))
    del forum.topics[101]  # deleted on the forum: no bump, gone from /latest.json
    docs, _ = read(DiscourseSource(daily.sources[0], daily))
    assert "forum/101" in docs  # the daily sweep is not due yet, the mirror still has it
    every_run = live_settings(tmp_path, forum.url, sweep_days=0)
    docs, failures = read(DiscourseSource(every_run.sources[0], every_run))
    assert failures == [] and sorted(docs) == ["forum/102", "forum/104"]
    forum.per_page = 1
    forum.topics[105] = topic_fixture(101) | {"id": 105, "bumped_at": "2024-06-01T00:00:00.000Z"}
    docs, _ = read(DiscourseSource(every_run.sources[0], every_run))
    assert sorted(docs) == ["forum/102", "forum/104", "forum/105"]  # paged listing, nothing lost


def test_http_429_is_retried_after_the_wait_it_asks_for(forum):
    forum.too_many["/site.json"] = ["7"]
    sleeps: list[float] = []
    client = DiscourseClient(forum.url, ClientOptions(delay=0, max_wait=60), sleep=sleeps.append)
    assert "categories" in client.get("/site.json")
    assert [p for p, _ in forum.log] == ["/site.json", "/site.json"]
    assert 7.0 in sleeps


def test_run_survives_a_429_and_gives_up_on_endless_ones(tmp_path, forum, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    forum.too_many["/t/101.json"] = ["1"]
    settings = live_settings(tmp_path, forum.url)
    docs, _ = read(DiscourseSource(settings.sources[0], settings))
    assert fetched_topics(forum.log).count("/t/101.json") == 2 and "forum/101" in docs
    forum.too_many["/latest.json"] = ["1"] * 10
    with pytest.raises(DiscourseUnavailable, match="still answers HTTP 429 after 3 retries"):
        read(DiscourseSource(settings.sources[0], settings))


def test_requests_are_spaced_by_the_delay(forum):
    sleeps: list[float] = []
    client = DiscourseClient(forum.url, ClientOptions(delay=0.5), sleep=sleeps.append)
    client.get("/site.json")
    client.get("/latest.json")
    assert sleeps and 0.3 < sleeps[-1] <= 0.5


def test_unreachable_forum_fails_that_source_not_the_run(tmp_path, settings, fake_embedder):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    settings.sources.append(SourceSettings(name="forum", kind="discourse", path=f"http://127.0.0.1:{port}",
                                           options={"delay": 0, "timeout": 2}))
    rec = run_ingest(settings, fake_embedder)
    assert rec.status == "ok"
    assert rec.sources["wiki"].added == 3
    assert "cannot reach http://127.0.0.1" in rec.sources["forum"].error


def test_missing_api_key_is_a_clear_error_that_never_shows_a_key(tmp_path, forum, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    settings = live_settings(tmp_path, forum.url)
    with pytest.raises(ValueError, match=f"environment variable {KEY_ENV}"):
        read(DiscourseSource(settings.sources[0], settings))
    monkeypatch.setenv(KEY_ENV, KEY)
    forum.too_many["/latest.json"] = ["1"] * 10
    with pytest.raises(DiscourseUnavailable) as err:
        read(DiscourseSource(settings.sources[0], settings))
    assert KEY not in str(err.value)
    mirror = tmp_path / "home" / "discourse"
    assert all(KEY not in p.read_text() for p in mirror.rglob("*.json"))


def test_live_ingest_indexes_the_forum(tmp_path, forum, monkeypatch, fake_embedder):
    monkeypatch.setenv(KEY_ENV, KEY)
    settings = live_settings(tmp_path, forum.url)
    rec = run_ingest(settings, fake_embedder)
    assert rec.status == "ok" and rec.sources["forum"].added == 3
    forum.log.clear()
    again = run_ingest(settings, fake_embedder)
    assert again.sources["forum"].unchanged == 3
    assert fetched_topics(forum.log) == []
