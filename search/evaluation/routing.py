"""Fair routing on a Stack Exchange dump, with the time-split protocol of ``experts.py``.

Each test question, in time order, is routed to the first person of a ranking: *plain* takes
the expert model's ranking as it is; *fair* re-orders it with ``search.routing.fair_order``,
with each person's load the questions routed to them (by fair routing itself) in the week
before, and rising contributors from what was posted before the question. Scored: MRR of the
accepted answerer in each ordering, and how concentrated the routed questions are: the share
that went to the busiest 1% and 10% of the people whoknows suggests at all (among the first
three of the expert ranking for any question), and the Gini coefficient of routed questions
over them.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import Counter, defaultdict, deque
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from tqdm import tqdm

from index.rows import ContributionRow
from index.settings import ExpertSettings, RoutingSettings

from ..routing import RISING_ROLES, WEEK_DAYS, Availability, fair_order, gini, is_rising, shares
from .experts import Evaluation, rank_of

SUGGESTED = 3  # "who to ask" names three people


@dataclass
class RoutingFigures:
    name: str
    mrr: float
    busiest_1: float  # share of routed questions that went to the busiest 1% of people
    busiest_10: float
    gini: float


@dataclass
class RoutingReport:
    questions: int
    people: int  # among the first three suggestions for any question: the population of the shares
    plain: RoutingFigures
    fair: RoutingFigures
    sweep: list[tuple[dict[str, float], RoutingFigures]]

    def to_json(self) -> dict:
        return {"questions": self.questions, "people": self.people, "plain": asdict(self.plain),
                "fair": asdict(self.fair), "sweep": [{"settings": s, **asdict(f)} for s, f in self.sweep]}

    def table(self) -> str:
        lines = [f"Routing: each of {self.questions} questions to the first suggestion; shares over the "
                 f"{self.people} people among the first three suggestions for any question",
                 f"{'routing':34} {'MRR':>6} {'top 1%':>7} {'top 10%':>8} {'Gini':>6}"]
        for f in (self.plain, self.fair, *(f for _, f in self.sweep)):
            lines.append(f"{f.name:34} {f.mrr:6.3f} {f.busiest_1:7.3f} {f.busiest_10:8.3f} {f.gini:6.3f}")
        cut = 1 - self.fair.busiest_10 / self.plain.busiest_10 if self.plain.busiest_10 else 0.0
        lines.append(f"fair default: MRR {self.fair.mrr - self.plain.mrr:+.3f}, busiest-10% share "
                     f"{-cut:+.0%} of plain")
        return "\n".join(lines)


class RisingTracker:
    """Each person's answer and page times so far, to tell rising contributors at any moment."""

    def __init__(self, contributions: list[ContributionRow]):
        self.times: dict[str, list[datetime]] = defaultdict(list)
        for c in contributions:  # time order
            if c.role in RISING_ROLES and c.at is not None:
                self.times[c.person_id].append(c.at)

    def rising(self, people: list[str], t: datetime, p: RoutingSettings) -> set[str]:
        since = t - timedelta(days=p.rising_days)
        out = set()
        for pid in people:
            ts = self.times.get(pid, [])
            total = bisect.bisect_left(ts, t)
            recent = total - bisect.bisect_left(ts, since)
            if is_rising(recent, total, p):
                out.add(pid)
        return out


class Policy:
    """One routing policy being simulated: its MRR and whom it routed each question to."""

    def __init__(self, name: str, p: RoutingSettings | None):
        self.name, self.p = name, p
        self.reciprocal: list[float] = []
        self.routed: Counter[str] = Counter()
        self._recent: deque[tuple[datetime, str]] = deque()  # routed in the last week

    def route(self, ranked: list[tuple[str, float]], t: datetime, rising: RisingTracker,
              accepted: str, asker: str) -> None:
        ranked = [(pid, s) for pid, s in ranked if pid != asker]  # nobody is asked their own question
        if self.p is not None:
            while self._recent and self._recent[0][0] < t - timedelta(days=WEEK_DAYS):
                self._recent.popleft()
            load = Counter(pid for _, pid in self._recent)
            top = [pid for pid, _ in ranked[: self.p.rising_depth]]
            ranked = fair_order(ranked, self.p, Availability(load=load), rising.rising(top, t, self.p))
        r = rank_of([pid for pid, _ in ranked], accepted, asker)
        self.reciprocal.append(1 / r if r < math.inf else 0.0)
        if ranked:
            self.routed[ranked[0][0]] += 1
            self._recent.append((t, ranked[0][0]))

    def figures(self, population: int) -> RoutingFigures:
        n = len(self.reciprocal) or 1
        return RoutingFigures(self.name, sum(self.reciprocal) / n, shares(self.routed, population, 0.01),
                              shares(self.routed, population, 0.1), gini(self.routed, population))


SWEEP = {"load_penalty": [0.25, 2.0], "rising_margin": [0.0, 1.0]}


def evaluate_routing(ev: Evaluation, p: ExpertSettings, r: RoutingSettings, sample: int = 0, seed: int = 13,
                     progress: bool = True) -> RoutingReport:
    """Plain and fair routing (and a small sweep around the fair default) in one pass."""
    tests = ev.dump.tests
    if sample and sample < len(tests):
        tests = sorted(random.Random(seed).sample(tests, sample))
    variants = [replace(r, **{k: v}) for k, vs in SWEEP.items() for v in vs]  # type: ignore[arg-type]
    policies = [Policy("plain (expert ranking)", None), Policy("fair (default)", r),
                *(Policy(_describe(r, v), v) for v in variants)]
    rising = RisingTracker(ev.dump.contributions)
    people: set[str] = set()
    for qi, accepted, asker, t, before in ev.walk(tqdm(tests, desc="routing", disable=not progress)):
        ranked = ev.evidence(p, qi, t, before).gated()  # who the model suggests
        people.update([pid for pid, _ in ranked if pid != asker][:SUGGESTED])
        for policy in policies:
            policy.route(ranked, t, rising, accepted, asker)
    n = len(people)
    plain, fair, *rest = (x.figures(n) for x in policies)
    sweep = [({k: getattr(v, k) for k in SWEEP}, f) for v, f in zip(variants, rest, strict=True)]
    return RoutingReport(len(tests), n, plain, fair, sweep)


def _describe(base: RoutingSettings, v: RoutingSettings) -> str:
    changed = [f"{k} {getattr(v, k):g}" for k in SWEEP if getattr(v, k) != getattr(base, k)]
    return "fair, " + ", ".join(changed or ["default"])
