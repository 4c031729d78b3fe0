"""The knowledge-gap report: what people asked that nobody has written down, and who could."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from index.gaps import Gap, GapLog

from .asking import AskRouter, AskSuggestion
from .experts import Expert
from .permissions import LOCAL, Viewer
from .searcher import Searcher


@dataclass
class GapReport:
    gap: Gap
    experts: list[Expert]
    ask: list[AskSuggestion] = field(default_factory=list)  # whom to ask to write it down: fairly routed

    def to_json(self) -> dict[str, Any]:
        g = self.gap
        return {"query": g.query, "kind": g.kind, "count": g.count, "first_seen": g.first_seen,
                "last_seen": g.last_seen, "experts": [e.to_json() for e in self.experts],
                "ask": [a.to_json() for a in self.ask]}


def gap_report(gaps: GapLog, searcher: Searcher, limit: int = 50, experts: int = 3,
               viewer: Viewer = LOCAL, router: AskRouter | None = None) -> list[GapReport]:
    """Each gap with who knows most (``experts`` of them) and, given a ``router``, whom to ask."""
    out = []
    store = searcher.index.get().store if router else None
    for g in gaps.top(limit):
        found = searcher.experts(g.query, max(experts, 10) if router else experts, viewer)
        ask = router.whom_to_ask(store, found, g.query, viewer, experts) if router and store else []
        out.append(GapReport(g, found[:experts], ask))
    return out
