"""Mentors: people who know a topic and have shown they teach it, with the receipts.

Who knows comes from the expert model (``Searcher.experts``: only people who passed its
evidence gate, the consent list already left out). Teaching is read from the contributions to
the topic's documents (the documents retrieved for it) that the viewer may see:

- *answers to others' questions*: an answer in a thread someone else asked;
- *pages others built on*: a page they wrote or edited that someone else edited after them;
- *accepted answers to newcomers*: an accepted answer to someone who had posted at most
  ``NEWCOMER_POSTS`` times before (counted in documents the viewer may see).

A mentor has at least one of them. They are ordered by the expert model's score plus
log(1 + teaching receipts), and lifted when their ``ask_me_about`` names the topic; people
whose profile says they are not taking questions are left out.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from index.filters import ChunkFilter
from index.rows import ContributionRow
from index.settings import ProfileSettings
from index.store import Store

from .asking import Profiles
from .experts import Expert
from .permissions import LOCAL, Viewer
from .searcher import Searcher

NEWCOMER_POSTS = 3  # an asker with at most this many earlier posts is a newcomer
ANSWERS = ("answerer", "accepted-answerer")
PAGES = ("author", "editor")
POSTS = ("asker", "answerer", "accepted-answerer", "commenter", "author", "editor")
ASK_ME_ABOUT_LIFT = 1.0  # on the log scale of the expert score: a named topic outranks a near tie
RECEIPTS_SHOWN = 3

KIND_LABELS = {"answered": "answered someone else's question",
               "built-on": "wrote a page others built on",
               "newcomer": "accepted answer to a newcomer"}


@dataclass
class TeachingReceipt:
    doc_id: str
    title: str
    url: str
    kind: str  # answered | built-on | newcomer
    at: datetime | None

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]

    def to_json(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "title": self.title, "url": self.url, "kind": self.kind,
                "label": self.label, "at": self.at.isoformat() if self.at else None}


@dataclass
class Mentor:
    expert: Expert
    answered: int = 0  # answers to others' questions
    built_on: int = 0  # pages others edited after them
    newcomers: int = 0  # accepted answers to newcomers
    receipts: list[TeachingReceipt] = field(default_factory=list)
    asks_to_be_asked: bool = False  # their ask_me_about names the topic
    score: float = 0.0  # orders mentors; not shown

    @property
    def teaching(self) -> int:
        return self.answered + self.built_on + self.newcomers

    def summary(self) -> str:
        parts = [(self.answered, "answer", "answers", " to others' questions"),
                 (self.built_on, "page", "pages", " others built on"),
                 (self.newcomers, "accepted answer", "accepted answers", " to newcomers")]
        return "; ".join(f"{n} {one if n == 1 else many}{tail}" for n, one, many, tail in parts if n)

    def to_json(self) -> dict[str, Any]:
        return {"person": self.expert.to_json()["person"], "band": self.expert.band,
                "answers_to_others": self.answered, "pages_built_on": self.built_on,
                "accepted_answers_to_newcomers": self.newcomers, "summary": self.summary(),
                "asks_to_be_asked": self.asks_to_be_asked, "receipts": [r.to_json() for r in self.receipts]}


def _words(text: str) -> set[str]:
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in re.findall(r"\w+", text.lower())}


def names_topic(profile: ProfileSettings | None, topic: str) -> bool:
    """Whether one of ``ask_me_about`` names ``topic``: all its words are in the topic, or the
    topic's in it."""
    if profile is None:
        return False
    want = _words(topic)
    return bool(want) and any((w := _words(t)) and (w <= want or want <= w) for t in profile.ask_me_about)


Signal = tuple[str, str, datetime | None]  # (kind, document, when)


def teaching(store: Store, people: set[str], doc_ids: list[str], viewer: Viewer) -> dict[str, list[Signal]]:
    """Per person of ``people``: (kind, document) of each teaching signal in ``doc_ids`` the
    viewer may see, newest documents first."""
    by_doc: dict[str, list[ContributionRow]] = defaultdict(list)
    for c in store.contributions_to(doc_ids):
        if viewer.can_see(c.visible_to):
            by_doc[c.doc_id].append(c)
    askers = {c.person_id: c.at for cs in by_doc.values() for c in cs if c.role == "asker"}
    earlier = _earlier_posts(store, askers, viewer)
    out: dict[str, list[Signal]] = defaultdict(list)
    for doc, cs in by_doc.items():
        asker = next((c.person_id for c in cs if c.role == "asker"), None)
        for c in cs:
            if c.person_id not in people:
                continue
            if c.role in ANSWERS and asker and asker != c.person_id:
                newcomer = c.role == "accepted-answerer" and earlier.get(asker, 0) <= NEWCOMER_POSTS
                out[c.person_id].append(("newcomer" if newcomer else "answered", doc, c.at))
            elif c.role in PAGES and c.at and any(o.person_id != c.person_id and o.role in PAGES and o.at
                                                  and o.at > c.at for o in cs):
                out[c.person_id].append(("built-on", doc, c.at))
    result: dict[str, list[Signal]] = {}
    for pid, found in out.items():
        per_doc: dict[str, Signal] = {}
        for kind, doc, at in found:  # one signal per document, the strongest
            if doc not in per_doc or kind == "newcomer":
                per_doc[doc] = (kind, doc, at)
        ordered = sorted(per_doc.values(), key=lambda x: (x[2] is None, -(x[2].timestamp() if x[2] else 0)))
        result[pid] = ordered
    return result


