"""Time-split evaluation of expert finding on a Stack Exchange dump.

For each question whose accepted answer is by someone other than the asker, only what was
posted before the question counts: the model ranks people for the question's title and
body, and we score where the accepted answerer lands (MRR, P@1, hits@5, hits@10). Posts are
embedded once and kept in time order, so "posted before t" is a prefix of the arrays: the
whole dump is evaluated in one pass, not one index build per question. Baselines run in the
same pass: the most active answerer so far, activity with a 7-day half-life, and
document-centric BM25 and MiniLM (similar questions, then their answerers).
"""

from __future__ import annotations

import math
import random
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from index.embedding import Embedder, EmbeddingCache
from index.models import Document, text_hash
from index.pace import POST_ROLES, Clock, decay, make_clock
from index.people import PeopleResolver
from index.rows import ContributionRow
from index.settings import ExpertSettings, Settings, SourceSettings

from ..experts import (
    Passage,
    Receipt,
    activity,
    combine,
    query_tags,
    relevance_floor,
    relevant_receipts,
    tag_profile,
    topical,
)
from ..fusion import FUSERS
from ..snippets import query_terms
from .metrics import Difference, difference_lines, paired_difference

SOURCE = "se"  # the one source of an evaluated dump


@dataclass
class Post:
    t: datetime
    doc_id: str
    section: int
    author: str
    is_question: bool
    text: str


@dataclass
class Dump:
    posts: list[Post]  # sorted by time
    contributions: list[ContributionRow]  # sorted by time
    tests: list[tuple[int, str, str]]  # (question post index, accepted answerer, asker)
    tags: dict[str, list[str]] = field(default_factory=dict)  # doc id -> tags


@dataclass
class Scores:
    ranks: list[float] = field(default_factory=list)

    def add(self, rank: float) -> None:
        self.ranks.append(rank)

    def reciprocal(self) -> list[float]:
        """Each question's reciprocal rank (0 when the person was not ranked)."""
        return [1 / r if r < math.inf else 0.0 for r in self.ranks]

    def summary(self) -> dict[str, float]:
        n = len(self.ranks) or 1
        return {"mrr": sum(self.reciprocal()) / n,
                "p@1": sum(r == 1 for r in self.ranks) / n,
                "hits@5": sum(r <= 5 for r in self.ranks) / n,
                "hits@10": sum(r <= 10 for r in self.ranks) / n, "n": len(self.ranks)}


def load_dump(folder: Path) -> Dump:
    """Posts, contributions and test questions of a dump, through the real source."""
    from ingest.sources.stackexchange import StackExchangeSource

    cfg = SourceSettings(name="se", kind="stackexchange", path=str(folder),
                         options={"site": f"{folder.name}.stackexchange.com", "comments": False})
    resolver = PeopleResolver()
    posts: list[Post] = []
    contributions: list[ContributionRow] = []
    accepted: list[tuple[str, str, str]] = []  # (doc id, accepted answerer, asker)
    tags: dict[str, list[str]] = {}
    for item in StackExchangeSource(cfg, Settings()).iter_documents():
        if not isinstance(item, Document):  # failures; a fresh source yields no Unchanged
            continue
        _add_thread(item, resolver, posts, contributions, accepted)
        tags[item.id] = item.tags
    order = sorted(range(len(posts)), key=lambda i: (posts[i].t, i))
    posts = [posts[i] for i in order]
    contributions.sort(key=lambda c: c.at or datetime.min)
    qindex = {p.doc_id: i for i, p in enumerate(posts) if p.is_question}
    tests = [(qindex[d], acc, asker) for d, acc, asker in accepted if acc != asker and d in qindex]
    tests.sort()
    return Dump(posts, contributions, tests, tags)


