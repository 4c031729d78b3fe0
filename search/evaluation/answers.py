"""``whoknows eval answers``: does whoknows answer what its index can answer, and refuse the rest?

(a) Answerable: every question of a Stack Exchange dump with an accepted answer, asked with
its body (HTML stripped, no title) against an index of the whole dump, its own thread
included. Correct means confident AND citing that thread; a confident answer citing another
thread counts as wrong. Also: how often "asked before" finds the thread, and how often the
extractive answer alone (asked-before off) would have cited it.
(b) Unanswerable: questions from another domain (BEIR ``queries.jsonl`` such as SciFact's
claims, or another dump's question bodies) against the same index: the share refused.

The answerer runs once per question without thresholds (``Answerer.evidence``); every
threshold of the sweep is then applied to those outcomes, so the sweep costs nothing extra.
Vectors come from the shared embedding cache: a re-run encodes nothing new.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from index.embedding import Embedder, EmbeddingCache
from index.generations import Home, LiveIndex
from index.models import Document
from index.settings import Settings, SourceSettings
from ingest.sources.stackexchange import StackExchangeSource

from ..answers import Answerer
from ..searcher import Searcher
from .runner import CachedEmbedder, index_source

SOURCE = "se"
SWEEP = [round(0.30 + 0.025 * i, 3) for i in range(21)]  # 0.30 … 0.80


@dataclass
class Question:
    id: str
    text: str
    thread: str = ""  # the doc id of its own thread (answerable questions)


@dataclass
class Outcome:
    """What the answerer found for one question, before any threshold is applied."""

    question: Question
    asked_before: str = ""  # the closest earlier thread that has an answer
    asked_before_sim: float = 0.0
    confidence: float = 0.0  # the extractive answer's
    cited: list[str] = field(default_factory=list)  # doc ids the extractive answer cites

    def decide(self, min_confidence: float, asked_before: float, use_asked_before: bool = True
               ) -> tuple[bool, list[str]]:
        """(confident, cited doc ids) under these thresholds, as ``Answerer.ask`` decides."""
        if use_asked_before and self.asked_before and self.asked_before_sim >= asked_before:
            return True, [self.asked_before]
        return self.confidence >= min_confidence, self.cited

    def correct(self, min_confidence: float, asked_before: float, use_asked_before: bool = True) -> bool:
        confident, cited = self.decide(min_confidence, asked_before, use_asked_before)
        return confident and self.question.thread in cited

    def refused(self, min_confidence: float, asked_before: float) -> bool:
        return not self.decide(min_confidence, asked_before)[0]


@dataclass
class SetResult:
    name: str
    n: int
    hits: int  # answerable: confident and citing the thread; unanswerable: refused
    asked_before: int = 0  # answerable: "asked before" found the thread; unanswerable: it fired at all
    extractive_only: int = 0  # answerable: the extractive answer alone was confident and cited it
    confidence: list[float] = field(default_factory=list)  # the extractive confidence's 5th, 50th, 95th pct

    @property
    def share(self) -> float:
        return self.hits / self.n if self.n else 0.0


@dataclass
class SweepRow:
    threshold: float
    answerable: float  # share confident and citing the thread (with asked-before)
    extractive_only: float  # the same with asked-before off
    refused: float  # share of all unanswerable questions refused


@dataclass
class AnswerEvalReport:
    dump: str
    model: str
    documents: int
    chunks: int
    min_confidence: float
    asked_before: float
    answerable: SetResult
    unanswerable: list[SetResult] = field(default_factory=list)
    sweep: list[SweepRow] = field(default_factory=list)
    best_threshold: float = 0.0  # the middle of where extractive hits + refusals peak

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        a = self.answerable
        lines = [f"{self.dump}: {self.documents} threads, {self.chunks} chunks, model {self.model}; "
                 f"min_confidence {self.min_confidence}, asked_before {self.asked_before}",
                 f"answerable ({a.n} questions with an accepted answer, asked by their body):",
                 f"  confident and citing their own thread  {_pct(a.hits, a.n)}",
                 f"  'asked before' found their thread      {_pct(a.asked_before, a.n)}",
                 f"  extractive alone (asked-before off)    {_pct(a.extractive_only, a.n)}",
                 f"  extractive confidence 5/50/95th pct    {_pcts(a.confidence)}"]
        for u in self.unanswerable:
            lines.append(f"unanswerable {u.name} ({u.n}): refused {_pct(u.hits, u.n)}; "
                         f"'asked before' fired on {_pct(u.asked_before, u.n)}; "
                         f"confidence 5/50/95th pct {_pcts(u.confidence)}")
        lines.append("sweep of [answers] min_confidence (asked_before fixed):")
        lines.append(f"  {'threshold':>9} {'answerable':>11} {'extractive':>11} {'refused':>8}")
        for r in self.sweep:
            mark = "  <- best" if r.threshold == self.best_threshold else ""
            lines.append(f"  {r.threshold:>9.3f} {r.answerable:>11.3f} {r.extractive_only:>11.3f} "
                         f"{r.refused:>8.3f}{mark}")
        return "\n".join(lines)


def _pcts(values: list[float]) -> str:
    return " / ".join(f"{v:.3f}" for v in values)


def _percentiles(outs: list[Outcome]) -> list[float]:
    if not outs:
        return []
    return [round(float(v), 4) for v in np.percentile([o.confidence for o in outs], [5, 50, 95])]


def _pct(k: int, n: int) -> str:
    return f"{k / n:6.1%} ({k}/{n})" if n else "  n/a (0)"


# ---- questions ---------------------------------------------------------------------------


def dump_source(folder: Path, comments: bool = True) -> SourceSettings:
    return SourceSettings(name=SOURCE, kind="stackexchange", path=str(folder.resolve()),
                          options={"site": f"{folder.name}.stackexchange.com", "comments": comments})


def _threads(folder: Path) -> list[Document]:
    src = StackExchangeSource(dump_source(folder, comments=False), Settings())
    return [d for d in src.iter_documents() if isinstance(d, Document)]  # a fresh source: no Unchanged


def _body(doc: Document) -> str:
    """The question's own text: its first section without comments, or '' when it is just the title."""
    body = doc.sections[0].text.strip() if doc.sections else ""
    return "" if body == doc.title.strip() else body


