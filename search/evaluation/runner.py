"""``whoknows eval retrieval``: index a BEIR corpus through the real pipeline into a home,
run every method over the judged queries and report nDCG@10, recall@100 and MRR@10.

Embeddings (corpus and queries) go through an embedding cache at a stable path, so
re-running an evaluation encodes nothing new.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from index.embedding import Embedder, EmbeddingCache, encode_with_tokens
from index.generations import Home, LiveIndex
from index.settings import SearchSettings, Settings, SourceSettings
from index.token_vectors import Tokens, token_encoder
from ingest.pipeline import IngestOptions, run_ingest
from search.searcher import Searcher, clean_query

from .beir import BeirSet
from .metrics import Difference, Scores, difference_lines, paired_difference

DEFAULT_CACHE = Path.home() / ".cache" / "whoknows" / "embeddings.sqlite"
SOURCE = "beir"


@dataclass
class Method:
    name: str
    settings: SearchSettings


@dataclass
class MethodResult:
    method: str
    scores: Scores
    ms_per_query: float


@dataclass
class EvalReport:
    data: str
    split: str
    model: str
    documents: int
    chunks: int
    results: list[MethodResult] = field(default_factory=list)

    def differences(self) -> list[Difference]:
        """nDCG@10 of the last method (the configured search) minus each other method's."""
        if not self.results:
            return []
        last = self.results[-1]
        return [paired_difference(last.method, last.scores.ndcg10_per_query, r.method, r.scores.ndcg10_per_query)
                for r in self.results[:-1]]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for r in out["results"]:
            r["scores"].pop("ndcg10_per_query", None)
        out["differences"] = [asdict(d) for d in self.differences()]
        return out

    def table(self) -> str:
        lines = [f"{self.data} ({self.split}): {self.results[0].scores.queries if self.results else 0} "
                 f"queries, {self.documents} documents, {self.chunks} chunks, model {self.model}",
                 f"{'method':<38} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8} {'ms/q':>7}"]
        for r in self.results:
            s = r.scores
            lines.append(f"{r.method:<38} {s.ndcg10:>8.4f} {s.recall100:>8.4f} {s.mrr10:>8.4f} "
                         f"{r.ms_per_query:>7.1f}")
        return "\n".join([*lines, *difference_lines(self.differences(), "nDCG@10", "queries", 4)])


def standard_methods(configured: SearchSettings) -> list[Method]:
    """Keyword, dense, plain fusions, the configured fusion alone, the second stage without
    late interaction (when on) and the full configuration."""
    first = replace(configured, rescore=False, cross_encoder="", late_interaction=0.0, sentence_weight=0.0)
    plain = replace(first, mode="hybrid", keyword_weight=0.5, document_keyword_weight=0.0)
    return [
        Method("keyword (BM25)", replace(first, mode="keyword")),
        Method("dense", replace(first, mode="dense")),
        Method("fusion rrf k=60", replace(plain, fusion="rrf", rrf_k=60)),
        Method("fusion minmax 0.5/0.5", replace(plain, fusion="minmax")),
        Method(f"configured first stage ({configured.fusion})", replace(first, mode="hybrid")),
        *([Method("configured without late interaction", replace(configured, late_interaction=0.0))]
          if configured.late_interaction > 0 else []),
        *([Method("configured without sentence evidence", replace(configured, sentence_weight=0.0))]
          if configured.sentence_weight > 0 else []),
        Method("configured (+ second stage)", configured),
    ]


