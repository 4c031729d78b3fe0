"""Questions routed to people: each time a viewer follows an "ask" link whoknows suggested.

Kept in ``state.sqlite`` (outside the generations: who was asked outlives re-indexing). Fair
routing (``search/asking.py``) reads the last week's counts as each person's load and checks
them against the weekly caps people set in their profile.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from .gaps import normalise
from .migrations import connect_state

WEEK_SECONDS = 7 * 86400.0
SAME_QUESTION_SECONDS = 3600.0  # the same viewer asking the same person the same question again: counted once


class RoutedLog:
    def __init__(self, path: Path):
        self.path = path

    def record(self, person_ids: list[str], query: str, viewer: str, at: float | None = None) -> int:
        """Records the question as routed to each of ``person_ids``; returns how many were new
        (a repeat within the hour, e.g. a double click, is not a second question)."""
        at = time.time() if at is None else at
        key = normalise(query)
        db = connect_state(self.path)
        added = 0
        try:
            for pid in dict.fromkeys(person_ids):
                seen = db.execute("SELECT 1 FROM routed WHERE person_id = ? AND query = ? AND viewer = ? "
                                  "AND at > ?", (pid, key, viewer, at - SAME_QUESTION_SECONDS)).fetchone()
                if seen is None:
                    db.execute("INSERT INTO routed(person_id, query, viewer, at) VALUES (?, ?, ?, ?)",
                               (pid, key, viewer, at))
                    added += 1
        finally:
            db.close()
        return added

    def loads(self, now: float | None = None, seconds: float = WEEK_SECONDS) -> Counter[str]:
        """Questions routed to each person in the last ``seconds`` (a week)."""
        if not self.path.exists():
            return Counter()
        now = time.time() if now is None else now
        db = connect_state(self.path)
        try:
            rows = db.execute("SELECT person_id, count(*) FROM routed WHERE at > ? GROUP BY person_id",
                              (now - seconds,)).fetchall()
        finally:
            db.close()
        return Counter({pid: n for pid, n in rows})