def _earlier_posts(store: Store, askers: dict[str, datetime | None], viewer: Viewer) -> dict[str, int]:
    """How many posts each asker made (in documents the viewer may see) before their question."""
    out: dict[str, int] = defaultdict(int)
    for c in store.contributions_of(list(askers)):
        asked = askers.get(c.person_id)
        if c.role in POSTS and c.at and asked and c.at < asked and viewer.can_see(c.visible_to):
            out[c.person_id] += 1
    return out


class MentorFinder:
    """Mentors for a query or topic from the searcher's expert model and the profiles."""

    def __init__(self, searcher: Searcher, profiles: Profiles, candidates: int = 100, experts: int = 20):
        self.searcher, self.profiles = searcher, profiles
        self.candidates, self.experts = candidates, experts

    def find(self, query: str, viewer: Viewer = LOCAL, k: int = 5, exclude: str = "",
             flt: ChunkFilter | None = None) -> list[Mentor]:
        """Mentors for ``query`` from what ``viewer`` may see (and ``flt`` lets through);
        ``exclude``: a person id left out (the person whose page this is)."""
        experts = [e for e in self.searcher.experts(query, self.experts, viewer, flt) if e.person.id != exclude]
        if not experts:
            return []
        reader = self.searcher.index.get()
        store = reader.store
        profiles = self.profiles.by_person(store)
        experts = [e for e in experts if profiles.get(e.person.id, ProfileSettings()).available]
        hits = self.searcher.candidates(reader, query, self.candidates, viewer.restrict(flt))
        docs = list(dict.fromkeys([ch.doc_id for ch, _ in hits] + [ev.doc_id for e in experts for ev in e.evidence]))
        signals = teaching(store, {e.person.id for e in experts}, docs, viewer)
        titles = {ch.doc_id: (ch.title, ch.url) for ch, _ in hits}
        out = []
        for e in experts:
            found = signals.get(e.person.id, [])
            if not found:
                continue
            m = _mentor(e, found, store, titles)
            m.asks_to_be_asked = names_topic(profiles.get(e.person.id), query)
            m.score = e.score + math.log1p(m.teaching) + (ASK_ME_ABOUT_LIFT if m.asks_to_be_asked else 0.0)
            out.append(m)
        out.sort(key=lambda m: -m.score)
        return out[:k]


def for_topic(finder: MentorFinder, topic: str, viewer: Viewer = LOCAL, k: int = 5, exclude: str = ""
              ) -> list[Mentor]:
    """Mentors for a topic (a document tag): within the documents tagged with it, else, when
    none is (a community's label, a free phrase), as a query."""
    return (finder.find(topic, viewer, k, exclude, ChunkFilter(tags=(topic,)))
            or finder.find(topic, viewer, k, exclude))


def own_teaching(store: Store, person_id: str, viewer: Viewer = LOCAL) -> Mentor | None:
    """How a person has helped others learn, over everything of theirs ``viewer`` may see
    (for their page); None when nothing shows it."""
    docs = list(dict.fromkeys(c.doc_id for c in store.contributions_of([person_id]) if viewer.can_see(c.visible_to)))
    found = teaching(store, {person_id}, docs, viewer).get(person_id, [])
    if not found:
        return None
    people = store.people_by_ids([person_id])
    if not people:
        return None
    return _mentor(Expert(people[0], 0.0, ""), found, store, {})


def _mentor(e: Expert, found: list[Signal], store: Store, titles: dict[str, tuple[str, str]]) -> Mentor:
    """A mentor with their teaching signals counted, and the first few as receipts."""
    kinds = [kind for kind, _, _ in found]
    m = Mentor(e, *(kinds.count(x) for x in ("answered", "built-on", "newcomer")))
    m.receipts = [TeachingReceipt(d, *_title(store, titles, d), kind, at) for kind, d, at in found[:RECEIPTS_SHOWN]]
    return m


def _title(store: Store, titles: dict[str, tuple[str, str]], doc_id: str) -> tuple[str, str]:
    if doc_id in titles:
        return titles[doc_id]
    doc = store.document(doc_id)
    return (doc.title, doc.url) if doc else (doc_id, "")


@dataclass
class PersonLearning:
    """The person page's "learn this from" box: how this person has helped others learn, and
    others who teach their main topic."""

    topic: str = ""
    own: Mentor | None = None
    mentors: list[Mentor] = field(default_factory=list)


def person_learning(finder: MentorFinder, person_id: str, topics: list[str], viewer: Viewer = LOCAL
                    ) -> PersonLearning:
    """``topics``: the person's, most frequent first (their tags, else their main documents' titles)."""
    store = finder.searcher.index.get().store
    topic = next((t for t in topics if t.strip()), "")
    return PersonLearning(topic, own_teaching(store, person_id, viewer),
                          for_topic(finder, topic, viewer, 3, exclude=person_id) if topic else [])