def _add_thread(doc: Document, resolver: PeopleResolver, posts: list[Post],
                contributions: list[ContributionRow], accepted: list[tuple[str, str, str]]) -> None:
    times: dict[int, datetime] = {}
    asker = acc = ""
    for c in doc.contributions:
        pid = resolver.resolve(c.person).id
        if c.at is None:
            continue
        contributions.append(ContributionRow(doc.id, pid, c.role, c.weight, c.at, c.section, c.score,
                                             source=SOURCE))
        if c.role in ("asker", "answerer") and c.section is not None:
            times[c.section] = c.at
        asker = pid if c.role == "asker" else asker
        acc = pid if c.role == "accepted-answerer" else acc
    for i, s in enumerate(doc.sections):
        if i in times and s.author is not None:
            text = s.text.split("\n\nComment by ")[0]
            text = f"{doc.title}\n{text}" if i == 0 else text
            posts.append(Post(times[i], doc.id, i, resolver.resolve(s.author).id, i == 0, text))
    if acc and asker:
        accepted.append((doc.id, acc, asker))


def embed_posts(dump: Dump, embedder: Embedder, cache: EmbeddingCache) -> np.ndarray:
    texts = [p.text for p in dump.posts]
    hashes = [text_hash(t) for t in texts]
    have = cache.get_many(embedder.model_id, hashes)
    todo = {h: t for h, t in zip(hashes, texts, strict=True) if h not in have}
    items = list(todo.items())
    for start in tqdm(range(0, len(items), 256), desc="embedding posts", disable=not items):
        part = items[start : start + 256]
        vecs = embedder.encode([t for _, t in part])
        fresh = {h: v for (h, _), v in zip(part, vecs, strict=True)}
        cache.put_many(embedder.model_id, fresh)
        have.update(fresh)
    return np.vstack([have[h] for h in hashes]).astype("float32")


class KeywordIndex:
    """BM25 over posts with SQLite FTS5; rowid = time order, so "before t" is rowid < k."""

    def __init__(self, posts: list[Post]):
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE p USING fts5(text, tokenize='porter unicode61')")
        self.db.executemany("INSERT INTO p(rowid, text) VALUES (?, ?)",
                            [(i, p.text) for i, p in enumerate(posts)])

    def search(self, query: str, before: int, n: int) -> list[tuple[int, float]]:
        terms = [t for t in query_terms(query) if re.fullmatch(r"\w+", t)][:32]
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        rows = self.db.execute("SELECT rowid, -bm25(p) FROM p WHERE p MATCH ? AND rowid < ? "
                               "ORDER BY bm25(p) LIMIT ?", (match, before, n))
        return [(int(r), float(s)) for r, s in rows]


def rank_of(ranked: list[str], person: str, exclude: str) -> float:
    pos = 0
    for pid in ranked:
        if pid == exclude:
            continue
        pos += 1
        if pid == person:
            return float(pos)
    return math.inf


Method = Callable[[int, datetime, list[ContributionRow]], list[str]]


@dataclass
class Evidence:
    ranked: list[tuple[str, float]]  # people with topical evidence, by the model's score (ungated)
    topical: dict[str, float]
    activity: dict[str, float]
    receipts: dict[str, list[Receipt]] = field(default_factory=dict)  # passing the gate, most relevant first
    results: list[str] = field(default_factory=list)  # the query's top search results (document ids)

    def gated(self) -> list[tuple[str, float]]:
        """The ranking of the people with a receipt: who the model suggests."""
        return [(pid, s) for pid, s in self.ranked if self.receipts.get(pid)]


@dataclass
class ReceiptCheck:
    """Receipt precision and abstention over the questions: of the top ``people``'s shown
    receipts, the share whose document is among the query's top search results, and the share
    whose thread shares a tag with the question."""

    people: int = 5
    shown: int = 3
    receipts: int = 0
    in_results: int = 0
    tagged: int = 0  # receipts of questions that have tags
    share_tag: int = 0
    questions: int = 0
    abstained: int = 0

    def add(self, ev: Evidence, question_tags: set[str], tags: dict[str, list[str]]) -> None:
        self.questions += 1
        ranked = ev.gated()[: self.people]
        self.abstained += not ranked
        top = set(ev.results)
        for pid, _ in ranked:
            for _, c in ev.receipts[pid][: self.shown]:
                self.receipts += 1
                self.in_results += c.doc_id in top
                if question_tags:
                    self.tagged += 1
                    self.share_tag += bool(question_tags & set(tags.get(c.doc_id, [])))

    def summary(self) -> dict[str, float]:
        return {"receipt precision (top-20 results)": self.in_results / (self.receipts or 1),
                "receipt precision (shares a tag)": self.share_tag / (self.tagged or 1),
                "abstention rate": self.abstained / (self.questions or 1), "receipts": self.receipts}


