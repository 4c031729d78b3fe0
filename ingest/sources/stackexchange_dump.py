"""Reading a Stack Exchange data dump folder into a temporary SQLite file, one row at a time.

Each dump file (``<posts><row .../></posts>``) is streamed (``stackexchange_xml``), so a
multi-gigabyte Posts.xml never sits in memory: rows go to a scratch SQLite database and
threads are read back one question at a time. Breaks in a file (truncated, malformed,
wrongly encoded rows) are reported and cost only the broken rows; a file that declares XML
entities (billion laughs, external entities) is refused by defusedxml before any expansion.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.models import Failure

from .stackexchange_xml import DumpBreak, iter_rows

QUESTION, ANSWER = 1, 2
EDIT_TYPES = (4, 5, 6, 7, 8, 9)  # PostHistoryTypeId: title/body/tags edits and rollbacks
UPVOTE, DOWNVOTE = 2, 3
_BATCH = 2000

_Row = tuple[object, ...] | str | None  # a row to insert, a reason to report, or nothing
_Convert = Callable[[dict[str, str]], _Row]


_INT64 = 1 << 63  # SQLite's INTEGER range; a bigger number in one row would fail the whole batch


def _int(value: str | None) -> int | None:
    try:
        n = int(value) if value not in (None, "") else None
    except ValueError:
        return None
    return n if n is None or -_INT64 <= n < _INT64 else None


@dataclass
class Post:
    id: int
    type: int
    parent: int | None
    accepted: int | None
    owner: str  # user id as text, "" when the dump has none
    owner_name: str
    created: str
    activity: str
    score: int | None
    title: str
    tags: str
    body: str
    last_editor: str
    last_edit: str


@dataclass
class Comment:
    id: int
    post: int
    user: str
    user_name: str
    created: str
    score: int | None
    text: str


@dataclass
class Thread:
    """A question with its answers, their comments, their editors and the names of everyone."""

    question: Post
    answers: list[Post]
    comments: dict[int, list[Comment]] = field(default_factory=dict)
    editors: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # post → [(user, at)]
    users: dict[str, str] = field(default_factory=dict)  # user id → display name (Users.xml)


_SCHEMA = """
CREATE TABLE posts (id INTEGER PRIMARY KEY, type INTEGER, parent INTEGER, accepted INTEGER,
    owner TEXT, owner_name TEXT, created TEXT, activity TEXT, score INTEGER, title TEXT,
    tags TEXT, body TEXT, last_editor TEXT, last_edit TEXT);
CREATE INDEX posts_parent ON posts(parent);
CREATE TABLE comments (id INTEGER PRIMARY KEY, post INTEGER, user TEXT, user_name TEXT,
    created TEXT, score INTEGER, text TEXT);
