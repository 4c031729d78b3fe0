"""Feedback that teaches the ranking: a bounded boost per document (and per expert) from
viewers' votes and result opens, for the query and, weaker, for similar queries.

Each viewer counts once per item: their signal for a document is their vote (+1 / -1) on the
query whose weight is highest among the query itself (weight 1) and similar queries (cosine
of the query vectors above ``similar_min``: ``similar_weight`` at cosine 1 falling to 0 at
``similar_min``), or ``click_weight`` when they only opened it. Over viewers,

    s = sum(w * signal) / (sum(w * |signal|) + prior)        (-1 < s < 1)
    boost = max_boost ** s

so a few votes move a document a little (shrinkage toward 1), many viewers agreeing approach
the bound, and no number of votes from one viewer goes past one vote's effect. The boost
multiplies the second stage's score of the candidates a search already found for its viewer:
votes never bring in a document the viewer may not see. ``whoknows eval feedback`` measures
it and chose the defaults (search/evaluation/feedback.py).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from index.feedback import FeedbackLog, FeedbackRows
from index.gaps import normalise
from index.settings import FeedbackSettings

from .candidates import Candidate
from .permissions import Viewer

if TYPE_CHECKING:
    from .searcher import Searcher

CHECK_EVERY_S = 1.0  # how often a searcher looks for votes recorded by another process
DOCUMENT_KINDS = ("result", "answer")


class Refused(Exception):
    """A vote or open the viewer may not give (an item they may not see)."""


Signals = dict[str, dict[str, float]]  # item id -> viewer -> signal


class FeedbackModel:
    """An immutable snapshot of the feedback, indexed for the ranking."""

    def __init__(self, rows: FeedbackRows, model_id: str = "", dim: int = 0):
        self.version = rows.version
        self.keys: list[str] = []
        self._index: dict[str, int] = {}
        self.docs: list[Signals] = []
        self.experts: list[Signals] = []
        votes_of: dict[tuple[int, str, str], float] = {}
        for v in rows.votes:
            i = self._query(v.query)
            target = self.experts[i] if v.kind == "expert" else self.docs[i]
            if v.kind == "answer" and v.viewer in target.get(v.item_id, {}):
                continue  # a vote on the result itself says more than one on an answer from it
            target.setdefault(v.item_id, {})[v.viewer] = float(v.vote)
            if v.kind != "expert":
                votes_of[(i, v.item_id, v.viewer)] = float(v.vote)
        self._clicks: list[dict[str, set[str]]] = [{} for _ in self.keys]
        for c in rows.clicks:
            i = self._query(c.query)
            while len(self._clicks) <= i:
                self._clicks.append({})
            if (i, c.doc_id, c.viewer) not in votes_of:
                self._clicks[i].setdefault(c.doc_id, set()).add(c.viewer)
        self.doc_queries = _inverted(self.docs, self._clicks)
        self.expert_queries = _inverted(self.experts, [])
        self.vectors = np.zeros((len(self.keys), dim), dtype="float32")
        self.has_vector = np.zeros(len(self.keys), dtype=bool)
        for q in rows.vectors:
            at = self._index.get(q.query)
            if at is not None and q.model == model_id and q.vector.shape == (dim,):
                self.vectors[at] = q.vector
                self.has_vector[at] = True

    def _query(self, key: str) -> int:
        i = self._index.get(key)
        if i is None:
            i = self._index[key] = len(self.keys)
            self.keys.append(key)
            self.docs.append({})
            self.experts.append({})
        return i

    @property
    def empty(self) -> bool:
        return not self.keys

    def weights(self, key: str, qvec: np.ndarray | None, ids: Iterable[int], p: FeedbackSettings
                ) -> dict[int, float]:
        """Weight of each of the queries ``ids`` for the query ``key``: 1 for itself, the
        similar ones by cosine, the rest left out."""
        own = self._index.get(key)
        out = {own: 1.0} if own is not None else {}
        others = [i for i in ids if i != own and self.has_vector[i]]
        if others and qvec is not None and p.similar_weight > 0 and p.similar_min < 1:
            cos = self.vectors[others] @ np.asarray(qvec, dtype="float32")
            for i, c in zip(others, cos.tolist(), strict=True):
                if c > p.similar_min:
                    out[i] = p.similar_weight * (c - p.similar_min) / (1.0 - p.similar_min)
        return out

    def document_boosts(self, key: str, qvec: np.ndarray | None, doc_ids: Iterable[str],
                        p: FeedbackSettings) -> dict[str, float]:
        """Boost of each of ``doc_ids`` that has feedback bearing on the query (others: 1)."""
        return self._boosts(key, qvec, doc_ids, p, self.docs, self.doc_queries, self._clicks, p.max_boost)

    def expert_boosts(self, key: str, qvec: np.ndarray | None, person_ids: Iterable[str],
                      p: FeedbackSettings) -> dict[str, float]:
        return self._boosts(key, qvec, person_ids, p, self.experts, self.expert_queries, [], p.expert_max_boost)

    def _boosts(self, key: str, qvec: np.ndarray | None, items: Iterable[str], p: FeedbackSettings,
                signals: list[Signals], inverted: dict[str, list[int]], clicks: list[dict[str, set[str]]],
                bound: float) -> dict[str, float]:
        found = [x for x in items if x in inverted]
        if not found:
            return {}
        w = self.weights(key, qvec, {i for x in found for i in inverted[x]}, p)
        out = {}
        for x in found:
            best: dict[str, tuple[float, float]] = {}  # viewer -> (weight, signal)
            for i in inverted[x]:
                if i not in w:
                    continue
                for viewer, signal in signals[i].get(x, {}).items():
                    _keep(best, viewer, w[i], signal)
                for viewer in clicks[i].get(x, ()) if i < len(clicks) else ():
                    _keep(best, viewer, w[i], p.click_weight)
            if best:
                out[x] = _boost(best.values(), p.prior, bound)
        return out


def _inverted(signals: list[Signals], clicks: list[dict[str, set[str]]]) -> dict[str, list[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for i, per in enumerate(signals):
        for item in per:
            out[item].add(i)
    for i, per_click in enumerate(clicks):
        for item in per_click:
            out[item].add(i)
    return {k: sorted(v) for k, v in out.items()}


def _keep(best: dict[str, tuple[float, float]], viewer: str, weight: float, signal: float) -> None:
    """A viewer's signal from the query that weighs most (a vote beats an open on a tie)."""
    old = best.get(viewer)
    if old is None or weight > old[0] or (weight == old[0] and abs(signal) > abs(old[1])):
        best[viewer] = (weight, signal)


