"""Recognition: who shared knowledge others found useful in a period (accepted answers,
answers voted up, documents readers opened or voted up), who is rising against their own
earlier periods, and whose first contributions fell in the period.

Everything is counted from the documents the viewer may see, and people on the consent list
(``[experts] exclude``) never appear. ``HOW_COUNTED`` says how each figure is counted; the
page and the API show it.
"""

from __future__ import annotations

import csv
import io
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from index.feedback import Click, FeedbackLog, Vote
from index.filters import ChunkFilter
from index.generations import IndexReader
from index.rows import KnowledgeRow, PersonRow
from index.settings import RecognitionSettings

from .expertise import KNOWLEDGE_ROLES
from .permissions import LOCAL, Viewer
from .recognition_period import Period, aware, choose_period

if TYPE_CHECKING:
    from .searcher import Searcher

ANSWER_ROLES = ("accepted-answerer", "answerer")
FIRST_ROLES = (*KNOWLEDGE_ROLES, "asker")  # a first question is a first post; a comment is not
RECEIPTS = 20  # per person in the API; the page shows the first few

HOW_COUNTED = {
    "useful": "Answers they posted in the period that were accepted or voted up, plus documents they "
              "wrote, edited or answered in that readers opened or voted up in the period; each answer and "
              "each document counts once. People are ranked by it.",
    "accepted": "Accepted answers they posted in the period.",
    "voted": "Answers they posted in the period that others voted for (the source's score above 0).",
    "documents_opened": "Documents they wrote, edited or answered in (at any time) that readers opened "
                        "from search results or an answer's citations in the period.",
    "opens": "Those opens, one per reader and document.",
    "up_votes": "Readers' votes in the period on those documents as results and answers: readers who voted "
                "a document up less those who voted it down, per document, never below 0.",
    "rising": "Answers and pages (written or edited) in the period against their mean over the {k} periods "
              "of the same length before it: rising means at least {n} in the period and at least {f:g} "
              "times that mean, from people who had contributed before the period.",
    "first": "People whose first post or page (a question, an answer, a page written or edited; comments "
             "do not count) falls in the period, with what it was.",
    "scope": "Only documents you may see count, undated contributions count in no period, and people "
             "who asked to be left out of suggestions never appear. A page's authors are dated by the "
             "page's last change.",
}


def person_json(p: PersonRow) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "profile_url": f"/people/{p.id}"}


@dataclass
class Receipt:
    """One document behind a person's figures, with what counted in it."""

    doc_id: str
    title: str
    url: str
    accepted: int = 0
    voted: int = 0
    score: int = 0  # the best score of their answers in it
    opens: int = 0
    up_votes: int = 0

    @property
    def weight(self) -> int:
        return self.accepted + self.voted + self.opens + self.up_votes

    def to_json(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "title": self.title, "url": self.url, "accepted": self.accepted,
                "voted": self.voted, "score": self.score, "opens": self.opens, "up_votes": self.up_votes}


@dataclass
class Sharer:
    person: PersonRow
    useful_answers: int = 0
    receipts: list[Receipt] = field(default_factory=list)  # most counted first

    @property
    def accepted(self) -> int:
        return sum(r.accepted for r in self.receipts)

    @property
    def voted(self) -> int:
        return sum(r.voted for r in self.receipts)

    @property
    def documents_opened(self) -> int:
        return sum(r.opens > 0 for r in self.receipts)

    @property
    def opens(self) -> int:
        return sum(r.opens for r in self.receipts)

    @property
    def up_votes(self) -> int:
        return sum(r.up_votes for r in self.receipts)

    @property
    def useful(self) -> int:
        return self.useful_answers + sum(r.opens > 0 or r.up_votes > 0 for r in self.receipts)

    def to_json(self) -> dict[str, Any]:
        return {"person": person_json(self.person), "useful": self.useful, "accepted": self.accepted,
                "voted": self.voted, "documents_opened": self.documents_opened, "opens": self.opens,
                "up_votes": self.up_votes, "receipts": [r.to_json() for r in self.receipts[:RECEIPTS]]}