CREATE INDEX comments_post ON comments(post);
CREATE TABLE edits (post INTEGER, user TEXT, at TEXT);
CREATE INDEX edits_post ON edits(post);
CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT);
CREATE TABLE votes (post INTEGER, up INTEGER, down INTEGER);
"""


def find_file(folder: Path, name: str) -> Path | None:
    """``Posts.xml`` or ``posts.xml``: dumps differ in case."""
    exact = folder / name
    if exact.is_file():
        return exact
    for p in folder.iterdir():
        if p.name.lower() == name.lower() and p.is_file():
            return p
    return None


class DumpIndex:
    """A dump folder loaded into a scratch SQLite file (deleted on ``close``)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._tmp = tempfile.TemporaryDirectory(prefix="whoknows-se-")
        self.db = sqlite3.connect(Path(self._tmp.name) / "dump.sqlite")
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.executescript(_SCHEMA)
        self.has_history = False

    def close(self) -> None:
        self.db.close()
        self._tmp.cleanup()

    def __enter__(self) -> DumpIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- loading ---------------------------------------------------------------------

    def load(self, folder: Path) -> Iterator[Failure]:
        """Load every dump file present; yields a Failure per broken file or bad row."""
        posts = find_file(folder, "Posts.xml")
        if posts is None:
            raise FileNotFoundError(f"source {self.source!r}: no Posts.xml in {folder}")
        yield from self._load(posts, "INSERT OR REPLACE INTO posts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                              _post_row)
        for name, sql, convert in (
            ("Users.xml", "INSERT OR REPLACE INTO users VALUES (?,?)", _user_row),
            ("Comments.xml", "INSERT OR REPLACE INTO comments VALUES (?,?,?,?,?,?,?)", _comment_row),
            ("PostHistory.xml", "INSERT INTO edits VALUES (?,?,?)", _edit_row),
        ):
            path = find_file(folder, name)
            if path is not None:
                self.has_history = self.has_history or name == "PostHistory.xml"
                yield from self._load(path, sql, convert)
        votes = find_file(folder, "Votes.xml")
        if votes is not None and self._scoreless_posts():
            yield from self._load_votes(votes)

    def _load(self, path: Path, sql: str, convert: _Convert) -> Iterator[Failure]:
        batch: list[tuple[object, ...]] = []
        n = 0
        try:
            for item in iter_rows(path):
                if isinstance(item, DumpBreak):
                    yield Failure(self.source, item.item, f"{item.reason} ({item.rows_before} rows read before it)")
                    continue
                n += 1
                row = convert(item)
                if isinstance(row, str):
                    yield Failure(self.source, f"{path.name} row {n}", row)
                elif row is not None:
                    batch.append(row)
                if len(batch) >= _BATCH:
                    self.db.executemany(sql, batch)
                    batch.clear()
        finally:
            self.db.executemany(sql, batch)

    def _scoreless_posts(self) -> bool:
        return self.db.execute("SELECT 1 FROM posts WHERE score IS NULL LIMIT 1").fetchone() is not None

    def _load_votes(self, path: Path) -> Iterator[Failure]:
        """Score = up votes - down votes, for posts whose row has no Score."""
        yield from self._load(path, "INSERT INTO votes VALUES (?,?,?)", _vote_row)
        self.db.execute(
            "UPDATE posts SET score = (SELECT sum(up) - sum(down) FROM votes WHERE votes.post = posts.id) "
            "WHERE score IS NULL"
        )

    # ---- reading ---------------------------------------------------------------------

    def question_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM posts WHERE type = ? ORDER BY id", (QUESTION,))]

    def orphan_answers(self) -> list[tuple[int, int | None]]:
        """Answers whose question is not in the dump (deleted, or past a truncation)."""
        return list(self.db.execute(
            "SELECT id, parent FROM posts WHERE type = ? AND (parent IS NULL OR parent NOT IN "
            "(SELECT id FROM posts WHERE type = ?)) ORDER BY id", (ANSWER, QUESTION)))

    def thread(self, qid: int) -> Thread:
        (question,) = self._posts("id = ?", [qid])
        answers = self._posts("parent = ? AND type = ?", [qid, ANSWER])
        thread = Thread(question, answers)
        ids = [qid, *(a.id for a in answers)]
        marks = ",".join("?" * len(ids))
        for r in self.db.execute(f"SELECT * FROM comments WHERE post IN ({marks}) ORDER BY created, id", ids):
            thread.comments.setdefault(r[1], []).append(Comment(*r))
        for post, user, at in self.db.execute(
            f"SELECT post, user, max(at) FROM edits WHERE post IN ({marks}) GROUP BY post, user ORDER BY 3", ids
        ):
            thread.editors.setdefault(post, []).append((user, at))
        if not self.has_history:  # no PostHistory.xml: the last editor is all the dump says
            for p in (question, *answers):
                if p.last_editor:
                    thread.editors[p.id] = [(p.last_editor, p.last_edit)]
        thread.users = self._names(thread)
        return thread

    def _posts(self, where: str, args: Iterable[object]) -> list[Post]:
        return [Post(*r) for r in self.db.execute(f"SELECT * FROM posts WHERE {where} ORDER BY id", list(args))]

    def _names(self, t: Thread) -> dict[str, str]:
        ids = {p.owner for p in (t.question, *t.answers)}
        ids |= {c.user for cs in t.comments.values() for c in cs}
        ids |= {u for es in t.editors.values() for u, _ in es}
        ids.discard("")
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return dict(self.db.execute(f"SELECT id, name FROM users WHERE id IN ({marks})", sorted(ids)))


def _post_row(a: dict[str, str]) -> _Row:
    pid, ptype = _int(a.get("Id")), _int(a.get("PostTypeId"))
    if pid is None:
        return "post row without a numeric Id"
    if ptype not in (QUESTION, ANSWER):
        return None  # tag wikis, moderator nominations: not threads
    return (pid, ptype, _int(a.get("ParentId")), _int(a.get("AcceptedAnswerId")),
            a.get("OwnerUserId", ""), a.get("OwnerDisplayName", ""), a.get("CreationDate", ""),
            a.get("LastActivityDate", ""), _int(a.get("Score")), a.get("Title", ""), a.get("Tags", ""),
            a.get("Body", ""), a.get("LastEditorUserId", ""), a.get("LastEditDate", ""))


def _user_row(a: dict[str, str]) -> _Row:
    if not a.get("Id"):
        return "user row without an Id"
    return (a["Id"], a.get("DisplayName", ""))


def _comment_row(a: dict[str, str]) -> _Row:
    cid, post = _int(a.get("Id")), _int(a.get("PostId"))
    if cid is None or post is None:
        return "comment row without a numeric Id or PostId"
    return (cid, post, a.get("UserId", ""), a.get("UserDisplayName", ""), a.get("CreationDate", ""),
            _int(a.get("Score")), a.get("Text", ""))


def _edit_row(a: dict[str, str]) -> _Row:
    if _int(a.get("PostHistoryTypeId")) not in EDIT_TYPES or not a.get("UserId"):
        return None
    post = _int(a.get("PostId"))
    return (post, a["UserId"], a.get("CreationDate", "")) if post is not None else None


def _vote_row(a: dict[str, str]) -> _Row:
    kind, post = _int(a.get("VoteTypeId")), _int(a.get("PostId"))
    if post is None or kind not in (UPVOTE, DOWNVOTE):
        return None
    return (post, int(kind == UPVOTE), int(kind == DOWNVOTE))