def answerable_questions(folder: Path) -> list[Question]:
    """Questions with an accepted answer, by their body; the thread is their own document."""
    return [Question(d.id, body, thread=d.id) for d in _threads(folder)
            if (body := _body(d)) and any(c.role == "accepted-answerer" for c in d.contributions)]


def other_questions(path: Path) -> list[Question]:
    """Questions from another domain: a BEIR folder's (or file's) queries.jsonl, or a dump's bodies."""
    if (path / "Posts.xml").is_file():
        return [Question(d.id, body) for d in _threads(path) if (body := _body(d))]
    file = path / "queries.jsonl" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{path}: neither a Stack Exchange dump (Posts.xml) nor queries.jsonl")
    out = []
    with file.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                if str(row.get("text", "")).strip():
                    out.append(Question(str(row["_id"]), str(row["text"])))
    return out


def sample(questions: list[Question], n: int, seed: int) -> list[Question]:
    if not n or n >= len(questions):
        return questions
    return random.Random(seed).sample(questions, n)


# ---- running -----------------------------------------------------------------------------


def outcomes(answerer: Answerer, questions: list[Question], desc: str, progress: bool) -> list[Outcome]:
    out = []
    for q in tqdm(questions, desc=desc, disable=not progress, file=sys.stderr, leave=False):
        ab, ans = answerer.evidence(q.text)
        out.append(Outcome(q, ab.doc_id if ab else "", ab.similarity if ab else 0.0, ans.confidence,
                           [c.doc_id for c in ans.citations]))
    return out


def summarise(answerable: list[Outcome], others: dict[str, list[Outcome]], min_conf: float,
              asked_before: float) -> tuple[SetResult, list[SetResult]]:
    a = SetResult("answerable", len(answerable),
                  sum(o.correct(min_conf, asked_before) for o in answerable),
                  sum(o.asked_before == o.question.thread and o.asked_before_sim >= asked_before
                      for o in answerable),
                  sum(o.correct(min_conf, asked_before, use_asked_before=False) for o in answerable),
                  _percentiles(answerable))
    us = [SetResult(name, len(os), sum(o.refused(min_conf, asked_before) for o in os),
                    sum(bool(o.asked_before) and o.asked_before_sim >= asked_before for o in os),
                    confidence=_percentiles(os))
          for name, os in others.items()]
    return a, us


def sweep(answerable: list[Outcome], others: list[Outcome], asked_before: float,
          thresholds: list[float] = SWEEP) -> list[SweepRow]:
    rows = []
    for t in thresholds:
        n_a, n_u = len(answerable) or 1, len(others) or 1
        rows.append(SweepRow(
            t, round(sum(o.correct(t, asked_before) for o in answerable) / n_a, 4),
            round(sum(o.correct(t, asked_before, use_asked_before=False) for o in answerable) / n_a, 4),
            round(sum(o.refused(t, asked_before) for o in others) / n_u, 4)))
    return rows


def best_threshold(rows: list[SweepRow]) -> float:
    """Where the extractive answer's hits plus refusals peak; on a plateau, its middle (the
    widest margin to both sides)."""
    if not rows:
        return 0.0
    top = max(round(r.extractive_only + r.refused, 6) for r in rows)
    ties = sorted(r.threshold for r in rows if round(r.extractive_only + r.refused, 6) == top)
    return ties[len(ties) // 2]


def evaluate_answers(dump: Path, unanswerable: list[Path], settings: Settings, embedder: Embedder,
                     cache: Path, home: Path | None = None, n: int = 0, seed: int = 13,
                     progress: bool = True, query_embedder: Embedder | None = None) -> AnswerEvalReport:
    """Index ``dump`` with ``embedder``, ask its answerable questions and the others (encoded
    by ``query_embedder``, as a search would), and sweep the threshold."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    asked = sample(answerable_questions(dump), n, seed)
    sets = {p.name: sample(other_questions(p), n, seed) for p in unanswerable}
    with tempfile.TemporaryDirectory(prefix="whoknows-eval-answers-") as tmp:
        cfg = index_source(dump_source(dump), settings, embedder, home or Path(tmp), cache, progress)
        reader = Home(cfg.home).open_reader()
        counts = reader.store.counts()
        reader.close()
        qcache = EmbeddingCache(cache)
        try:
            encoder = CachedEmbedder(query_embedder or embedder, qcache)
            answerer = Answerer(Searcher(LiveIndex(Home(cfg.home)), encoder, cfg.search), cfg.answers)
            got = outcomes(answerer, asked, "answerable", progress)
            others = {name: outcomes(answerer, qs, name, progress) for name, qs in sets.items()}
        finally:
            qcache.close()
    s = settings.answers
    a, us = summarise(got, others, s.min_confidence, s.asked_before)
    rows = sweep(got, [o for os in others.values() for o in os], s.asked_before)
    return AnswerEvalReport(str(dump), embedder.model_id, counts["documents"], counts["chunks"],
                            s.min_confidence, s.asked_before, a, us, rows,
                            best_threshold(rows) if others else 0.0)
