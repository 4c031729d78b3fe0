"""Who knows about a query: document-centric expertise (Balog et al.'s Model 2) with receipts.

Retrieve passages for the query, weight each by its relevance, and credit the people who
contributed to those documents by role, votes and recency — the author of the very passage
that matched gets that passage's relevance; other contributors to the document get a share of
the document's, each document's credit split among its contributors by role and share. A
person's recent answers are a prior next to the topical evidence. Recency
counts in posts of the contribution's source (its pace measured over its latest posts), not
in days: sites differ tenfold in pace.

The evidence gate: a person is suggested only with a *receipt*, a contribution whose own
passage (the post they wrote; any passage of a page they wrote) is relevant to the query
(``[experts] min_relevance``, and within ``relevance_gap`` of the query's best passage).
Activity and recency order the people who pass; they never qualify anyone alone. When nobody
passes, nobody is suggested (the caller says so). The receipts shown are the person's most
relevant ones, and each person's ``strength`` (search/strength.py) says how much evidence there is.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from index.models import Person
from index.pace import Clock, Clocks, activity_paces, decay, source_clocks
from index.people import PeopleResolver
from index.people_store import DocumentFacts
from index.rows import ChunkHit, ContributionRow, PersonRow
from index.settings import ExpertSettings
from index.store import Store

from .permissions import LOCAL, Viewer
from .snippets import make_snippet
from .strength import evidence_band, evidence_strength

NOBODY = "No one has written much about this yet."  # what is said instead of suggesting the most active

ROLE_LABELS = {
    "accepted-answerer": ("accepted answer", "accepted answers"),
    "answerer": ("answer", "answers"),
    "author": ("page written", "pages written"),
    "editor": ("page edited", "pages edited"),
    "asker": ("question asked", "questions asked"),
    "commenter": ("comment", "comments"),
}


@dataclass
class Passage:
    """A retrieved passage as evidence: which document and section, how relevant."""

    doc_id: str
    section: int
    score: float
    chunk_id: int = -1  # the chunk that matched (-1: none, e.g. a post in the evaluation)
    keyword: float = 0.0  # BM25 relative to the query's best keyword match, 0..1 (0: no term matched)


@dataclass
class Evidence:
    doc_id: str
    title: str
    url: str
    role: str
    at: datetime | None
    snippet: str
    weight: float

    def to_json(self) -> dict:
        return {"doc_id": self.doc_id, "title": self.title, "url": self.url, "role": self.role,
                "at": self.at.isoformat() if self.at else None, "snippet": self.snippet}


@dataclass
class Expert:
    person: PersonRow
    score: float  # the ranking's log score: orders people, not shown to them
    reason: str
    evidence: list[Evidence] = field(default_factory=list)
    strength: float = 0.0  # 0..1, calibrated (search/strength.py): what people are shown
    relevance: float = 0.0  # the relevance of their best receipt's own passage

    @property
    def band(self) -> str:
        """strong, some or little evidence."""
        return evidence_band(self.strength)

    def to_json(self) -> dict:
        return {"person": {"id": self.person.id, "name": self.person.name,
                           "profile_url": f"/people/{self.person.id}"},
                "strength": round(self.strength, 2), "band": self.band,
                "reason": self.reason, "evidence": [e.to_json() for e in self.evidence]}


def recency(c: ContributionRow, now: datetime, clocks: Clocks | None, half_life_posts: float,
            half_life_days: float, until_now: bool = False) -> float:
    """Decay of a contribution: in posts of its source when that source has a clock, else in days.
    Posts are counted until the source's latest post (is the evidence outdated by what came after?)
    or, ``until_now``, until now at the source's pace (is the person still around? not on an archive)."""
    clock = clocks.get(c.source) if clocks and half_life_posts > 0 else None
    if clock is None:
        return decay(c.at, now, half_life_days)
    return clock.decay(c.at, half_life_posts, now if until_now else None)


def contribution_weight(c: ContributionRow, p: ExpertSettings, now: datetime, clocks: Clocks | None = None
                        ) -> float:
    role = p.role_weights.get(c.role, 0.5)
    votes = 1.0 + p.votes * math.log1p(max(0, c.score or 0))
    return role * c.weight * votes * recency(c, now, clocks, p.half_life_posts, p.half_life_days)


def with_keyword(passages: list[Passage], keyword_hits: Mapping[int, float]) -> list[Passage]:
    """Passages with their keyword evidence: BM25 of the same chunk over the best BM25."""
    best = max(keyword_hits.values(), default=0.0)
    if best <= 0:
        return passages
    for x in passages:
        if x.chunk_id >= 0:
            x.keyword = max(0.0, keyword_hits.get(x.chunk_id, 0.0)) / best
    return passages


def relevance(x: Passage, p: ExpertSettings) -> float:
    """Hybrid evidence of a passage: dense similarity plus the weighted relative BM25."""
    return x.score + p.keyword * x.keyword


