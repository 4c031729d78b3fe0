"""``markdown``: a folder of Markdown files; authors, dates, tags and visibility from front matter.

Front matter keys read: ``title``, ``author``/``authors`` ("Name <email>" or a list),
``date``/``created``, ``updated``/``last_modified``, ``tags``, ``visible_to``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from index.models import Contribution, Document, Failure, Person, Section, Unchanged
from index.settings import Settings, SourceSettings

from .files_common import ListedFolder, acl_for, link_for

SUFFIXES = (".md", ".markdown")
_AUTHOR = re.compile(r"^\s*(?P<name>[^<]*?)\s*(?:<(?P<email>[^>]+)>)?\s*$")


def parse_author(value: str, source: str) -> Person | None:
    m = _AUTHOR.match(str(value))
    if not m or not (m["name"] or m["email"]):
        return None
    name = m["name"] or m["email"].split("@")[0]
    emails = [m["email"].lower()] if m["email"] else []
    return Person(name=name, emails=emails, handles=[f"{source}:{name.lower()}"])


def to_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            t = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=UTC)
    return None


# Front matter values are read as scalars or lists of scalars only: YAML aliases can nest a
# few lines into billions of items ("billion laughs"), which str() would expand
_SCALARS = (str, int, float, date)


def is_plain(value: Any) -> bool:
    return isinstance(value, _SCALARS) or (isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value))


def as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if isinstance(v, _SCALARS) and str(v).strip()]
    return [str(value)] if isinstance(value, _SCALARS) else []


def scalar(value: Any) -> str:
    return str(value).strip() if value and isinstance(value, _SCALARS) else ""


def page_title(meta: dict[str, Any], body: str, path: Path) -> str:
    if title := scalar(meta.get("title")):
        return title
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.M)
    if m:
        return re.sub(r"[*_`]+", "", m.group(1)).strip()
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize()


def _folder_tags(rel: str) -> list[str]:
    """Without front-matter tags, a page's folders are its topics (wiki sections)."""
    return [p for p in rel.split("/")[:-1] if p][:3]
def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body); broken front matter leaves the whole text as the body."""
    try:
        post = frontmatter.loads(text)
        return dict(post.metadata), post.content
    except (yaml.YAMLError, ValueError):
        return {}, text


class MarkdownSource(ListedFolder):
    suffixes = SUFFIXES

    def __init__(self, cfg: SourceSettings, settings: Settings):
        self.cfg = cfg
        self.name = cfg.name
        self.root = settings.resolve(cfg.path)
        # incremental runs: {"files": {relative path: [mtime_ns, size]}} of indexed files
        self.state: dict[str, Any] = {}

    def iter_documents(self) -> Iterator[Document | Unchanged | Failure]:
        for item in self.listing():
            yield self.read_listed(item) if isinstance(item, str) else item
        self.finish_listing()

    def read(self, path: Path, rel: str, calls: Any = None) -> Document | Failure:
        size = path.stat().st_size
        if size > self.cfg.max_file_mb * 1024 * 1024:
            return Failure(self.name, rel, f"larger than max_file_mb ({size} bytes)")
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            return Failure(self.name, rel, f"not valid UTF-8 (byte {e.start})")
        if not text.strip():
            return Failure(self.name, rel, "empty file")
        meta, body = split_front_matter(text)  # broken front matter: the page as plain Markdown
        if not body.strip():
            return Failure(self.name, rel, "no text after front matter")
        if not is_plain(meta.get("visible_to", "")):  # never guess who may read a page
            return Failure(self.name, rel, "front matter visible_to must be a group or a list of groups")
        mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).replace(microsecond=0)
        created = to_time(meta.get("date") or meta.get("created"))
        updated = to_time(meta.get("updated") or meta.get("last_modified")) or created or mtime
        authors = [p for a in as_list(meta.get("authors") or meta.get("author"))
                   if (p := parse_author(a, self.name))]
        contributions = [
            Contribution(person=p, role="author", weight=1.0 / (1 + i), at=updated)
            for i, p in enumerate(authors)
        ]
        return Document(
            id=f"{self.name}/{rel}", source=self.name, kind="wiki", title=page_title(meta, body, path),
            sections=[Section(body)], url=link_for(self.cfg, rel), created_at=created,
            updated_at=updated, visible_to=acl_for(rel, self.cfg.acl, as_list(meta.get("visible_to"))),
            tags=as_list(meta.get("tags")) or _folder_tags(rel), contributions=contributions,
            markdown=True,
        )
