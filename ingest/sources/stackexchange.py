"""``stackexchange``: a Stack Exchange data dump folder, one ``forum`` document per thread.

Reads ``Posts.xml`` (required) and, when present, ``Users.xml`` (display names),
``Comments.xml``, ``PostHistory.xml`` (editors) and ``Votes.xml`` (scores for rows without
one). Each thread is the question followed by its answers, the accepted answer first and
then by score; each post is one section with its own author and anchor (the answer id), and
its comments follow its text. Options:

- ``site``: the site's host, e.g. ``"cardano.stackexchange.com"``; thread links are
  ``https://<site>/q/<id>`` and author links ``https://<site>/users/<id>``. May be left out
  when ``url`` is a template such as ``"https://cardano.stackexchange.com/q/{id}"``.
- ``comments`` (default true): include comments and their authors.

Re-runs: when no file of the dump folder changed size or modification time since the last
run, the dump is not parsed again and every thread is reported unchanged (with the last
run's failures).

Roles (``Contribution.role``): ``asker`` (the question's owner), ``answerer`` (the owner of
each answer), ``accepted-answerer`` (in addition to ``answerer``, for the accepted answer's
owner), ``commenter`` (one per comment) and ``editor`` (someone other than the owner who
edited a post, per PostHistory.xml; without it, the post's last editor). ``score`` is the
post's (or comment's) score, ``at`` its creation date, ``section`` the post's section.
Posts by the Community bot (user -1) are kept but credit no one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from index.models import Contribution, Document, Failure, Person, Section, Unchanged
from index.settings import Settings, SourceSettings

from ..html_text import html_to_text
from .files_common import acl_for, replayed
from .stackexchange_dump import Comment, DumpIndex, Post, Thread

# A contribution's weight says how much of the thread it is; role weights for expertise
# are search's business. Comments and edits are small next to a question or an answer.
WEIGHTS = {"asker": 1.0, "answerer": 1.0, "accepted-answerer": 1.0, "commenter": 0.2, "editor": 0.2}
COMMUNITY_USER = "-1"
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?")


def site_host(cfg: SourceSettings) -> str:
    """The site's host from ``options.site`` or the ``url`` template."""
    site = str(cfg.options.get("site", "")).strip()
    if site:
        host = urlsplit(site).netloc or site.strip("/")
    else:
        host = urlsplit(cfg.url).netloc if cfg.url else ""
    if host and not _HOST.fullmatch(host):
        raise ValueError(f"source {cfg.name!r}: options.site must be a host name such as "
                         f"\"cardano.stackexchange.com\", not {host[:100]!r}")
    if host:
        return host
    raise ValueError(
        f"source {cfg.name!r}: set options.site (e.g. \"cardano.stackexchange.com\") or url, "
        "so every post links back to its thread and author (CC BY-SA attribution)"
    )


def parse_tags(value: str) -> list[str]:
    """``<a><b>`` (classic dumps) or ``|a|b|`` (2023 and later)."""
    return [t for t in re.split(r"[<>|]+", value) if t.strip()]


