"""Knowledge gaps: searches that found nothing, found nobody who has written on the query,
and questions with no confident answer.

Counted per normalised query in ``state.sqlite`` (outside the generations: gaps outlive
re-indexing), so a knowledge manager can see what people ask that nobody has written down.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .migrations import connect_state
from .runs import now_iso

NO_RESULTS = "no-results"
NO_ANSWER = "no-confident-answer"
NO_EXPERT = "nobody-has-written-on-it"  # results, but nobody with a receipt on the query


def normalise(query: str) -> str:
    return " ".join(re.findall(r"\w+", query.lower()))[:300]


@dataclass
class Gap:
    query: str
    kind: str
    count: int
    first_seen: str
    last_seen: str


class GapLog:
    def __init__(self, path: Path):
        self.path = path

    def _db(self) -> sqlite3.Connection:
        return connect_state(self.path)

    def record(self, query: str, kind: str) -> None:
        key = normalise(query)
        if not key:
            return
        now = now_iso()
        db = self._db()
        try:
            db.execute(
                "INSERT INTO gaps(key, query, kind, count, first_seen, last_seen) "
                "VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT(key) DO UPDATE SET count = count + 1, "
                "last_seen = excluded.last_seen, query = excluded.query, kind = excluded.kind",
                (key, query[:500], kind, now, now),
            )
        finally:
            db.close()

    def top(self, limit: int = 50) -> list[Gap]:
        if not self.path.exists():
            return []
        db = self._db()
        try:
            rows = db.execute("SELECT query, kind, count, first_seen, last_seen FROM gaps "
                              "ORDER BY count DESC, last_seen DESC LIMIT ?", (limit,)).fetchall()
        finally:
            db.close()
        return [Gap(*r) for r in rows]
