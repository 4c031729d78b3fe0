"""``discourse``: a Discourse forum, one ``forum`` document per topic, one section per post.

``path`` is either a folder of saved topic JSON files (the shape of ``/t/<id>.json``, e.g. made
with ``curl https://forum.example/t/123.json``; an optional ``site.json`` or
``categories.json`` beside them gives the categories), or the forum's base URL
(``https://forum.example``) to read it live through the JSON API. Live runs mirror the forum
under ``<home>/discourse/<source>/`` and fetch only topics bumped since the last run.

Options:

- ``base_url``: the forum's address for links when ``path`` is a folder.
- ``api_key_env`` / ``api_username``: the name of the environment variable that holds an
  API key, and the user it acts as (``Api-Key``/``Api-Username`` headers); leave out for a
  public forum.
- ``delay`` (1.0 s between requests), ``retries`` (3, for HTTP 429/503, honouring
  Retry-After), ``max_wait`` (60 s, the longest Retry-After honoured), ``timeout`` (30 s).
- ``since``: ISO date; the first live run fetches only topics bumped since then.
- ``sweep_days`` (1): how often a live run lists every topic to drop the ones deleted upstream
  (a deletion bumps nothing); ``0`` lists them on every run.
- ``category_groups``: ``{category slug or id = [groups]}``, who may see each category's
  topics. Read-restricted categories not listed get the groups the API names
  (``/c/<id>/show.json``, needs an admin key) or else ``["staff"]``; never everyone.

Roles: ``asker`` (the topic's first post), ``answerer`` (a reply by someone else),
``commenter`` (a reply by the topic's own author), ``accepted-answerer`` (in addition, the
author of the post the Solved plugin marks as the solution). ``score`` is the post's likes.
Private messages, whispers, deleted and hidden posts are never indexed.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from index.models import EVERYONE, Contribution, Document, Failure, Person, Section
from index.settings import Settings, SourceSettings

from ..html_text import html_to_text
from .discourse_api import DiscourseClient, DiscourseUnavailable, ForumMirror, client_options, parse_time
from .files_common import acl_for, walk_files

WEIGHTS = {"asker": 1.0, "answerer": 1.0, "accepted-answerer": 1.0, "commenter": 0.2}
BOTS = {"system", "discobot"}
REGULAR_POST, MODERATOR_ACTION = 1, 2
LIKE = 2  # actions_summary id of a like
CATEGORY_FILES = ("site.json", "categories.json")


@dataclass
class Category:
    id: int
    slug: str
    read_restricted: bool
    groups: list[str]


class DiscourseSource:
    def __init__(self, cfg: SourceSettings, settings: Settings):
        self.cfg = cfg
        self.name = cfg.name
        self.live = cfg.path.startswith(("http://", "https://"))
        self.base = (cfg.path if self.live else str(cfg.options.get("base_url", ""))).rstrip("/")
        self.folder = (settings.home / "discourse" / cfg.name) if self.live else settings.resolve(cfg.path)
        self.state_file = settings.home / "discourse" / f"{cfg.name}.state.json"
        self.category_groups = {str(k): list(v) for k, v in dict(cfg.options.get("category_groups", {})).items()}

    def iter_documents(self) -> Iterator[Document | Failure]:
        if self.live:
            yield from self._sync()
        elif not self.folder.is_dir():
            raise FileNotFoundError(f"source {self.name!r}: folder not found: {self.folder}")
        categories = self._categories()
        for path in walk_files(self.folder, (".json",)):
            rel = path.relative_to(self.folder).as_posix()
            if rel in CATEGORY_FILES:
                continue
            try:
                item = self._read(path, rel, categories)
            except OSError as e:  # one bad file never stops the run
                item = Failure(self.name, rel, f"{type(e).__name__}: {e}")
            except Exception as e:  # a field of the wrong type: JSON, but not as Discourse writes it
                item = Failure(self.name, rel, f"not a Discourse topic as expected ({type(e).__name__}: {e})")
            if item is not None:
                yield item

    def _sync(self) -> Iterator[Failure]:
        client = DiscourseClient(self.base, client_options(self.cfg.options, self.name))
        since = parse_time(str(self.cfg.options.get("since", "")))
        sweep = timedelta(days=float(self.cfg.options.get("sweep_days", 1)))
        mirror = ForumMirror(self.name, client, self.folder, self.state_file, since, sweep_every=sweep)
        try:
            yield from mirror.sync()
        except urllib.error.HTTPError as e:
            raise DiscourseUnavailable(f"{self.base}: HTTP {e.code} for {e.url}") from None

    def _categories(self) -> dict[int, Category]:
        """Categories from site.json; one that cannot be read fails the source (its topics'
        visibility depends on it) with the file's name in the reason."""
        for name in CATEGORY_FILES:
            path = self.folder / name
            if path.is_file():
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                    cats = data.get("categories") or data.get("category_list", {}).get("categories", [])
                    if not isinstance(cats, list):
                        raise ValueError("no list of categories")
                    return {c["id"]: self._category(c) for c in cats if isinstance(c, dict) and "id" in c}
                except Exception as e:
                    raise ValueError(f"{name} is unreadable ({type(e).__name__}: {e}); who may see each topic "
                                     "depends on it, so the source was left as it was") from None
        return {}

    def _category(self, c: dict[str, Any]) -> Category:
        groups = [g["group_name"] for g in c.get("group_permissions") or [] if g.get("group_name")]
        return Category(int(c["id"]), str(c.get("slug", "")), bool(c.get("read_restricted")), groups)

    def _read(self, path: Path, rel: str, categories: dict[int, Category]) -> Document | Failure | None:
        size = path.stat().st_size
        if size > self.cfg.max_file_mb * 1024 * 1024:
            return Failure(self.name, rel, f"larger than max_file_mb ({size} bytes)")
        try:
            topic = json.loads(path.read_bytes().decode("utf-8-sig"))
        except UnicodeDecodeError as e:
            return Failure(self.name, rel, f"not valid UTF-8 (byte {e.start})")
        except json.JSONDecodeError as e:
            return Failure(self.name, rel, f"not valid JSON: {e}")
        if not isinstance(topic, dict) or not isinstance(topic.get("post_stream"), dict):
            return Failure(self.name, rel, "not a Discourse topic (no post_stream)")
        if topic.get("archetype") == "private_message":
            return None  # personal messages are never indexed
        tid = topic.get("id")
        if isinstance(tid, bool) or not str(tid).isdigit():  # two such topics would overwrite each other
            return Failure(self.name, rel, f"topic id is not a number: {str(tid)[:40]!r}")
        return self.document(topic, categories)

    def visible_to(self, topic: dict[str, Any], categories: dict[int, Category]) -> list[str]:
        cat = categories.get(topic.get("category_id") or -1)
        slug = cat.slug if cat else ""
        declared = self.category_groups.get(slug) or self.category_groups.get(str(topic.get("category_id")))
        if not declared and cat and cat.read_restricted:
            declared = cat.groups or ["staff"]
        return acl_for(f"c/{slug or topic.get('category_id', '')}/{topic.get('id')}", self.cfg.acl,
                       declared or [EVERYONE])

    def topic_url(self, topic: dict[str, Any]) -> str:
        slug, tid = topic.get("slug") or "topic", topic.get("id")
        if self.cfg.url:
            return self.cfg.url.format(id=tid, path=f"t/{slug}/{tid}")
        return f"{self.base}/t/{slug}/{tid}" if self.base else ""

    def person(self, post: dict[str, Any]) -> Person | None:
        username = str(post.get("username") or "").strip()
        if not username:
            return None
        name = str(post.get("name") or "").strip() or username
        return Person(name=name, handles=[f"{self.name}:{username.lower()}"],
                      profile_url=f"{self.base}/u/{username}" if self.base else "")

    def document(self, topic: dict[str, Any], categories: dict[int, Category]) -> Document | Failure:
        tid = topic.get("id")
        posts = sorted((p for p in topic["post_stream"].get("posts", []) if _shown(p)),
                       key=lambda p: int(p.get("post_number") or 0))
        if not posts:
            return Failure(self.name, f"t/{tid}", "topic has no readable posts")
        accepted = _accepted_number(topic, posts)
        starter = str(posts[0].get("username") or "").lower() if posts[0].get("post_number") == 1 else ""
        sections: list[Section] = []
        contributions: list[Contribution] = []
        for post in posts:
            number = int(post.get("post_number") or 0)
            author = self.person(post)
            is_accepted = number == accepted
            sections.append(Section(
                text=html_to_text(str(post.get("cooked") or "")), heading=_heading(number, is_accepted, author),
                anchor=f"post_{number}", author=author,
            ))
            username = str(post.get("username") or "").lower()
            if author is None or username in BOTS:
                continue
            role = "asker" if number == 1 else "commenter" if starter and username == starter else "answerer"
            roles = [role, "accepted-answerer"] if is_accepted else [role]
            contributions += [Contribution(author, r, WEIGHTS[r], parse_time(post.get("created_at")),
                                           len(sections) - 1, _likes(post)) for r in roles]
        times = [t for p in posts if (t := parse_time(p.get("updated_at") or p.get("created_at")))]
        return Document(
            id=f"{self.name}/{tid}", source=self.name, kind="forum",
            title=str(topic.get("title") or f"Topic {tid}").strip(), sections=sections, url=self.topic_url(topic),
            created_at=parse_time(topic.get("created_at")),
            updated_at=parse_time(topic.get("last_posted_at")) or (max(times) if times else None),
            visible_to=self.visible_to(topic, categories), tags=_tags(topic.get("tags")),
            contributions=contributions,
        )