@dataclass
class Riser:
    person: PersonRow
    contributions: int  # answers and pages in the period
    earlier: list[int]  # in each earlier period, the nearest first

    @property
    def earlier_mean(self) -> float:
        return sum(self.earlier) / len(self.earlier) if self.earlier else 0.0

    @property
    def growth(self) -> float | None:
        """Times their earlier mean; None when they made nothing in the earlier periods (back after a pause)."""
        return self.contributions / self.earlier_mean if self.earlier_mean else None

    def to_json(self) -> dict[str, Any]:
        return {"person": person_json(self.person), "contributions": self.contributions, "earlier": self.earlier,
                "earlier_mean": round(self.earlier_mean, 3),
                "growth": None if self.growth is None else round(self.growth, 3)}


@dataclass
class Newcomer:
    person: PersonRow
    first: KnowledgeRow  # their first post or page
    contributions: int  # posts and pages in the period

    def to_json(self) -> dict[str, Any]:
        f = self.first
        return {"person": person_json(self.person), "contributions": self.contributions,
                "first": {"doc_id": f.doc_id, "title": f.title, "url": f.url, "role": f.role,
                          "at": f.at.isoformat() if f.at else None}}


@dataclass
class RecognitionReport:
    period: Period
    sharers: list[Sharer]
    rising: list[Riser]
    newcomers: list[Newcomer]
    how_counted: dict[str, str]
    topic: str = ""
    topic_documents: int | None = None  # documents the topic covers, None without a topic

    def to_json(self) -> dict[str, Any]:
        return {"period": self.period.to_json(), "topic": self.topic, "topic_documents": self.topic_documents,
                "how_counted": self.how_counted, "sharers": [s.to_json() for s in self.sharers],
                "rising": [r.to_json() for r in self.rising],
                "first_contributions": [n.to_json() for n in self.newcomers]}

    def to_csv(self) -> str:
        """One row per person and list (sharers, rising, first), the API's figures."""
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(CSV_COLUMNS)
        _cells = partial(_row, since=self.period.since.isoformat(), until=self.period.until.isoformat())
        for i, s in enumerate(self.sharers, 1):
            w.writerow(_cells("sharers", i, s.person, useful=s.useful, accepted=s.accepted, voted=s.voted,
                              documents_opened=s.documents_opened, opens=s.opens, up_votes=s.up_votes))
        for i, r in enumerate(self.rising, 1):
            w.writerow(_cells("rising", i, r.person, contributions=r.contributions,
                              earlier_mean=round(r.earlier_mean, 3),
                              growth="" if r.growth is None else round(r.growth, 3)))
        for i, n in enumerate(self.newcomers, 1):
            w.writerow(_cells("first_contributions", i, n.person, contributions=n.contributions,
                              first_at=n.first.at.isoformat() if n.first.at else "", first_role=n.first.role,
                              first_doc_id=n.first.doc_id, first_title=n.first.title))
        return out.getvalue()


CSV_COLUMNS = ["list", "rank", "person_id", "name", "since", "until", "useful", "accepted", "voted",
               "documents_opened", "opens", "up_votes", "contributions", "earlier_mean", "growth",
               "first_at", "first_role", "first_doc_id", "first_title"]


def _row(kind: str, rank: int, person: PersonRow, **figures: Any) -> list[str]:
    values = {"list": kind, "rank": rank, "person_id": person.id, "name": person.name, **figures}
    return [_spreadsheet_safe(str(values.get(c, ""))) for c in CSV_COLUMNS]