def _boost(signals: Iterable[tuple[float, float]], prior: float, bound: float) -> float:
    net = mass = 0.0
    for w, s in signals:
        net += w * s
        mass += w * abs(s)
    return float(bound ** (net / (mass + max(prior, 1e-9))))


def boosted(cands: list[Candidate], boosts: dict[str, float]) -> list[Candidate]:
    """``cands`` with their scores multiplied by their boost (divided, for a negative score),
    re-sorted; the same list when nothing is boosted."""
    if not boosts:
        return cands
    for c in cands:
        b = boosts.get(c.doc_id)
        if b is not None:
            c.score = c.score * b if c.score >= 0 else c.score / b
    return sorted(cands, key=lambda c: -c.score)


class Feedback:
    """The live feedback of one server: records votes and opens, and keeps the snapshot the
    ranking reads current (reloaded after this process's writes, and when another process's
    show up, checked at most every ``CHECK_EVERY_S``, in the background)."""

    def __init__(self, log: FeedbackLog, settings: FeedbackSettings, model_id: str = "", dim: int = 0):
        self.log = log
        self.settings = settings
        self.model_id, self.dim = model_id, dim
        self._model = FeedbackModel(FeedbackRows([], [], [], -1), model_id, dim)
        self._checked = 0.0
        self._lock = threading.Lock()
        self._loading = False
        if log.path.exists():
            self.refresh()

    def refresh(self) -> FeedbackModel:
        """Reload the snapshot now (after a write, in tests)."""
        model = FeedbackModel(self.log.rows(), self.model_id, self.dim)
        with self._lock:
            if model.version >= self._model.version:
                self._model = model
            self._checked = time.monotonic()
        return self._model

    def current(self) -> FeedbackModel:
        now = time.monotonic()
        if now - self._checked > CHECK_EVERY_S and not self._loading:
            self._checked = now
            self._loading = True
            threading.Thread(target=self._reload_if_changed, daemon=True, name="whoknows-feedback").start()
        return self._model

    def _reload_if_changed(self) -> None:
        try:
            if self.log.path.exists() and self.log.version() != self._model.version:
                self.refresh()
        finally:
            self._loading = False

    # ---- recording --------------------------------------------------------------------

    def vote(self, searcher: Searcher, viewer: Viewer, who: str, kind: str, query: str, item_id: str,
             vote: int) -> None:
        """Record ``who``'s vote (replacing their earlier one on the same item and query).
        Raises ``Refused`` for an item ``viewer`` may not see, ``ValueError`` for bad input."""
        if kind == "expert":
            self._check_person(searcher, viewer, item_id)
        else:
            self._check_document(searcher, viewer, item_id)
        self.log.vote(kind, query, item_id, who, vote)
        self._remember(searcher, query)
        self.refresh()

    def click(self, searcher: Searcher, viewer: Viewer, who: str, query: str, doc_id: str, rank: int) -> None:
        """Record that ``who`` opened ``doc_id`` at ``rank`` (from 1) of ``query``'s results."""
        self._check_document(searcher, viewer, doc_id)
        self.log.click(query, doc_id, who, rank)
        self._remember(searcher, query)
        self.refresh()

    def _remember(self, searcher: Searcher, query: str) -> None:
        if not self.log.has_query(query, self.model_id):
            self.log.remember_query(query, query, self.model_id, searcher.query_vector(query))

    @staticmethod
    def _check_document(searcher: Searcher, viewer: Viewer, doc_id: str) -> None:
        facts = searcher.index.get().docs().audience_and_source(doc_id)
        if facts is None or not viewer.can_see(facts[0]):
            raise Refused("no such document among those you may see")

    @staticmethod
    def _check_person(searcher: Searcher, viewer: Viewer, person_id: str) -> None:
        store = searcher.index.get().store
        if not any(viewer.can_see(c.visible_to) for c in store.contributions_of([person_id])):
            raise Refused("no such person among those you may see")

    # ---- the ranking ----------------------------------------------------------------

    def rerank(self, query: str, qvec: np.ndarray | None, cands: list[Candidate]) -> list[Candidate]:
        model = self.current()
        if model.empty or not cands:
            return cands
        return boosted(cands, model.document_boosts(normalise(query), qvec, (c.doc_id for c in cands),
                                                    self.settings))

    def adjust_experts(self, query: str, qvec: np.ndarray | None, ranked: list[tuple[str, float]]
                       ) -> list[tuple[str, float]]:
        """(person id, log-scale score) re-ranked by expert votes: log(boost) added."""
        model = self.current()
        if model.empty or not ranked:
            return ranked
        boosts = model.expert_boosts(normalise(query), qvec, (pid for pid, _ in ranked), self.settings)
        if not boosts:
            return ranked
        out = [(pid, s + float(np.log(boosts.get(pid, 1.0)))) for pid, s in ranked]
        return sorted(out, key=lambda x: (-x[1], x[0]))
