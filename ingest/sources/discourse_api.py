"""A polite Discourse JSON API client and the sync that mirrors a forum into a folder.

The live ``discourse`` source keeps a mirror of the forum under the index home
(``<home>/discourse/<source>/``): one ``t/<id>.json`` per topic in the shape of ``/t/<id>.json``
(all posts, also those past the first page) and ``site.json`` with the categories. Each run
fetches only the topics bumped since the last sync (``/latest.json`` is ordered by bump
date), then the source reads the mirror like a folder of saved topics, so unchanged topics
cost no request and stay in the index.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from index.models import Failure

POSTS_PER_REQUEST = 20  # Discourse serves topic posts in chunks of 20


class DiscourseUnavailable(RuntimeError):
    """The server cannot be reached, refuses the credentials or keeps rate limiting."""


@dataclass
class ClientOptions:
    delay: float = 1.0  # seconds between requests (Discourse allows 60 API requests/min by default)
    retries: int = 3  # retries of a request answered with 429 or 503
    max_wait: float = 60.0  # longest Retry-After honoured; longer waits are cut to this
    timeout: float = 30.0
    api_key: str = field(default="", repr=False)  # never in a log line or a traceback's repr
    api_username: str = ""


class DiscourseClient:
    """GETs JSON from one Discourse; the API key travels in headers and is never logged."""

    def __init__(self, base_url: str, opts: ClientOptions, sleep: Callable[[float], None] = time.sleep):
        self.base = base_url.rstrip("/")
        self.opts = opts
        self.sleep = sleep
        self._last = 0.0
        self.requests = 0

    def _headers(self) -> dict[str, str]:
        h = {"Accept": "application/json", "User-Agent": "whoknows (Discourse source)"}
        if self.opts.api_key:
            h["Api-Key"] = self.opts.api_key
            h["Api-Username"] = self.opts.api_username or "system"
        return h

    def get(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        """JSON of ``path``; raises ``urllib.error.HTTPError`` for 4xx/5xx other than 429/503,
        ``DiscourseUnavailable`` when the server cannot be reached or keeps rate limiting."""
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        for attempt in range(self.opts.retries + 1):
            self._pause()
            try:
                req = urllib.request.Request(url, headers=self._headers())
                with urllib.request.urlopen(req, timeout=self.opts.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                if e.code not in (429, 503) or attempt == self.opts.retries:
                    if e.code in (429, 503):
                        raise DiscourseUnavailable(
                            f"{self.base} still answers HTTP {e.code} after {self.opts.retries} retries") from None
                    raise
                self.sleep(self._retry_after(e.headers.get("Retry-After"), attempt))
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                reason = getattr(e, "reason", e)
                raise DiscourseUnavailable(f"cannot reach {self.base}: {reason}") from None
        raise AssertionError("unreachable")

    def _pause(self) -> None:
        wait = self._last + self.opts.delay - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._last = time.monotonic()
        self.requests += 1

    def _retry_after(self, value: str | None, attempt: int) -> float:
        """Seconds to wait: Retry-After (seconds or an HTTP date), else exponential backoff."""
        wait = float(2 ** attempt)
        if value:
            try:
                wait = float(value)
            except ValueError:
                try:
                    when = email.utils.parsedate_to_datetime(value)
                    wait = (when - datetime.now(UTC)).total_seconds()
                except (TypeError, ValueError):
                    pass  # an unreadable Retry-After: keep the backoff
        return min(max(wait, 0.0), self.opts.max_wait)


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
    key = ""
    env = str(options.get("api_key_env", "")).strip()
    if env:
        key = os.environ.get(env, "")
        if not key:
            raise ValueError(f"source {source!r}: environment variable {env} (options.api_key_env) is not set")
    return ClientOptions(
        delay=float(options.get("delay", 1.0)), retries=int(options.get("retries", 3)),
        max_wait=float(options.get("max_wait", 60.0)), timeout=float(options.get("timeout", 30.0)),
        api_key=key, api_username=str(options.get("api_username", "")),
    )


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
