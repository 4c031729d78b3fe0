"""Query latency: dense-only vs the configured hybrid search (and hybrid without late
interaction, when it is on), on the configured index.

    python benchmarks/search_latency.py [--config whoknows.toml] [--titles-from other.toml]
                                        [--queries 100] [--pieces-factor 2] [--json]

Queries are the titles of the index's documents (deterministic), or of another configured
index's (``--titles-from``: real page titles as queries for a synthetic index). Each path answers every
query once for warm-up, then ``repeat`` timed rounds in which the paths take turns query by
query (load on a shared machine then falls on all alike); the figures are per query, full
``Searcher.search`` (encode with the server's query encoder, retrieve, fuse, second stage,
snippets). Ingests the configured sources first if there is no index yet. ``run()`` returns
the figures as a dict.

``--pieces-factor N`` adds a path whose late interaction compares every chunk's stored
word-piece rows repeated N times: the synthetic indexes carry 80 a chunk, real 800-character
chunks 154-173, so N = 2 shows what the comparisons would cost with real text (the reads of
longer rows are not included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from index import token_vectors  # noqa: E402
from index.embedding import Embedder, load_embedder, load_query_embedder  # noqa: E402
from index.generations import Home, LiveIndex  # noqa: E402
from index.settings import SearchSettings, Settings, load_settings  # noqa: E402
from ingest.pipeline import run_ingest  # noqa: E402
from search.searcher import Searcher  # noqa: E402

Timed = tuple[Searcher, Callable[[], AbstractContextManager[object]]]  # a searcher and what it runs within


def _times(paths: dict[str, Timed], queries: list[str], repeat: int) -> dict[str, list[float]]:
    """Per path, the milliseconds of each timed query. The paths take turns query by query,
    so a burst of load on a shared machine falls on all of them alike."""
    for searcher, within in paths.values():  # warm-up: caches, first-touch of pages
        with within():
            for q in queries:
                searcher.search(q)
    out: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeat):
        for q in queries:
            for name, (searcher, within) in paths.items():
                with within():
                    t0 = time.perf_counter()
                    searcher.search(q)
                    out[name].append((time.perf_counter() - t0) * 1000)
    return out


def _more_pieces(factor: int) -> Callable[[], AbstractContextManager[object]]:
    """Late interaction sees each chunk's token rows repeated ``factor`` times."""
    stored = token_vectors.get

    def get(db: object, chunk_ids: list[int]) -> dict[int, bytes]:
        return {c: bits * factor for c, bits in stored(db, chunk_ids).items()}  # type: ignore[arg-type]
    return lambda: mock.patch.object(token_vectors, "get", get)


def _summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"median_ms": round(statistics.median(ms), 2),
            "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 2),
            "mean_ms": round(statistics.fmean(ms), 2)}


def _titles(live: LiveIndex, n: int) -> list[str]:
    return [r[0] for r in live.get().store.db.execute(
        "SELECT title FROM documents WHERE title != '' ORDER BY id LIMIT ?", (n,))]


def run(settings: Settings | None = None, queries: int = 100, repeat: int = 3,
        titles_from: Settings | None = None, pieces_factor: int = 1) -> dict[str, Any]:
    """Median/p99 latency of dense-only and hybrid search over ``queries`` queries."""
    settings = settings or load_settings()
    embedder = load_embedder(settings.embedding)
    home = Home(settings.home)
    if home.current() is None:
        run_ingest(settings, embedder)
    embedder = load_query_embedder(settings.embedding)  # queries are encoded as the server does
    live = LiveIndex(home)
    titles = _titles(LiveIndex(Home(titles_from.home)) if titles_from else live, queries)
    return compare(live, embedder, settings.search, titles, repeat, pieces_factor)


def compare(live: LiveIndex, embedder: Embedder, search: SearchSettings, titles: list[str], repeat: int = 3,
            pieces_factor: int = 1) -> dict[str, Any]:
    """Median/p99 latency of dense-only and the configured (``search``) hybrid search, and
    hybrid without late interaction and without sentence evidence when they are on, over
    ``titles``, the paths in turns."""
    hybrid = Searcher(live, embedder, search)
    paths: dict[str, Timed] = {
        "dense": (Searcher(live, embedder, replace(search, mode="dense", rescore=False)), nullcontext),
        "hybrid": (hybrid, nullcontext)}
    if search.late_interaction > 0:  # what the late-interaction step costs
        paths["hybrid_without_late_interaction"] = (
            Searcher(live, embedder, replace(search, late_interaction=0.0)), nullcontext)
        if pieces_factor > 1:
            paths[f"hybrid_pieces_x{pieces_factor}"] = (hybrid, _more_pieces(pieces_factor))
    if search.sentence_weight > 0:  # what the sentence-evidence step costs
        paths["hybrid_without_sentence_evidence"] = (
            Searcher(live, embedder, replace(search, sentence_weight=0.0)), nullcontext)
    times = {name: _summary(ms) for name, ms in _times(paths, titles, repeat).items()}
    counts = live.get().store.counts()
    out = {"queries": len(titles), "repeat": repeat, "documents": counts["documents"],
           "chunks": counts["chunks"], **times,
           "hybrid_over_dense_median": round(times["hybrid"]["median_ms"] / times["dense"]["median_ms"], 2)}
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config")
    p.add_argument("--titles-from", help="config of another index whose page titles are the queries")
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--pieces-factor", type=int, default=1,
                   help="add a hybrid path whose late interaction sees each chunk's word pieces N times")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    res = run(load_settings(a.config), a.queries, a.repeat,
              load_settings(a.titles_from) if a.titles_from else None, a.pieces_factor)
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"{res['queries']} queries x {res['repeat']} on {res['documents']} documents "
              f"/ {res['chunks']} chunks")
        for k, v in res.items():
            if isinstance(v, dict):
                print(f"  {k:<7} median {v['median_ms']:7.2f} ms   p99 {v['p99_ms']:7.2f} ms   "
                      f"/ dense {v['median_ms'] / res['dense']['median_ms']:.2f}x")
