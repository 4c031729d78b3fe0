"""Who knows what across the whole index, for the people who look after the knowledge: each
topic (a document tag) with the people who wrote, answered or edited most about it, and the
topics whose knowledge rests on one person.

A person's share of a topic counts the documents on it they contributed to in a role that
carries knowledge (an answer, a page written or edited), not questions or comments. A topic's
*bus factor* is the fewest people who together made more than half of those contributions: 1
means that one person made most of them, so the topic is at risk when they are away or leave.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from index.generations import IndexReader
from index.rows import PersonRow
from index.store import Store

from .permissions import LOCAL, Viewer

KNOWLEDGE_ROLES = ("accepted-answerer", "answerer", "author", "editor")
AT_RISK_MIN_DOCUMENTS = 3  # a topic of one or two pages is small, not at risk


@dataclass
class TopicExpert:
    person: PersonRow
    documents: int  # documents on the topic they contributed to

    def to_json(self) -> dict[str, Any]:
        return {"person": {"id": self.person.id, "name": self.person.name,
                           "profile_url": f"/people/{self.person.id}"}, "documents": self.documents}


@dataclass
class TopicCoverage:
    topic: str
    documents: int
    contributors: int
    bus_factor: int
    experts: list[TopicExpert] = field(default_factory=list)  # most documents first

    @property
    def at_risk(self) -> bool:
        return self.bus_factor == 1 and self.documents >= AT_RISK_MIN_DOCUMENTS

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "documents": self.documents, "contributors": self.contributors,
                "bus_factor": self.bus_factor, "at_risk": self.at_risk,
                "experts": [e.to_json() for e in self.experts]}


def bus_factor(shares: list[int]) -> int:
    """The fewest people whose contributions add up to more than half of all of them."""
    total, run = sum(shares), 0
    for n, share in enumerate(sorted(shares, reverse=True), start=1):
        run += share
        if 2 * run > total:
            return n
    return 0


def topic_coverage(store: Store, viewer: Viewer = LOCAL, experts: int = 3,
                   excluded: Callable[[PersonRow], bool] | None = None) -> list[TopicCoverage]:
    """Every topic of the documents ``viewer`` may see, most documents first. People for whom
    ``excluded`` holds (the consent list) are counted but never named."""
    groups = viewer.restrict().groups
    shares: dict[str, dict[str, int]] = defaultdict(dict)
    for topic, person_id, n in store.topic_contributions(groups, KNOWLEDGE_ROLES):
        shares[topic][person_id] = n
    people = {p.id: p for p in store.people_by_ids(sorted({p for s in shares.values() for p in s}))}
    out = []
    for topic, n_docs in store.topic_documents(groups):
        by_person = shares.get(topic, {})
        named = [(pid, n) for pid, n in by_person.items()
                 if pid in people and not (excluded and excluded(people[pid]))]
        named.sort(key=lambda x: (-x[1], people[x[0]].name.lower()))
        out.append(TopicCoverage(topic, n_docs, len(by_person), bus_factor(list(by_person.values())),
                                 [TopicExpert(people[pid], n) for pid, n in named[:experts]]))
    return out


class TopicMap:
    """``topic_coverage`` of the live generation, computed once per generation and audience: a
    published generation never changes, and at 100,000 documents with 400,000 contributions
    the aggregation takes seconds."""

    def __init__(self, excluded: Callable[[PersonRow], bool] | None = None, size: int = 16):
        self.excluded, self.size = excluded, size
        self._cache: OrderedDict[tuple[str, tuple[str, ...] | None], list[TopicCoverage]] = OrderedDict()
        self._lock = threading.Lock()

    def topics(self, reader: IndexReader, viewer: Viewer = LOCAL) -> list[TopicCoverage]:
        key = (reader.generation, viewer.restrict().groups)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        found = topic_coverage(reader.store, viewer, excluded=self.excluded)
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return found