def to_time(value: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class StackExchangeSource:
    def __init__(self, cfg: SourceSettings, settings: Settings):
        self.cfg = cfg
        self.name = cfg.name
        self.root = settings.resolve(cfg.path)
        self.site = site_host(cfg)
        self.with_comments = bool(cfg.options.get("comments", True))
        # incremental runs: {"files": {name: [size, mtime_ns]}, "ids": [...], "failures": [[item, reason]]}
        self.state: dict[str, Any] = {}

    def iter_documents(self) -> Iterator[Document | Unchanged | Failure]:
        if not self.root.is_dir():
            raise FileNotFoundError(f"source {self.name!r}: folder not found: {self.root}")
        files = {p.name: [st.st_size, st.st_mtime_ns] for p in sorted(self.root.iterdir())
                 if p.is_file() and (st := p.stat())}
        if (again := replayed(self.name, self.state, files)) is not None:
            yield from again
            return
        ids: list[str] = []
        failures: list[list[str]] = []
        for item in self._read_dump():
            if isinstance(item, Document):
                ids.append(item.id)
            else:
                failures.append([item.item, item.reason])
            yield item
        self.state = {"files": files, "ids": ids, "failures": failures}

    def _read_dump(self) -> Iterator[Document | Failure]:
        with DumpIndex(self.name) as dump:
            yield from dump.load(self.root)
            for aid, parent in dump.orphan_answers():
                reason = ("answer without a ParentId" if parent is None else
                          f"answer to question {parent}, which is not in Posts.xml (deleted?)")
                yield Failure(self.name, f"a/{aid}", reason)
            for qid in dump.question_ids():
                try:
                    yield self.document(dump.thread(qid))
                except Exception as e:  # one bad thread never stops the run
                    yield Failure(self.name, f"q/{qid}", f"{type(e).__name__}: {e}")

    def thread_url(self, qid: int) -> str:
        if self.cfg.url:
            return self.cfg.url.format(id=qid, path=f"q/{qid}")
        return f"https://{self.site}/q/{qid}"

    def person(self, uid: str, fallback_name: str, users: dict[str, str]) -> Person | None:
        """The author of a post or comment: Users.xml name, else the name in the row."""
        if uid:
            name = users.get(uid) or fallback_name or f"user{uid}"
            return Person(name=name, handles=[f"{self.name}:{uid}"],
                          profile_url=f"https://{self.site}/users/{uid}")
        if fallback_name:  # a deleted or anonymous user: a name and nothing else
            return Person(name=fallback_name, handles=[f"{self.name}:{fallback_name.lower()}"])
        return None

    def document(self, t: Thread) -> Document:
        q = t.question
        answers = sorted(t.answers, key=lambda a: (a.id != q.accepted, -(a.score or 0), a.created, a.id))
        sections: list[Section] = []
        contributions: list[Contribution] = []
        for i, post in enumerate([q, *answers]):
            accepted = i > 0 and post.id == q.accepted
            roles = ["asker"] if i == 0 else ["answerer", "accepted-answerer"] if accepted else ["answerer"]
            author = self.person(post.owner, post.owner_name, t.users)
            comments = t.comments.get(post.id, []) if self.with_comments else []
            sections.append(Section(
                text=self._post_text(post, comments, t.users), heading=_heading(i, accepted, author),
                anchor="" if i == 0 else str(post.id), author=author,
            ))
            if author is not None and post.owner != COMMUNITY_USER:
                contributions += [Contribution(author, r, WEIGHTS[r], to_time(post.created), i, post.score)
                                  for r in roles]
            contributions += self._comment_contributions(comments, i, t.users)
            contributions += self._editor_contributions(post, t.editors.get(post.id, []), i, t.users)
        activity = [at for p in (q, *answers) if (at := to_time(p.activity or p.created))]
        return Document(
            id=f"{self.name}/{q.id}", source=self.name, kind="forum",
            title=q.title.strip() or f"Question {q.id}", sections=sections, url=self.thread_url(q.id),
            created_at=to_time(q.created), updated_at=max(activity) if activity else None,
            visible_to=acl_for(f"q/{q.id}", self.cfg.acl), tags=parse_tags(q.tags),
            contributions=contributions,
        )

    def _post_text(self, post: Post, comments: list[Comment], users: dict[str, str]) -> str:
        body = html_to_text(post.body) or (post.title if post.type == 1 else "")
        lines = []
        for c in comments:
            who = self.person(c.user, c.user_name, users)
            lines.append(f"Comment by {who.name if who else 'an unknown user'}: {' '.join(c.text.split())}")
        return "\n\n".join(p for p in (body, "\n".join(lines)) if p)

    def _comment_contributions(self, comments: list[Comment], section: int, users: dict[str, str]
                               ) -> list[Contribution]:
        out = []
        for c in comments:
            who = self.person(c.user, c.user_name, users)
            if who is not None and c.user != COMMUNITY_USER:
                out.append(Contribution(who, "commenter", WEIGHTS["commenter"], to_time(c.created), section,
                                        c.score))
        return out

    def _editor_contributions(self, post: Post, edits: list[tuple[str, str]], section: int,
                              users: dict[str, str]) -> list[Contribution]:
        out = []
        for uid, at in edits:
            if uid in ("", post.owner, COMMUNITY_USER):
                continue
            who = self.person(uid, "", users)
            if who is not None:
                out.append(Contribution(who, "editor", WEIGHTS["editor"], to_time(at), section))
        return out


def _heading(index: int, accepted: bool, author: Person | None) -> str:
    what = "Question" if index == 0 else "Accepted answer" if accepted else "Answer"
    return f"{what} by {author.name}" if author else what