def _shown(post: Any) -> bool:
    """Regular posts that are neither deleted, hidden nor whispers, and have text."""
    return (isinstance(post, dict) and post.get("post_type", REGULAR_POST) in (REGULAR_POST, MODERATOR_ACTION)
            and not post.get("deleted_at") and not post.get("hidden") and not post.get("user_deleted")
            and bool(str(post.get("cooked") or "").strip()))


def _accepted_number(topic: dict[str, Any], posts: list[dict[str, Any]]) -> int | None:
    """The Solved plugin marks the solution on the topic (``accepted_answer``) and on the post."""
    info = topic.get("accepted_answer")
    if isinstance(info, dict) and info.get("post_number"):
        return int(info["post_number"])
    return next((int(p["post_number"]) for p in posts if p.get("accepted_answer") is True), None)


def _likes(post: dict[str, Any]) -> int | None:
    if isinstance(post.get("like_count"), int):
        return int(post["like_count"])
    for action in post.get("actions_summary") or []:
        if isinstance(action, dict) and action.get("id") == LIKE:
            return int(action.get("count") or 0)
    return None


def _tags(value: Any) -> list[str]:
    """Tags are strings, or ``{"name": ...}`` objects in recent Discourse versions."""
    out = []
    for t in value or []:
        name = t.get("name") if isinstance(t, dict) else t
        if isinstance(name, str) and name.strip():
            out.append(name.strip())
    return out


def _heading(number: int, accepted: bool, author: Person | None) -> str:
    what = "Accepted answer" if accepted else "Topic" if number == 1 else f"Reply #{number}"
    return f"{what} by {author.name}" if author else what