def topical(passages: list[Passage], contributions: list[ContributionRow], p: ExpertSettings,
            now: datetime, clocks: Clocks | None = None
            ) -> tuple[dict[str, float], dict[str, list[tuple[float, ContributionRow]]]]:
    """Topical expertise per person, and the weighted contributions behind it."""
    if not passages:
        return {}, {}
    best = max(relevance(x, p) for x in passages)
    doc_rel: dict[str, float] = {}
    sec_rel: dict[tuple[str, int], float] = {}
    for x in passages:
        r = math.exp((relevance(x, p) - best) / max(p.temperature, 1e-6))
        doc_rel[x.doc_id] = max(doc_rel.get(x.doc_id, 0.0), r)
        sec_rel[(x.doc_id, x.section)] = max(sec_rel.get((x.doc_id, x.section), 0.0), r)
    # a document hands out its relevance in shares (Balog's normalised p(person | document)), so
    # a thread's accepted answer and a page with five authors weigh the same across sources
    total: dict[str, float] = defaultdict(float)
    changed: dict[str, datetime] = {}  # a page's last change: the age of all its authors' evidence
    for c in contributions:
        if c.doc_id in doc_rel:
            total[c.doc_id] += p.role_weights.get(c.role, 0.5) * c.weight
            if (p.page_age_from_last_change and c.section is None and c.at is not None
                    and (c.doc_id not in changed or c.at > changed[c.doc_id])):
                changed[c.doc_id] = c.at
    scores: dict[str, float] = defaultdict(float)
    why: dict[str, list[tuple[float, ContributionRow]]] = defaultdict(list)
    for c in contributions:
        if c.doc_id not in doc_rel:
            continue
        dated = c
        if c.section is None:  # a share of the whole document (a page's author): every passage is theirs
            rel = doc_rel[c.doc_id]
            if c.doc_id in changed:
                dated = replace(c, at=changed[c.doc_id])
        else:
            rel = max(sec_rel.get((c.doc_id, c.section), 0.0), p.thread_share * doc_rel[c.doc_id])
        w = rel * contribution_weight(dated, p, now, clocks)
        if p.credit_split and total[c.doc_id] > 0:
            w /= total[c.doc_id] ** p.credit_split
        if w > 0:
            scores[c.person_id] += w
            why[c.person_id].append((w, c))
    return dict(scores), dict(why)


Receipt = tuple[float, ContributionRow]  # (relevance of the contribution's own passage, contribution)


def relevance_floor(passages: list[Passage], p: ExpertSettings) -> float:
    """How relevant a receipt's own passage must be: ``min_relevance``, and with a
    ``relevance_gap``, at most that far below the query's best passage."""
    if p.relevance_gap <= 0 or not passages:
        return p.min_relevance
    return max(p.min_relevance, max(relevance(x, p) for x in passages) - p.relevance_gap)


def relevant_receipts(passages: list[Passage], why: Mapping[str, list[tuple[float, ContributionRow]]],
                      p: ExpertSettings, floor: float) -> dict[str, list[Receipt]]:
    """Each person's receipts: contributions whose own passage is at least ``floor`` relevant
    (a post: that post, if it was retrieved; a contribution to a whole page: the page's best
    passage), one per document, most relevant first. A contribution to a thread whose own post
    did not match is topical evidence but no receipt: it cannot qualify its writer."""
    doc_rel: dict[str, float] = {}
    sec_rel: dict[tuple[str, int], float] = {}
    for x in passages:
        r = relevance(x, p)
        doc_rel[x.doc_id] = max(doc_rel.get(x.doc_id, r), r)
        sec_rel[(x.doc_id, x.section)] = max(sec_rel.get((x.doc_id, x.section), r), r)
    out: dict[str, list[Receipt]] = {}
    for pid, weighted in why.items():
        per_doc: dict[str, tuple[float, float, ContributionRow]] = {}
        for w, c in weighted:
            own = doc_rel.get(c.doc_id) if c.section is None else sec_rel.get((c.doc_id, c.section))
            if own is not None and own >= floor and (c.doc_id not in per_doc or (own, w) > per_doc[c.doc_id][:2]):
                per_doc[c.doc_id] = (own, w, c)  # ties within a document: the strongest role shows
        if per_doc:
            out[pid] = [(r, c) for r, _, c in sorted(per_doc.values(), key=lambda x: (-x[0], -x[1], x[2].doc_id))]
    return out


def activity(contributions: list[ContributionRow], p: ExpertSettings, now: datetime,
             clocks: Clocks | None = None) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for c in contributions:
        if c.role not in p.activity_roles:
            continue
        out[c.person_id] += p.role_weights.get(c.role, 0.5) * recency(
            c, now, clocks, p.activity_half_life_posts, p.activity_half_life_days, until_now=True)
    return dict(out)


