"""Votes and result opens in ``state.sqlite`` (migration s004): outside the generations, so
they survive re-indexing, and pruned after ``[feedback] retention_days``.

One vote per viewer, item and query: a second vote replaces the first (the primary key).
Opens are appended; the ranking counts one per viewer, document and query.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .gaps import normalise
from .migrations import connect_state

KINDS = ("result", "answer", "expert")
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True)
class Vote:
    kind: str
    query: str  # normalised
    item_id: str  # document id (result, answer) or person id (expert)
    viewer: str
    vote: int  # 1 or -1
    at: float


@dataclass(frozen=True)
class Click:
    viewer: str
    query: str
    doc_id: str
    rank: int
    at: float


@dataclass(frozen=True)
class QueryVector:
    query: str
    text: str
    model: str
    vector: np.ndarray


@dataclass
class FeedbackRows:
    """Everything the ranking reads, as of ``version``."""

    votes: list[Vote]
    clicks: list[Click]
    vectors: list[QueryVector]
    version: int


@dataclass
class ItemTally:
    kind: str
    item_id: str
    up: int
    down: int
    queries: int


@dataclass
class QueryOpens:
    query: str
    opens: int  # distinct (viewer, document) opens
    viewers: int
    down: int


class FeedbackLog:
    def __init__(self, path: Path, retention_days: float = 0.0):
        self.path = path
        self.retention_days = retention_days
        self._pruned_at = 0.0

    def _db(self) -> sqlite3.Connection:
        return connect_state(self.path)

    def vote(self, kind: str, query: str, item_id: str, viewer: str, vote: int, now: float | None = None) -> None:
        if kind not in KINDS or vote not in (1, -1):
            raise ValueError(f"kind must be one of {', '.join(KINDS)} and vote 1 or -1")
        key = normalise(query)
        if not key or not item_id or not viewer:
            raise ValueError("a vote needs a query, an item and a viewer")
        self._write("INSERT INTO feedback(kind, query, item_id, viewer, vote, at) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT(kind, query, item_id, viewer) DO UPDATE SET vote = excluded.vote, at = excluded.at",
                    (kind, key, item_id[:1000], viewer[:200], vote, now or time.time()))

    def click(self, query: str, doc_id: str, viewer: str, rank: int, now: float | None = None) -> None:
        key = normalise(query)
        if not key or not doc_id or not viewer:
            raise ValueError("an open needs a query, a document and a viewer")
        at = now or time.time()
        # the same open again within the hour is not another row: a reloading page or a script
        # clicking all day cannot grow the table (the ranking counts one per viewer anyway)
        self._write("INSERT INTO clicks(viewer, query, doc_id, rank, at) SELECT ?,?,?,?,? WHERE NOT EXISTS "
                    "(SELECT 1 FROM clicks WHERE query = ? AND doc_id = ? AND viewer = ? AND at > ?)",
                    (viewer[:200], key, doc_id[:1000], max(0, min(rank, 10_000)), at,
                     key, doc_id[:1000], viewer[:200], at - 3600))

    def remember_query(self, query: str, text: str, model: str, vector: np.ndarray) -> None:
        """The query's vector, for the similar-query transfer (kept while it has feedback)."""
        self._write("INSERT OR REPLACE INTO feedback_queries(query, text, model, vector, at) VALUES (?,?,?,?,?)",
                    (normalise(query), text[:500], model, np.asarray(vector, dtype="float32").tobytes(),
                     time.time()))

    def has_query(self, query: str, model: str) -> bool:
        db = self._db()
        try:
            return db.execute("SELECT 1 FROM feedback_queries WHERE query = ? AND model = ?",
                              (normalise(query), model)).fetchone() is not None
        finally:
            db.close()

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        db = self._db()
        try:
            db.execute(sql, args)
        finally:
            db.close()
        if time.time() - self._pruned_at > PRUNE_EVERY_S:
            self.prune()

    def prune(self, now: float | None = None) -> int:
        """Delete what is older than the retention (and query vectors nothing refers to)."""
        now = now or time.time()
        self._pruned_at = now
        if self.retention_days <= 0:
            return 0
        cut = now - self.retention_days * 86400
        db = self._db()
        try:
            with db:
                n = db.execute("DELETE FROM feedback WHERE at < ?", (cut,)).rowcount
                n += db.execute("DELETE FROM clicks WHERE at < ?", (cut,)).rowcount
                db.execute("DELETE FROM feedback_queries WHERE query NOT IN (SELECT query FROM feedback) "
                           "AND query NOT IN (SELECT query FROM clicks)")
        finally:
            db.close()
        return n

    def version(self, db: sqlite3.Connection | None = None) -> int:
        own = db is None
        db = db or self._db()
        try:
            return int(db.execute("SELECT n FROM feedback_version").fetchone()[0])
        finally:
            if own:
                db.close()

    def rows(self) -> FeedbackRows:
        """All votes, opens and query vectors (within the retention)."""
        cut = time.time() - self.retention_days * 86400 if self.retention_days > 0 else 0.0
        db = self._db()
        try:
            with db:  # one snapshot
                version = self.version(db)
                votes = [Vote(*r) for r in db.execute(
                    "SELECT kind, query, item_id, viewer, vote, at FROM feedback WHERE at >= ?", (cut,))]
                clicks = [Click(*r) for r in db.execute(
                    "SELECT viewer, query, doc_id, rank, at FROM clicks WHERE at >= ?", (cut,))]
                vectors = [QueryVector(q, t, m, np.frombuffer(v, dtype="float32"))
                           for q, t, m, v in db.execute("SELECT query, text, model, vector FROM feedback_queries")]
        finally:
            db.close()
        return FeedbackRows(votes, clicks, vectors, version)

    def most_down_voted(self, kinds: tuple[str, ...] = ("result", "answer"), limit: int = 20) -> list[ItemTally]:
        """Documents and answers with the most down votes (distinct viewer and query)."""
        if not self.path.exists():
            return []
        db = self._db()
        try:
            rows = db.execute(
                f"SELECT kind, item_id, sum(vote = 1), sum(vote = -1), count(DISTINCT query) FROM feedback "
                f"WHERE kind IN ({','.join('?' * len(kinds))}) GROUP BY kind, item_id HAVING sum(vote = -1) > 0 "
                "ORDER BY sum(vote = -1) DESC, sum(vote = 1) ASC LIMIT ?", (*kinds, limit)).fetchall()
        finally:
            db.close()
        return [ItemTally(*r) for r in rows]

    def opened_without_up_votes(self, limit: int = 20, min_opens: int = 2) -> list[QueryOpens]:
        """Queries whose results people open but never vote up: what they find does not help."""
        if not self.path.exists():
            return []
        db = self._db()
        try:
            rows = db.execute(
                "SELECT c.query, count(DISTINCT c.viewer || char(0) || c.doc_id), count(DISTINCT c.viewer), "
                "(SELECT count(*) FROM feedback f WHERE f.query = c.query AND f.vote = -1) FROM clicks c "
                "WHERE NOT EXISTS (SELECT 1 FROM feedback f WHERE f.query = c.query AND f.vote = 1) "
                "GROUP BY c.query HAVING count(DISTINCT c.viewer || char(0) || c.doc_id) >= ? "
                "ORDER BY 2 DESC, 3 DESC LIMIT ?", (min_opens, limit)).fetchall()
        finally:
            db.close()
        return [QueryOpens(*r) for r in rows]

    def between(self, start: float, end: float) -> tuple[list[Click], list[Vote]]:
        """The opens and the result and answer votes made from ``start`` up to (not including)
        ``end`` (seconds since the epoch); none before any was recorded."""
        if not self.path.exists():
            return [], []
        db = self._db()
        try:
            with db:  # one snapshot
                clicks = [Click(*r) for r in db.execute(
                    "SELECT viewer, query, doc_id, rank, at FROM clicks WHERE at >= ? AND at < ?", (start, end))]
                votes = [Vote(*r) for r in db.execute(
                    "SELECT kind, query, item_id, viewer, vote, at FROM feedback "
                    "WHERE kind IN ('result', 'answer') AND at >= ? AND at < ?", (start, end))]
        finally:
            db.close()
        return clicks, votes
