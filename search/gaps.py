"""The knowledge-gap report: what people asked that nobody has written down, and who could."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from index.gaps import Gap, GapLog

from .experts import Expert
from .searcher import Searcher


@dataclass
class GapReport:
    gap: Gap
    experts: list[Expert]

    def to_json(self) -> dict[str, Any]:
        g = self.gap
        return {"query": g.query, "kind": g.kind, "count": g.count, "first_seen": g.first_seen,
                "last_seen": g.last_seen, "experts": [e.to_json() for e in self.experts]}


def gap_report(gaps: GapLog, searcher: Searcher, limit: int = 50, experts: int = 3) -> list[GapReport]:
    return [GapReport(g, searcher.experts(g.query, experts)) for g in gaps.top(limit)]
