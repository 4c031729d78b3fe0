"""``whoknows eval feedback``: does feedback teach the ranking, and does noise hurt it?

Index a BEIR corpus with the real pipeline (into ``--home``, reused, and the shared embedding
cache, as ``eval retrieval`` does), rank every judged query with the configured search, then
split the queries in half (seeded). Simulated users act on the first half: each query is
searched by ``users`` different people (of a population of 100), who see the top 10, open
and up-vote (with probability ``VOTE_P``) the relevant documents there, and down-vote (with
probability ``DOWN_P``) each non-relevant one ranked above the first relevant. At noise
rate r each action goes astray with probability r: an open or up vote lands on a non-relevant
shown document, a down vote on a relevant one. Users see the ranking without feedback
(they act at about the same time). Then nDCG@10 is measured, with and without the feedback:

- **repeats**: the first half's queries asked again, word for word;
- **unseen similar**: second-half queries whose vector is within ``[feedback] similar_min``
  of a voted query's (the similar-query transfer);
- **unseen**: the whole second half (feedback must not hurt what it knows nothing about).

The boost is the product's own (``search/feedback.py``: ``FeedbackModel`` and ``boosted``,
what ``Searcher.rank`` applies last), over the configured search's candidates. ``--sweep``
adds the grid the defaults were chosen from.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from index.embedding import Embedder, EmbeddingCache
from index.feedback import Click, FeedbackRows, QueryVector, Vote
from index.gaps import normalise
from index.generations import Home, LiveIndex
from index.settings import FeedbackSettings, Settings
from search.candidates import Candidate
from search.feedback import FeedbackModel, boosted
from search.searcher import Searcher, clean_query

from .beir import BeirSet
from .metrics import Difference, ndcg_at, paired_difference
from .runner import DEFAULT_CACHE, CachedEmbedder, index_corpus

SHOWN = 10
VOTE_P = 0.7
DOWN_P = 0.3
POPULATION = 100
DEPTH = 100


@dataclass
class Measured:
    """nDCG@10 of one query set without and with feedback."""

    name: str
    queries: int
    without: float
    with_feedback: float
    difference: Difference | None = None


@dataclass
class NoiseResult:
    noise: float
    votes: int
    opens: int
    sets: list[Measured] = field(default_factory=list)


@dataclass
class SweepRow:
    settings: dict[str, float]
    scores: dict[str, float]  # "<set>@<noise>" -> nDCG@10 with feedback


@dataclass
class FeedbackReport:
    data: str
    split: str
    model: str
    users: int
    feedback: dict[str, Any]
    results: list[NoiseResult] = field(default_factory=list)
    sweep: list[SweepRow] = field(default_factory=list)
    baseline: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        if not self.results:
            return "no queries"
        sets = self.results[0].sets
        lines = [f"{self.data} ({self.split}), model {self.model}: feedback from {self.users} simulated users "
                 f"a query on half the queries; nDCG@10", "",
                 f"{'queries':<30} {'n':>5} {'no feedback':>12}" + "".join(
                     f" {'noise ' + format(r.noise, '.0%'):>12}" for r in self.results)]
        for i, s in enumerate(sets):
            lines.append(f"{s.name:<30} {s.queries:>5} {s.without:>12.4f}" + "".join(
                f" {r.sets[i].with_feedback:>12.4f}" for r in self.results))
        lines.append("")
        for r in self.results:
            lines.append(f"noise {r.noise:.0%} ({r.votes} votes, {r.opens} opens), with minus without "
                         "(95% CI, paired bootstrap):")
            for s in r.sets:
                d = s.difference
                if d is not None and d.queries:
                    lines.append(f"  - {s.name:<28} {d.mean:+.4f} ({d.low:+.4f} to {d.high:+.4f})")
        lines.append("settings: " + ", ".join(f"{k} {v}" for k, v in self.feedback.items()))
        if self.sweep:
            keys = list(self.sweep[0].scores)
            lines += ["", "sweep (nDCG@10 with feedback; no feedback: " +
                      ", ".join(f"{k.split('@')[0]} {v:.4f}" for k, v in self.baseline.items()) + ")",
                      f"{'max_boost prior click sim_min sim_w':<38}" + "".join(f" {k:>20}" for k in keys)]
            for row in self.sweep:
                p = row.settings
                lines.append(f"{p['max_boost']:<9} {p['prior']:<5} {p['click_weight']:<5} {p['similar_min']:<7} "
                             f"{p['similar_weight']:<9}" + "".join(f" {row.scores[k]:>20.4f}" for k in keys))
        return "\n".join(lines)


@dataclass
class Ranked:
    """Each judged query's configured ranking and vector, and the half-split."""

    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    ranking: dict[str, list[tuple[str, float]]]  # query id -> (document id, score), best first
    vectors: dict[str, np.ndarray]
    voted: list[str]
    unseen: list[str]


def rank_all(data: BeirSet, cfg: Settings, embedder: Embedder, seed: int, progress: bool) -> Ranked:
    searcher = Searcher(LiveIndex(Home(cfg.home)), embedder, cfg.search)
    qids = list(data.queries)
    embedder.encode([clean_query(data.queries[q]) for q in qids])  # one batch, into the cache
    ranking, vectors = {}, {}
    for q in tqdm(qids, desc="rank", disable=not progress, file=sys.stderr):
        cands = searcher.rank(data.queries[q], depth=DEPTH).candidates[:DEPTH]
        ranking[q] = [(c.doc_id, c.score) for c in cands]
        vectors[q] = searcher.query_vector(data.queries[q])
    order = list(np.random.default_rng(seed).permutation(len(qids)))
    half = len(qids) // 2
    return Ranked(data.queries, data.qrels, ranking, vectors, [qids[i] for i in order[:half]],
                  [qids[i] for i in order[half:]])