class CachedEmbedder:
    """An embedder whose vectors are looked up in, and added to, an ``EmbeddingCache``."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache):
        self.embedder, self.cache = embedder, cache
        self.model_id, self.dim = embedder.model_id, embedder.dim
        self._tokens: dict[str, tuple[np.ndarray, Tokens]] = {}  # queries encoded ahead (``prepare_tokens``)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.cache.vectors_for(self.embedder, texts)[0]

    @property
    def token_vectors(self) -> bool:
        return token_encoder(self.embedder) is not None

    def prepare_tokens(self, texts: list[str]) -> None:
        """Encode queries' token vectors now, in one batch, and keep them for this run (they are
        not cached on disk: a query encodes in milliseconds), so the methods' ms/q leave
        query encoding out as they do for the cached query vectors."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._tokens]
        if todo:
            vecs, toks = encode_with_tokens(self.embedder, todo)
            self._tokens.update(zip(todo, zip(vecs, toks, strict=True), strict=True))

    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
        if not all(t in self._tokens for t in texts):
            return encode_with_tokens(self.embedder, texts)
        found = [self._tokens[t] for t in texts]
        return np.vstack([v for v, _ in found]), [tok for _, tok in found]


def index_corpus(data: BeirSet, settings: Settings, embedder: Embedder, home: Path,
                 cache: Path, progress: bool) -> Settings:
    """Index ``data``'s corpus into ``home`` with the real pipeline; returns its settings."""
    source = SourceSettings(name=SOURCE, kind="beir", path=str(data.folder.resolve()))
    return index_source(source, settings, embedder, home, cache, progress)


def index_source(source: SourceSettings, settings: Settings, embedder: Embedder, home: Path,
                 cache: Path, progress: bool) -> Settings:
    """Index one source into ``home`` with the real pipeline; returns its settings."""
    cfg = replace(settings, home=home, sources=[source])
    rec = run_ingest(cfg, embedder, IngestOptions(progress=progress, cache_path=cache))
    if rec.status != "ok" or rec.sources[source.name].error:
        raise RuntimeError(f"indexing {source.path} failed: {rec.error or rec.sources[source.name].error}")
    return cfg


def run_methods(data: BeirSet, cfg: Settings, embedder: Embedder, methods: list[Method],
                progress: bool, depth: int = 100) -> list[MethodResult]:
    qids = list(data.queries)
    cached = embedder if isinstance(embedder, CachedEmbedder) else None
    ahead = cached if cached is not None and cached.token_vectors and any(
        m.settings.mode == "hybrid" and m.settings.late_interaction > 0 for m in methods) else None
    for start in tqdm(range(0, len(qids), 256), desc="encode queries", disable=not progress,
                      file=sys.stderr):
        texts = [clean_query(data.queries[q]) for q in qids[start : start + 256]]  # as the searcher encodes them
        embedder.encode(texts)
        if ahead is not None:
            ahead.prepare_tokens(texts)
    live = LiveIndex(Home(cfg.home))
    out = []
    for m in methods:
        searcher = Searcher(live, embedder, m.settings)
        runs: dict[str, list[str]] = {}
        t0 = time.perf_counter()
        for q in tqdm(qids, desc=m.name, disable=not progress, file=sys.stderr, leave=False):
            ranking = searcher.rank(data.queries[q], depth=depth)
            runs[q] = [c.doc_id.split("/", 1)[1] for c in ranking.candidates[:depth]]
        ms = (time.perf_counter() - t0) * 1000 / max(1, len(qids))
        out.append(MethodResult(m.name, Scores.of(runs, data.qrels), round(ms, 2)))
    return out


def evaluate(data: BeirSet, settings: Settings, embedder: Embedder, methods: list[Method] | None = None,
             cache: Path = DEFAULT_CACHE, home: Path | None = None, progress: bool = True) -> EvalReport:
    """Index ``data`` (into ``home``, or a temporary folder) and evaluate ``methods``."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    methods = methods or standard_methods(settings.search)
    with tempfile.TemporaryDirectory(prefix="whoknows-eval-") as tmp:
        cfg = index_corpus(data, settings, embedder, home or Path(tmp), cache, progress)
        reader = Home(cfg.home).open_reader()
        counts = reader.store.counts()
        reader.close()
        qcache = EmbeddingCache(cache)
        try:
            results = run_methods(data, cfg, CachedEmbedder(embedder, qcache), methods, progress)
        finally:
            qcache.close()
    return EvalReport(str(data.folder), data.split, embedder.model_id, counts["documents"],
                      counts["chunks"], results)