class Evaluation:
    """Holds the dump, vectors and keyword index; scores any number of methods in one pass."""

    def __init__(self, dump: Dump, vectors: np.ndarray, candidates: int = 200):
        self.dump, self.vectors, self.candidates = dump, vectors, candidates
        self.keyword = KeywordIndex(dump.posts)
        self.by_doc: dict[str, list[ContributionRow]] = defaultdict(list)
        self.post_times: list[datetime] = []  # of the posts consumed so far, for the site's pace
        self.seen: set[str] = set()  # people with a contribution so far
        self.first_posts = 0  # questions whose accepted answerer had no earlier contribution
        self._ci = 0  # contributions consumed so far (time order)

    def _advance(self, t: datetime) -> list[ContributionRow]:
        cs = self.dump.contributions
        while self._ci < len(cs) and (cs[self._ci].at or datetime.min) < t:
            c = cs[self._ci]
            self.by_doc[c.doc_id].append(c)
            self.seen.add(c.person_id)
            if c.role in POST_ROLES and c.at is not None:
                self.post_times.append(c.at)
            self._ci += 1
        return cs[: self._ci]

    def clocks(self, p: ExpertSettings) -> dict[str, Clock]:
        """The site's pace over its latest posts so far, as ExpertFinder measures it on a store."""
        clock = make_clock(self.post_times[-max(2, p.pace_posts):])
        return {SOURCE: clock} if clock else {}

    def dense(self, qi: int) -> list[tuple[int, float]]:
        sims = self.vectors[:qi] @ self.vectors[qi]
        n = min(self.candidates, len(sims))
        if n == 0:
            return []
        top = np.argpartition(-sims, n - 1)[:n]
        return sorted(((int(i), float(sims[i])) for i in top), key=lambda x: -x[1])

    def model(self, p: ExpertSettings, check: ReceiptCheck | None = None, gate: bool = True) -> Method:
        """The model (``gate``: only people with a receipt); ``check`` collects its receipt
        precision and abstention."""
        def run(qi: int, t: datetime, before: list[ContributionRow]) -> list[str]:
            ev = self.evidence(p, qi, t, before)
            if check is not None:
                check.add(ev, set(self.dump.tags.get(self.dump.posts[qi].doc_id, [])), self.dump.tags)
            return [pid for pid, _ in (ev.gated() if gate else ev.ranked)]
        return run

    def results(self, dense: list[tuple[int, float]], keyword: dict[int, float], n: int = 20) -> list[str]:
        """The query's top ``n`` threads as hybrid search ranks them: each thread's best dense and
        best keyword post, fused as the configured search fuses (minmax, dense 0.6, keyword 0.4)."""
        s = Settings().search
        posts = self.dump.posts
        runs: dict[str, dict[str, float]] = {"dense": {}, "keyword": {}}
        for name, hits in (("dense", dense), ("keyword", list(keyword.items()))):
            for i, score in hits:
                d = posts[i].doc_id
                runs[name][d] = max(runs[name].get(d, score), score)
        kw = s.keyword_weight + s.document_keyword_weight
        fused = FUSERS[s.fusion](runs, {"dense": 1.0 - kw, "keyword": kw}, s.rrf_k)
        return sorted(fused, key=lambda d: -fused[d])[:n]

    def evidence(self, p: ExpertSettings, qi: int, t: datetime, before: list[ContributionRow]) -> Evidence:
        """The model's ranking of people for question ``qi``, with the evidence behind it."""
        posts = self.dump.posts
        kw = dict(self.keyword.search(posts[qi].text, qi, 400))
        best = max(kw.values(), default=0.0) or 1.0
        dense = self.dense(qi)
        passages = [Passage(posts[i].doc_id, posts[i].section, s,
                            keyword=kw.get(i, 0.0) / best if p.keyword else 0.0) for i, s in dense]
        docs = {x.doc_id for x in passages}
        contribs = [c for d in docs for c in self.by_doc.get(d, [])]
        clocks = self.clocks(p)
        top, why = topical(passages, contribs, p, t, clocks)
        profile: dict[str, float] = {}
        if p.tags:
            qtags = query_tags(passages, self.dump.tags, p)
            profile = tag_profile(qtags, before, self.dump.tags, p, t, clocks)
        act = activity(before, p, t, clocks)
        found = relevant_receipts(passages, why, p, relevance_floor(passages, p))
        return Evidence(combine(top, act, p, profile, why), top, act, found, self.results(dense, kw))

    def most_active(self, half_life: float = 0.0) -> Method:
        def run(qi: int, t: datetime, before: list[ContributionRow]) -> list[str]:
            act: dict[str, float] = defaultdict(float)
            for c in before:
                if c.role == "answerer":
                    act[c.person_id] += decay(c.at, t, half_life) if half_life else 1.0
            return sorted(act, key=lambda pid: (-act[pid], pid))
        return run

    def doc_centric(self, keyword: bool) -> Method:
        def run(qi: int, t: datetime, before: list[ContributionRow]) -> list[str]:
            posts = self.dump.posts
            hits = (self.keyword.search(posts[qi].text, qi, 400) if keyword else self.dense(qi))
            scores: dict[str, float] = defaultdict(float)
            seen: set[str] = set()
            for i, s in hits:
                if not posts[i].is_question or posts[i].doc_id in seen:
                    continue
                seen.add(posts[i].doc_id)
                for c in self.by_doc.get(posts[i].doc_id, []):
                    if c.role == "answerer":
                        scores[c.person_id] += s
                if len(seen) == 100:
                    break
            return sorted(scores, key=lambda pid: (-scores[pid], pid))
        return run

    def run(self, methods: dict[str, Method], sample: int = 0, seed: int = 13,
            progress: bool = True) -> dict[str, dict[str, float]]:
        return {name: s.summary() for name, s in self.scores(methods, sample, seed, progress).items()}

    def walk(self, tests: Iterable[tuple[int, str, str]]
             ) -> Iterator[tuple[int, str, str, datetime, list[ContributionRow]]]:
        """The test questions in time order, each with its time and the contributions before it;
        counts ``first_posts`` on the way."""
        self.by_doc.clear()
        self.post_times.clear()
        self.seen.clear()
        self._ci = 0
        self.first_posts = 0
        for qi, accepted, asker in tests:
            t = self.dump.posts[qi].t
            before = self._advance(t)
            self.first_posts += accepted not in self.seen
            yield qi, accepted, asker, t, before

    def scores(self, methods: dict[str, Method], sample: int = 0, seed: int = 13,
               progress: bool = True) -> dict[str, Scores]:
        """Each method's ranks of the accepted answerers, over all questions (or a seeded sample).
        ``first_posts`` then counts the questions whose accepted answerer had no earlier
        contribution: no method can rank them."""
        tests = self.dump.tests
        if sample and sample < len(tests):
            tests = sorted(random.Random(seed).sample(tests, sample))
        scores = {name: Scores() for name in methods}
        for qi, accepted, asker, t, before in self.walk(tqdm(tests, desc="questions", disable=not progress)):
            for name, method in methods.items():
                scores[name].add(rank_of(method(qi, t, before), accepted, asker))
        return scores