def _raw(doc_id: str) -> str:
    return doc_id.split("/", 1)[1] if "/" in doc_id else doc_id


def simulate(r: Ranked, noise: float, users: int, seed: int, model_id: str) -> FeedbackRows:
    """The simulated users' votes and opens on the voted half (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    votes: list[Vote] = []
    clicks: list[Click] = []
    for q in r.voted:
        key = normalise(r.queries[q])
        shown = [d for d, _ in r.ranking[q][:SHOWN]]
        rel = [d for d in shown if r.qrels[q].get(_raw(d), 0) > 0]
        non = [d for d in shown if d not in rel]
        first_rel = next((i for i, d in enumerate(shown) if d in rel), len(shown))
        for u in rng.choice(POPULATION, size=min(users, POPULATION), replace=False):
            who = f"user{u}"
            acts: dict[tuple[str, str], int] = {}  # (action, document) -> vote
            for d in rel:
                target = rng.choice(non) if non and rng.random() < noise else d
                clicks.append(Click(who, key, str(target), shown.index(target) + 1, 0.0))
                if rng.random() < VOTE_P:
                    acts[("vote", str(rng.choice(non)) if non and rng.random() < noise else d)] = 1
            for d in shown[:first_rel]:
                if rng.random() < DOWN_P:
                    acts[("vote", str(rng.choice(rel)) if rel and rng.random() < noise else d)] = -1
            votes += [Vote("result", key, d, who, v, 0.0) for (_, d), v in acts.items()]
    vectors = [QueryVector(normalise(r.queries[q]), r.queries[q], model_id, r.vectors[q]) for q in r.voted]
    return FeedbackRows(votes, clicks, vectors, 0)


def ndcg_with(r: Ranked, qids: list[str], model: FeedbackModel | None, p: FeedbackSettings) -> list[float]:
    out = []
    for q in qids:
        cands = [Candidate(d, 0, score=s) for d, s in r.ranking[q]]
        if model is not None:
            cands = boosted(cands, model.document_boosts(normalise(r.queries[q]), r.vectors[q],
                                                         (c.doc_id for c in cands), p))
        out.append(ndcg_at([_raw(c.doc_id) for c in cands], r.qrels[q]))
    return out


def query_sets(r: Ranked, similar_min: float) -> dict[str, list[str]]:
    voted = np.vstack([r.vectors[q] for q in r.voted])
    near = {q: float((voted @ r.vectors[q]).max()) for q in r.unseen}
    return {"repeats": r.voted, "unseen similar": [q for q in r.unseen if near[q] > similar_min],
            "unseen": r.unseen}


def measure(r: Ranked, rows: FeedbackRows, p: FeedbackSettings, model_id: str, dim: int, noise: float
            ) -> NoiseResult:
    model = FeedbackModel(rows, model_id, dim)
    res = NoiseResult(noise, len(rows.votes), len(rows.clicks))
    for name, qids in query_sets(r, p.similar_min).items():
        without, with_ = ndcg_with(r, qids, None, p), ndcg_with(r, qids, model, p)
        res.sets.append(Measured(f"{name}", len(qids), _mean(without), _mean(with_),
                                 paired_difference("with", with_, "without", without) if qids else None))
    return res


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else 0.0


SWEEP = {"max_boost": (1.5, 2.0, 3.0), "prior": (1.0, 3.0, 6.0), "click_weight": (0.0, 0.3),
         "similar_min": (0.7, 0.8, 0.9), "similar_weight": (0.5, 1.0)}


def sweep(r: Ranked, rows: dict[float, FeedbackRows], base: FeedbackSettings, model_id: str, dim: int
          ) -> list[SweepRow]:
    """nDCG@10 with feedback for each combination of ``SWEEP``, on the query sets of the
    configured ``similar_min`` (the same queries for every row)."""
    sets = query_sets(r, base.similar_min)
    models = {noise: FeedbackModel(rs, model_id, dim) for noise, rs in rows.items()}
    out = []
    for values in itertools.product(*SWEEP.values()):
        p = replace(base, **dict(zip(SWEEP, values, strict=True)))
        scores = {}
        for noise, model in models.items():
            for name, qids in sets.items():
                scores[f"{name}@{noise:.0%}"] = _mean(ndcg_with(r, qids, model, p))
        out.append(SweepRow(dict(zip(SWEEP, values, strict=True)), scores))
    return out


def evaluate_feedback(data: BeirSet, settings: Settings, embedder: Embedder, cache: Path = DEFAULT_CACHE,
                      home: Path | None = None, noises: tuple[float, ...] = (0.0, 0.2), users: int = 3,
                      seed: int = 13, with_sweep: bool = False, progress: bool = True) -> FeedbackReport:
    cache.parent.mkdir(parents=True, exist_ok=True)
    p = settings.feedback
    with tempfile.TemporaryDirectory(prefix="whoknows-eval-") as tmp:
        cfg = index_corpus(data, settings, embedder, home or Path(tmp), cache, progress)
        qcache = EmbeddingCache(cache)
        try:
            r = rank_all(data, cfg, CachedEmbedder(embedder, qcache), seed, progress)
        finally:
            qcache.close()
    rows = {noise: simulate(r, noise, users, seed + i, embedder.model_id) for i, noise in enumerate(noises)}
    report = FeedbackReport(str(data.folder), data.split, embedder.model_id, users, asdict(p))
    report.results = [measure(r, rs, p, embedder.model_id, embedder.dim, noise) for noise, rs in rows.items()]
    if with_sweep:
        report.sweep = sweep(r, rows, p, embedder.model_id, embedder.dim)
        report.baseline = {f"{s.name}@": s.without for s in report.results[0].sets}
    return report