def _spreadsheet_safe(cell: str) -> str:
    """A name or title a spreadsheet would run as a formula is quoted (OWASP's CSV injection advice)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def opens_per_document(clicks: list[Click], period: Period, scope: Callable[[str], bool]) -> dict[str, int]:
    """Readers who opened each document in the period (one per reader and document)."""
    seen = {(c.doc_id, c.viewer) for c in clicks
            if period.holds(datetime.fromtimestamp(c.at, UTC)) and scope(c.doc_id)}
    out: dict[str, int] = defaultdict(int)
    for doc_id, _ in seen:
        out[doc_id] += 1
    return out


def up_votes_per_document(votes: list[Vote], period: Period, scope: Callable[[str], bool]) -> dict[str, int]:
    """Readers who voted each document up less those who voted it down, in the period (at least 0)."""
    net: dict[tuple[str, str], int] = defaultdict(int)  # a reader may vote it on several queries
    for v in votes:
        if period.holds(datetime.fromtimestamp(v.at, UTC)) and scope(v.item_id):
            net[(v.item_id, v.viewer)] += v.vote
    out: dict[str, int] = defaultdict(int)
    for (doc_id, _), n in net.items():
        out[doc_id] += (n > 0) - (n < 0)
    return {d: n for d, n in out.items() if n > 0}


def count_sharers(rows: list[KnowledgeRow], opens: dict[str, int], ups: dict[str, int], period: Period,
                  scope: Callable[[str], bool]) -> dict[str, Sharer]:
    """Each person's useful answers and opened or voted documents, with the receipts."""
    receipts: dict[str, dict[str, Receipt]] = defaultdict(dict)
    answers: dict[tuple[str, str, int | None], tuple[bool, int]] = {}  # accepted answers have both roles
    for r in rows:
        if not scope(r.doc_id):
            continue
        if r.role in ANSWER_ROLES and period.holds(r.at):
            was = answers.get((r.person_id, r.doc_id, r.section), (False, 0))
            answers[(r.person_id, r.doc_id, r.section)] = (was[0] or r.role == "accepted-answerer",
                                                           max(was[1], r.score or 0))
        if (r.doc_id in opens or r.doc_id in ups) and r.role in KNOWLEDGE_ROLES:
            got = receipts[r.person_id].setdefault(r.doc_id, Receipt(r.doc_id, r.title, r.url))
            got.opens, got.up_votes = opens.get(r.doc_id, 0), ups.get(r.doc_id, 0)
    titles = {r.doc_id: (r.title, r.url) for r in rows}
    useful: dict[str, int] = defaultdict(int)
    for (pid, doc_id, _), (accepted, score) in answers.items():
        if not (accepted or score > 0):
            continue
        useful[pid] += 1
        got = receipts[pid].setdefault(doc_id, Receipt(doc_id, *titles[doc_id]))
        got.accepted += accepted
        got.voted += score > 0
        got.score = max(got.score, score)
    return {pid: Sharer(PersonRow(pid, ""), useful.get(pid, 0),
                        sorted(docs.values(), key=lambda x: (-x.weight, x.title.lower())))
            for pid, docs in receipts.items()}


