"""A polite Discourse JSON API client and the sync that mirrors a forum into a folder.

The live ``discourse`` source keeps a mirror of the forum under the index home
(``<home>/discourse/<source>/``): one ``t/<id>.json`` per topic in the shape of ``/t/<id>.json``
(all posts, also those past the first page) and ``site.json`` with the categories. Each run
fetches only the topics bumped since the last sync (``/latest.json`` is ordered by bump
date), then the source reads the mirror like a folder of saved topics, so unchanged topics
cost no request and stay in the index.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from index.models import Failure

from .http_json import ClientOptions, JsonClient, SourceUnavailable, secret_from_env
from .http_json import client_options as http_client_options

__all__ = ["ClientOptions", "DiscourseClient", "DiscourseUnavailable", "ForumMirror", "client_options", "parse_time"]

POSTS_PER_REQUEST = 20  # Discourse serves topic posts in chunks of 20


DiscourseUnavailable = SourceUnavailable  # the name Discourse callers and tests know


class DiscourseClient(JsonClient):
    """GETs JSON from one Discourse; the API key travels in headers and is never logged."""

    agent = "whoknows (Discourse source)"

    def _headers(self) -> dict[str, str]:
        h = super()._headers()
        if self.opts.api_key:
            h["Api-Key"] = self.opts.api_key
            h["Api-Username"] = self.opts.api_username or "system"
        return h


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class ForumMirror:
    """Keeps ``folder`` in step with the forum; ``state_file`` remembers the last bump seen."""

    def __init__(self, source: str, client: DiscourseClient, folder: Path, state_file: Path,
                 since: datetime | None = None, max_pages: int = 1000, sweep_every: timedelta | None = None):
        self.source, self.client, self.folder, self.state_file = source, client, folder, state_file
        state = self._load_state()
        self.since = parse_time(state.get("bumped_since")) or since
        # a first sync lists everything there is: nothing to sweep until the next interval
        self.swept_at = parse_time(state.get("swept_at")) or (datetime.now(UTC) if not state else None)
        self.max_pages = max_pages
        self.sweep_every = sweep_every if sweep_every is not None else timedelta(days=1)
        self.fetched = 0

    def _load_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def sync(self) -> Iterator[Failure]:
        """Fetch categories and every topic bumped since the last sync; yields per-topic failures."""
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_json(self.folder / "site.json", {"categories": self._categories()})
        changed = list(self._changed_topics())
        failed: list[datetime] = []
        newest = self.since
        for topic_id, bumped in changed:
            newest = max(newest, bumped) if newest else bumped
            try:
                self._fetch_topic(topic_id)
                self.fetched += 1
            except urllib.error.HTTPError as e:
                if e.code in (403, 404, 410):  # deleted or now private: leave the index
                    (self.folder / "t" / f"{topic_id}.json").unlink(missing_ok=True)
                    continue
                failed.append(bumped)
                yield Failure(self.source, f"t/{topic_id}", f"HTTP {e.code} fetching the topic")
        # a failed topic is fetched again next run: remember a moment just before its bump
        since = min(failed) - timedelta(milliseconds=1) if failed else newest
        now = datetime.now(UTC)
        if self.swept_at is None or now - self.swept_at >= self.sweep_every:
            if self._sweep():
                self.swept_at = now
        state = {"bumped_since": since.isoformat() if since else None,
                 "swept_at": self.swept_at.isoformat() if self.swept_at else None}
        _write_json(self.state_file, {k: v for k, v in state.items() if v})

    def _sweep(self) -> bool:
        """Drop mirrored topics the forum no longer lists (deleted, or moved out of the key's
        sight): a deletion bumps nothing, so only a full listing shows it. Nothing is removed
        unless the listing ran to its end; the mass-deletion guard still checks the result."""
        listed: set[int] = set()
        complete = False
        for topics, more in self._latest_pages():
            listed.update(t["id"] for t in topics if isinstance(t.get("id"), int))
            complete = not more
        if not complete:
            return False  # more pages than max_pages: an incomplete list proves nothing
        for path in (self.folder / "t").glob("*.json"):
            if path.stem.isdigit() and int(path.stem) not in listed:
                path.unlink(missing_ok=True)
        return True

    def _latest_pages(self) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        """(topic summaries, more pages follow) from /latest.json, newest bump first, up to
        ``max_pages``; stops after the last page."""
        for page in range(self.max_pages):
            data = self.client.get("/latest.json", [("page", str(page))]) if page else self.client.get("/latest.json")
            topic_list = data.get("topic_list", {})
            topics = topic_list.get("topics", [])
            more = bool(topics) and bool(topic_list.get("more_topics_url"))
            yield topics, more
            if not more:
                return

    def _categories(self) -> list[dict[str, Any]]:
        """Categories from /site.json; read-restricted ones with the groups that may read them."""
        cats = self.client.get("/site.json").get("categories", [])
        for c in cats:
            if c.get("read_restricted") and "group_permissions" not in c:
                try:
                    shown = self.client.get(f"/c/{c['id']}/show.json").get("category", {})
                    c["group_permissions"] = shown.get("group_permissions", [])
                except urllib.error.HTTPError:
                    c["group_permissions"] = []  # not an admin key: the options mapping or "staff"
        return cats

    def _changed_topics(self) -> Iterator[tuple[int, datetime]]:
        """(topic id, bumped at) from /latest.json pages, newest bump first, down to ``since``."""
        seen: set[int] = set()
        for topics, _ in self._latest_pages():
            reached_old = False
            for t in topics:
                bumped = parse_time(t.get("bumped_at")) or parse_time(t.get("last_posted_at"))
                if bumped is None or t.get("id") in seen:
                    continue
                if self.since is None or bumped > self.since:
                    seen.add(t["id"])
                    yield t["id"], bumped
                elif not t.get("pinned"):  # pinned topics head the list whatever their age
                    reached_old = True
            if reached_old:
                return

    def _fetch_topic(self, topic_id: int) -> None:
        topic = self.client.get(f"/t/{topic_id}.json")
        stream = topic.get("post_stream", {})
        have = {p.get("id") for p in stream.get("posts", [])}
        missing = [i for i in stream.get("stream", []) if i not in have]
        for start in range(0, len(missing), POSTS_PER_REQUEST):
            ids = missing[start : start + POSTS_PER_REQUEST]
            more = self.client.get(f"/t/{topic_id}/posts.json", [("post_ids[]", str(i)) for i in ids])
            stream.setdefault("posts", []).extend(more.get("post_stream", {}).get("posts", []))
        _write_json(self.folder / "t" / f"{topic_id}.json", topic)


def client_options(options: dict[str, Any], source: str) -> ClientOptions:
    """Client settings from the source's options; the API key comes from an environment variable."""
    opts = http_client_options(options, source, secret_from_env(options, "api_key_env", source))
    opts.api_username = str(options.get("api_username", ""))
    return opts


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
