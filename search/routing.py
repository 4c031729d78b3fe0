"""Fair routing: whom whoknows suggests asking, without drowning the same few experts.

The expert ranking (``search/experts.py``) says who knows most; routing decides whom to
*ask*. It post-processes that ranking and never changes its scores' meaning:

- people who are not available, or who reached a cap of routed questions, are left out
  (``Availability``);
- each person's score (a log scale) is lowered by ``load_penalty * log(1 + questions routed
  to them in the last week)``, so a near tie goes to the one asked less;
- a *rising contributor* (most of their answers and pages are recent) whose score is within
  ``rising_margin`` of the first suggestion takes the first place: qualified people who are
  getting started are asked, not only the established top.

``fair_order`` is the pure rule; ``whoknows eval experts`` measures what it costs in MRR and
what it saves the busiest people (``search/evaluation/routing.py``). It is not yet applied to
the live "who to ask" suggestions.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from index.settings import RoutingSettings

WEEK_DAYS = 7.0


@dataclass(frozen=True)
class Availability:
    """Who may be asked: people who said they are not available, and routed loads this week."""

    unavailable: frozenset[str] = frozenset()
    capped: frozenset[str] = frozenset()  # reached their weekly cap
    load: Mapping[str, float] | None = None  # questions routed to each person in the last week

    def excluded(self, person_id: str) -> bool:
        return person_id in self.unavailable or person_id in self.capped


def fair_order(ranked: list[tuple[str, float]], p: RoutingSettings, availability: Availability,
               rising: Collection[str] = ()) -> list[tuple[str, float]]:
    """``ranked`` (person, log score), best first, re-ordered for asking: the unavailable and
    capped left out, loads penalised, a qualified rising contributor first. Scores returned are
    the adjusted ones (for ordering only)."""
    load = availability.load or {}
    kept = [(pid, s - p.load_penalty * math.log1p(load.get(pid, 0.0)))
            for pid, s in ranked if not availability.excluded(pid)]
    kept.sort(key=lambda x: -x[1])  # stable: ties keep the expert ranking's order
    if not kept or p.rising_margin <= 0 or not rising:
        return kept
    top = kept[0][1]
    for i, (pid, s) in enumerate(kept[: max(1, p.rising_depth)]):
        if i and pid in rising and s >= top - p.rising_margin:
            return [kept[i], *kept[:i], *kept[i + 1:]]
    return kept


def is_rising(recent: int, total: int, p: RoutingSettings) -> bool:
    """Growth against their own earlier periods: at least ``rising_min_recent`` answers or
    pages lately, and more than half of everything they contributed."""
    return recent >= p.rising_min_recent and 2 * recent > total


def shares(routed: Mapping[str, int], population: int, top: float) -> float:
    """Share of all routed questions that went to the busiest ``top`` (0.1: 10%) of
    ``population`` people (at least one person)."""
    total = sum(routed.values())
    if not total:
        return 0.0
    n = max(1, math.ceil(top * population))
    return sum(sorted(routed.values(), reverse=True)[:n]) / total


def gini(routed: Mapping[str, int], population: int) -> float:
    """Gini coefficient of routed questions over ``population`` people (those never routed
    count as zeros): 0 = everyone equally, 1 = one person got all."""
    values = sorted([*routed.values(), *[0] * max(0, population - len(routed))])
    n, total = len(values), sum(values)
    if not n or not total:
        return 0.0
    weighted = sum((i + 1) * v for i, v in enumerate(values))
    return (2 * weighted) / (n * total) - (n + 1) / n