def count_growth(rows: list[KnowledgeRow], period: Period, p: RecognitionSettings,
                 scope: Callable[[str], bool]) -> tuple[list[Riser], list[Newcomer]]:
    """Rising contributors and first contributions (the caller fills in the people's names).
    ``rows``' times are aware (``Recognition.rows``)."""
    posts: dict[str, dict[tuple[str, int | None], tuple[datetime, bool]]] = defaultdict(dict)
    first: dict[str, KnowledgeRow] = {}
    for r in rows:
        if r.at is None or r.role not in FIRST_ROLES or not scope(r.doc_id):
            continue
        if r.person_id not in first or r.at < first[r.person_id].at:  # type: ignore[operator]
            first[r.person_id] = r
        was = posts[r.person_id].get((r.doc_id, r.section))
        posts[r.person_id][(r.doc_id, r.section)] = (r.at, r.role in KNOWLEDGE_ROLES or bool(was and was[1]))
    earlier = [period.earlier(i) for i in range(1, max(0, p.rising_periods) + 1)]
    rising, newcomers = [], []
    for pid, row in first.items():
        mine = posts[pid].values()
        if period.holds(row.at):
            newcomers.append(Newcomer(PersonRow(pid, ""), row, sum(period.holds(t) for t, _ in mine)))
            continue
        shared = [t for t, knowledge in mine if knowledge]  # answers and pages, not questions
        now = sum(period.holds(t) for t in shared)
        if row.at is not None and row.at < period.start and now >= p.rising_min:
            riser = Riser(PersonRow(pid, ""), now, [sum(e.holds(t) for t in shared) for e in earlier])
            if now >= p.rising_factor * riser.earlier_mean:
                rising.append(riser)
    rising.sort(key=lambda r: (-(r.contributions - r.earlier_mean), -r.contributions))
    newcomers.sort(key=lambda n: n.first.at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return rising, newcomers


class Recognition:
    """Recognition reports for the live index: the contributions are read once per generation
    and audience (a published generation never changes); opens and votes on every report."""

    def __init__(self, settings: RecognitionSettings, log: FeedbackLog,
                 excluded: Callable[[PersonRow], bool] | None = None, size: int = 16):
        self.settings, self.log, self.excluded, self.size = settings, log, excluded, size
        self._cache: OrderedDict[tuple[str, tuple[str, ...] | None], list[KnowledgeRow]] = OrderedDict()
        self._lock = threading.Lock()

    def rows(self, reader: IndexReader, viewer: Viewer) -> list[KnowledgeRow]:
        """The contributions recognition counts, to documents ``viewer`` may see, dated in UTC,
        without those of people on the consent list."""
        key = (reader.generation, viewer.restrict().groups)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        rows = reader.store.knowledge_rows(key[1], FIRST_ROLES)
        if self.excluded:  # the consent list's own contributions shape nothing, not even the period
            left_out = {p.id for p in reader.store.people_by_ids(sorted({r.person_id for r in rows}))
                        if self.excluded(p)}
            rows = [r for r in rows if r.person_id not in left_out]
        for r in rows:
            r.at = aware(r.at) if r.at else None
        with self._lock:
            self._cache[key] = rows
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return rows

    def for_search(self, searcher: Searcher, viewer: Viewer = LOCAL, since: date | None = None,
                   until: date | None = None, topic: str = "", today: date | None = None) -> RecognitionReport:
        """``report`` on the live index, a topic meaning the documents ``topic_documents`` finds."""
        reader = searcher.index.get()
        docs = topic_documents(searcher, reader, topic, viewer, self.settings.topic_documents) \
            if topic.strip() else None
        return self.report(reader, viewer, since, until, topic.strip(), docs, today)

    def report(self, reader: IndexReader, viewer: Viewer = LOCAL, since: date | None = None,
               until: date | None = None, topic: str = "", topic_docs: Collection[str] | None = None,
               today: date | None = None) -> RecognitionReport:
        """Who shared, who is rising and who started in the period. Raises ``PeriodError``
        for a period that ends before it starts."""
        rows = self.rows(reader, viewer)
        visible = {r.doc_id for r in rows}
        wanted = set(topic_docs) if topic_docs is not None else None

        def scope(doc_id: str) -> bool:
            return doc_id in visible and (wanted is None or doc_id in wanted)

        clicks, votes = self.log.between(0.0, float("inf"))
        # what the first list counts (answers accepted or voted, opens, votes) sets the default
        # period; with too little of that, any contribution does
        activity = [datetime.fromtimestamp(c.at, UTC) for c in clicks if scope(c.doc_id)]
        activity += [datetime.fromtimestamp(v.at, UTC) for v in votes if scope(v.item_id)]
        activity += [r.at for r in rows if r.at and r.role in ANSWER_ROLES and (
            r.role == "accepted-answerer" or (r.score or 0) > 0) and scope(r.doc_id)]
        if len(activity) < self.settings.busy_min:
            activity += [r.at for r in rows if r.at and scope(r.doc_id)]
        period = choose_period(since, until, today or datetime.now(UTC).date(), activity, self.settings)
        opens = opens_per_document(clicks, period, scope)
        sharers = count_sharers(rows, opens, up_votes_per_document(votes, period, scope), period, scope)
        rising, newcomers = count_growth(rows, period, self.settings, scope)
        people = self._people(reader, [*sharers, *(r.person.id for r in rising), *(n.person.id for n in newcomers)])
        listed = sorted((s for pid, s in sharers.items() if pid in people and s.useful), key=lambda s: (
            -s.useful, -s.opens, -s.accepted, people[s.person.id].name.lower()))
        named: list[Sharer | Riser | Newcomer] = [*listed, *rising, *newcomers]
        for x in named:
            x.person = people.get(x.person.id, x.person)
        p = self.settings
        how = {**HOW_COUNTED, "rising": HOW_COUNTED["rising"].format(k=p.rising_periods, n=p.rising_min,
                                                                      f=p.rising_factor)}
        return RecognitionReport(period, listed, [r for r in rising if r.person.id in people],
                                 [n for n in newcomers if n.person.id in people], how, topic,
                                 len(wanted & visible) if wanted is not None else None)

    def _people(self, reader: IndexReader, ids: list[str]) -> dict[str, PersonRow]:
        """The people named in a report, without those on the consent list."""
        found = reader.store.people_by_ids(sorted(set(ids)))
        return {p.id: p for p in found if not (self.excluded and self.excluded(p))}


def topic_documents(searcher: Searcher, reader: IndexReader, topic: str, viewer: Viewer, n: int) -> set[str]:
    """The documents about ``topic`` that ``viewer`` may see: those tagged with it and the best
    ``n`` search results for it."""
    store = reader.store
    tagged = store.document_ids(store.allowed_document_rowids(viewer.restrict(ChunkFilter(tags=(topic,)))))
    ranked = searcher.rank(topic, depth=n, flt=viewer.restrict()).candidates[:n]
    return set(tagged.values()) | {c.doc_id for c in ranked}