BASELINES = ("most-active answerer", "activity, 7-day half-life", "BM25 document-centric",
             "MiniLM document-centric")


def standard_methods(ev: Evaluation, p: ExpertSettings, check: ReceiptCheck | None = None) -> dict[str, Method]:
    """The baselines, the model without its evidence gate, and the model (last)."""
    return dict(zip(BASELINES, [ev.most_active(), ev.most_active(7.0), ev.doc_centric(keyword=True),
                                ev.doc_centric(keyword=False)], strict=True)) | {
        "model without the evidence gate": ev.model(p, gate=False),
        "whoknows model": ev.model(p, check),
    }


def grid(base: ExpertSettings, **axes: list[float]) -> list[ExpertSettings]:
    """Every combination of the given parameter values on top of ``base``."""
    out = [base]
    for name, values in axes.items():
        out = [replace(p, **{name: v}) for p in out for v in values]  # type: ignore[arg-type]
    return out


def differences(scores: dict[str, Scores]) -> list[Difference]:
    """MRR of the last method (the model) minus each other method's, with a paired-bootstrap
    95% interval over the questions."""
    if not scores:
        return []
    *others, last = scores
    return [paired_difference(last, scores[last].reciprocal(), b, scores[b].reciprocal()) for b in others]


@dataclass
class ExpertReport:
    results: dict[str, dict[str, float]]
    differences: list[Difference]
    first_posts: int = 0  # questions whose accepted answerer had no earlier contribution
    receipts: dict[str, float] = field(default_factory=dict)  # ReceiptCheck.summary of the model
    routing: Any = None  # RoutingReport (search/evaluation/routing.py): plain vs fair routing

    @property
    def questions(self) -> int:
        return int(next(iter(self.results.values()))["n"]) if self.results else 0

    @property
    def best_possible_mrr(self) -> float:
        """What ranking every other accepted answerer first would score."""
        n = self.questions
        return (n - self.first_posts) / n if n else 0.0

    def to_json(self) -> dict:
        return {"results": self.results, "differences": [asdict(d) for d in self.differences],
                "first_posts": self.first_posts, "best_possible_mrr": self.best_possible_mrr,
                "receipts": self.receipts, **({"routing": self.routing.to_json()} if self.routing else {})}

    def table(self) -> str:
        reach = (f"{self.first_posts} of {self.questions} accepted answers came from someone with no earlier "
                 f"contribution: no method can rank them (best possible MRR {self.best_possible_mrr:.3f})")
        r = self.receipts
        shown = ([f"whoknows model, top 5 people's shown receipts ({int(r['receipts'])}): "
                  f"{r['receipt precision (top-20 results)']:.3f} among the question's top-20 search results, "
                  f"{r['receipt precision (shares a tag)']:.3f} share a tag with it; abstained on "
                  f"{r['abstention rate']:.3f} of the questions"] if r else [])
        return "\n".join([table(self.results), reach, *shown,
                          *difference_lines(self.differences, "MRR", "questions", 3),
                          *([self.routing.table()] if self.routing else [])])