def query_tags(passages: list[Passage], doc_tags: Mapping[str, list[str]], p: ExpertSettings) -> dict[str, float]:
    """The query's topics: tags of the retrieved documents, weighted by relevance, summing to 1."""
    if not passages:
        return {}
    best = max(x.score for x in passages)
    rel: dict[str, float] = {}
    for x in passages:
        rel[x.doc_id] = max(rel.get(x.doc_id, 0.0), math.exp((x.score - best) / max(p.temperature, 1e-6)))
    out: dict[str, float] = defaultdict(float)
    for d, r in rel.items():
        for t in doc_tags.get(d, []):
            out[t] += r
    total = sum(out.values()) or 1.0
    return {t: w / total for t, w in out.items()}


def tag_profile(qtags: Mapping[str, float], contributions: list[ContributionRow],
                doc_tags: Mapping[str, list[str]], p: ExpertSettings, now: datetime,
                clocks: Clocks | None = None) -> dict[str, float]:
    """Model 1 on tags: how much each person contributed to the query's topics."""
    out: dict[str, float] = defaultdict(float)
    for c in contributions:
        tags = doc_tags.get(c.doc_id)
        if not tags:
            continue
        match = sum(qtags.get(t, 0.0) for t in tags)
        if match:
            out[c.person_id] += match * contribution_weight(c, p, now, clocks)
    return dict(out)


def combine(top: dict[str, float], act: dict[str, float], p: ExpertSettings,
            profile: Mapping[str, float] | None = None,
            why: Mapping[str, list[tuple[float, ContributionRow]]] | None = None) -> list[tuple[str, float]]:
    """log(topical + tags * profile) + activity * log(1 + activity): topical evidence first,
    recent activity as a prior. Given ``why`` (the weighted contributions behind ``top``) and
    ``prior_within_source``, the prior re-divides each source's topical evidence among that
    source's people instead of multiplying it (the same order within one source)."""
    profile = profile or {}
    prior = {pid: (1.0 + act.get(pid, 0.0)) ** p.activity for pid in top}
    if why is not None and p.prior_within_source:
        top = prior_within_sources(top, prior, why)
        prior = dict.fromkeys(top, 1.0)
    ranked = [(pid, math.log(s + p.tags * profile.get(pid, 0.0)) + math.log(prior[pid]))
              for pid, s in top.items() if s > 0]
    return sorted(ranked, key=lambda x: (-x[1], x[0]))


def prior_within_sources(top: Mapping[str, float], prior: Mapping[str, float],
                         why: Mapping[str, list[tuple[float, ContributionRow]]]) -> dict[str, float]:
    """Each source's topical evidence, re-divided among its people in proportion to evidence x
    prior: a busy forum's regulars gain within the forum, not over a wiki's page authors."""
    by_source: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for pid in top:
        for w, c in why.get(pid, []):
            by_source[c.source][pid] += w
    out: dict[str, float] = dict.fromkeys(top, 0.0)
    for evidence in by_source.values():
        weighted = {pid: t * prior[pid] for pid, t in evidence.items()}
        scale = sum(evidence.values()) / (sum(weighted.values()) or 1.0)
        for pid, x in weighted.items():
            out[pid] += x * scale
    return out


