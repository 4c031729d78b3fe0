"""Fair routing: whom whoknows suggests asking, without drowning the same few experts.

The expert ranking (``search/experts.py``) says who knows most; routing decides whom to
*ask*. It post-processes that ranking and never changes its scores' meaning:

- people who are not available, or who reached a cap of routed questions, are left out
  (``Availability``);
- whom to ask first is chosen by each person's score (a log scale) lowered by
  ``load_penalty * log(1 + questions routed to them in the last week)``, so a near tie goes to
  the one asked less; the others follow in the expert ranking's order;
- a *rising contributor* (most of their answers and pages are recent) whose lowered score is
  within ``rising_margin`` of the best goes first: qualified people who are getting started are
  asked, not only the established top.

``fair_order`` is the pure rule; ``whoknows eval experts`` measures what it costs in MRR and
what it saves the busiest people (``search/evaluation/routing.py``); ``search/asking.py``
applies it wherever whoknows suggests whom to ask, with the profiles' availability and caps and
the questions routed in the last week.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from index.settings import RoutingSettings

WEEK_DAYS = 7.0
RISING_ROLES = ("answerer", "author")  # what counts towards a rising contributor's growth


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
    capped left out; the first suggestion chosen by the load-penalised score (a qualified rising
    contributor first); everyone after it keeps the expert ranking's order (measured across the
    dumps, re-sorting the whole list by the penalised score cost more MRR for the same spread).
    Scores returned are the expert ranking's."""
    kept = [(pid, s) for pid, s in ranked if not availability.excluded(pid)]
    first = _first(kept, p, availability, rising)
    return kept if first is None else [kept[first], *kept[:first], *kept[first + 1:]]


def _first(kept: list[tuple[str, float]], p: RoutingSettings, availability: Availability,
           rising: Collection[str]) -> int | None:
    """The index in ``kept`` of whom to ask first."""
    if not kept:
        return None
    load = availability.load or {}
    adjusted = sorted(((s - p.load_penalty * math.log1p(load.get(pid, 0.0)), i) for i, (pid, s) in enumerate(kept)),
                      key=lambda x: -x[0])  # stable: ties keep the expert ranking's order
    if p.rising_margin > 0 and rising:
        top = adjusted[0][0]
        for j, (s, i) in enumerate(adjusted[: max(1, p.rising_depth)]):
            if j and kept[i][0] in rising and s >= top - p.rising_margin:
                return i
    return adjusted[0][1]


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