def prepare(folder: Path, settings: Settings, embedder: Embedder, cache: Path) -> Evaluation:
    """A dump loaded and embedded (through the cache at ``cache``), ready to score methods."""
    dump = load_dump(folder)
    cache.parent.mkdir(parents=True, exist_ok=True)
    store = EmbeddingCache(cache)
    try:
        vectors = embed_posts(dump, embedder, store)
    finally:
        store.close()
    return Evaluation(dump, vectors, settings.experts.candidates)


def evaluate_experts(folder: Path, settings: Settings, embedder: Embedder, cache: Path,
                     sample: int = 0, progress: bool = True) -> ExpertReport:
    """The whole protocol: load, embed (cached), baselines and the configured model."""
    ev = prepare(folder, settings, embedder, cache)
    check = ReceiptCheck(settings.experts.k, settings.experts.evidence)
    scores = ev.scores(standard_methods(ev, settings.experts, check), sample=sample, progress=progress)
    report = ExpertReport({name: s.summary() for name, s in scores.items()}, differences(scores), ev.first_posts,
                          check.summary())
    from .routing import evaluate_routing  # fair routing, in its own module (imports this one)

    report.routing = evaluate_routing(ev, settings.experts, settings.routing, sample, progress=progress)
    return report


def table(results: dict[str, dict[str, float]], heading: str = "") -> str:
    n = int(next(iter(results.values()))["n"]) if results else 0
    width = max([30, *(len(name) for name in results)])
    lines = [heading or f"{n} questions (accepted answer by someone other than the asker; only earlier posts)",
             f"{'method':{width}} {'MRR':>6} {'P@1':>6} {'hits@5':>7} {'hits@10':>8}"]
    for name, r in results.items():
        lines.append(f"{name:{width}} {r['mrr']:6.3f} {r['p@1']:6.3f} {r['hits@5']:7.3f} {r['hits@10']:8.3f}")
    return "\n".join(lines)