class ExpertFinder:
    """Experts for a query from the store, given the passages search retrieved."""

    def __init__(self, settings: ExpertSettings, aliases: dict[str, list[str]] | None = None):
        self.settings = settings
        # re-weighs (person id, score) best first before the cut, e.g. by expert votes (search/feedback.py)
        self.adjust: Callable[[str, list[tuple[str, float]]], list[tuple[str, float]]] | None = None
        self._clocks: tuple[tuple[str, int], dict[str, Clock]] | None = None
        resolver = PeopleResolver(aliases)
        self._excluded_names = {e.strip().lower() for e in settings.exclude}
        self._excluded_ids = {e for e in settings.exclude if e.startswith("p") and len(e) == 12}
        for e in settings.exclude:
            person = Person(name=e, emails=[e] if "@" in e else [],
                            handles=[e] if ":" in e and "@" not in e else [])
            self._excluded_ids.add(resolver.resolve(person).id)

    def clocks(self, store: Store) -> dict[str, Clock]:
        """Each source's pace, measured once per generation (a generation's store never changes)."""
        key = (str(store.path), store.path.stat().st_mtime_ns if store.path.exists() else 0)
        if self._clocks is None or self._clocks[0] != key:
            self._clocks = (key, source_clocks(store, self.settings.pace_posts))
        return self._clocks[1]

    def excluded(self, person: PersonRow) -> bool:
        return person.id in self._excluded_ids or person.name.strip().lower() in self._excluded_names

    def find(self, store: Store, passages: list[Passage], query: str, k: int | None = None,
             now: datetime | None = None, viewer: Viewer = LOCAL, documents: DocumentFacts | None = None
             ) -> list[Expert]:
        """Experts from ``passages`` (already limited to what ``viewer`` may see); a person's
        activity counts only contributions to documents the viewer may see. ``documents``:
        each document's audience and source from memory (``DocMap.audience_and_source``)."""
        p = self.settings
        now = now or datetime.now(UTC)
        doc_ids = list(dict.fromkeys(x.doc_id for x in passages))
        visible = [c for c in store.contributions_to(doc_ids, documents) if viewer.can_see(c.visible_to)]
        clocks = self.clocks(store)
        top, why = topical(passages, visible, p, now, clocks)
        people = {r.id: r for r in store.people_by_ids(list(top))}
        top = {pid: s for pid, s in top.items() if pid in people and not self.excluded(people[pid])}
        paces = activity_paces(clocks, p.activity_half_life_posts)
        act: dict[str, float] = defaultdict(float)  # overall activity, summed in SQL
        for pid, role, visible_to, n in store.activity_of(list(top), p.activity_half_life_days, now, paces):
            if viewer.can_see(visible_to) and role in p.activity_roles:
                act[pid] += p.role_weights.get(role, 0.5) * n
        floor = relevance_floor(passages, p)
        found = relevant_receipts(passages, why, p, floor)
        ranked = [(pid, s) for pid, s in combine(top, act, p, why=why) if found.get(pid)]
        ranked = (self.adjust(query, ranked) if self.adjust else ranked)[: k or p.k]
        receipts = {pid: _shown_chunks(found[pid], passages, p) for pid, _ in ranked}
        # only the receipts shown need their chunk's text, title and link: read them in one go
        wanted = dict.fromkeys(cid for r in receipts.values() for _, _, cid in r[: p.evidence])
        shown = store.chunks_by_ids(list(wanted))
        experts = []
        for pid, score in ranked:
            ev = [_evidence(r, c, shown.get(cid), query) if i < p.evidence else
                  Evidence(c.doc_id, "", "", c.role, c.at, "", r)  # counted in the reason, not shown
                  for i, (r, c, cid) in enumerate(receipts[pid])]
            best = found[pid][0][0]
            experts.append(Expert(people[pid], score, reason(ev), ev[: p.evidence],
                                  evidence_strength(best, len(found[pid])), best))
        return experts


def _shown_chunks(found: list[Receipt], passages: list[Passage], p: ExpertSettings
                  ) -> list[tuple[float, ContributionRow, int]]:
    """(relevance, contribution, chunk id to show) per receipt: the passage the person wrote, or
    for a page they wrote, the page's most relevant passage."""
    ids = {(x.doc_id, x.section): x.chunk_id for x in passages if x.chunk_id >= 0}
    best = {x.doc_id: x.chunk_id for x in sorted(passages, key=lambda x: relevance(x, p)) if x.chunk_id >= 0}
    out = []
    for r, c in found:
        cid = ids.get((c.doc_id, c.section), -1) if c.section is not None else best.get(c.doc_id, -1)
        if cid >= 0:
            out.append((r, c, cid))
    return out


def _evidence(w: float, c: ContributionRow, ch: ChunkHit | None, query: str) -> Evidence:
    if ch is None:  # not in this generation's store (cannot happen within one generation)
        return Evidence(c.doc_id, "", "", c.role, c.at, "", w)
    url = f"{ch.url}#{ch.anchor}" if ch.url and ch.anchor and "#" not in ch.url else ch.url
    return Evidence(c.doc_id, ch.title, url, c.role, c.at, make_snippet(ch.text, query, 160), w)


def abstention(query: str, experts: list[Expert]) -> dict | None:
    """For the API: when nobody qualified for ``query``, the message and where to take the
    question instead (the ask page, with ``?q=`` and the query: it answers what it can and
    notes the gap); else None. The query is not echoed here: the response's ``query`` has it."""
    if experts or not query.strip():
        return None
    return {"message": NOBODY, "ask": "/ask"}


def role_label(role: str, n: int = 1) -> str:
    """A contribution role as people say it, for ``n`` of them: "accepted answer", "pages written"."""
    one, many = ROLE_LABELS.get(role, (role, role + "s"))
    return one if n == 1 else many


def reason(evidence: list[Evidence]) -> str:
    """One line: what the person did on how many relevant documents, and when last."""
    if not evidence:
        return ""
    roles = Counter(e.role for e in evidence)
    parts = [f"{n} {role_label(role, n)}" for role, n in roles.most_common(2)]
    last = max((e.at for e in evidence if e.at), default=None)
    about = evidence[0].title
    text = f"{' and '.join(parts)} on this topic, e.g. “{about}”"
    return text + (f"; last {last:%Y-%m}" if last else "")
