"""(e) txtai side by side: the same chunks, the same bundled model, in one run.

txtai (``Embeddings`` with sentence-transformers, FAISS, content stored) indexes the unique
chunk texts whoknows embeds for the sample corpus. Build time is txtai's ``index()`` against
whoknows' end-to-end ingest of the same corpus (which also reads, chunks and stores); query
latency is in-process search of the same 100 queries, top 10.
"""

from __future__ import annotations

import os
import time

from common import Report, median, percentile
from sample import Sample

from index.generations import Home, LiveIndex
from index.settings import SearchSettings
from ingest.pipeline import run_ingest
from search.searcher import Searcher


def _whoknows(report: Report, sample: Sample, backend: str, queries: list[str]) -> None:
    runs = sample.ingest_seconds.get(backend)
    if not runs:
        home = sample.fresh_home(f"sample-{backend}")
        t0 = time.perf_counter()
        run_ingest(sample.settings(home, backend), sample.embedder(backend))
        runs = sample.ingest_seconds[backend] = [time.perf_counter() - t0]
        sample.homes[backend] = home
    report.add("txtai", f"whoknows ({backend}): ingest of the sample", median(runs), "s",
               f"{len(sample.texts())} chunks; read + chunk + embed + store")
    searcher = Searcher(LiveIndex(Home(sample.homes[backend])), sample.query_embedder(backend),
                        SearchSettings())
    took = _timed(lambda q: searcher.search(q), queries)
    report.add("txtai", f"whoknows ({backend}): query latency p50 / p99",
               f"{median(took):.1f} / {percentile(took, 99):.1f}", "ms",
               f"{len(queries)} queries, in-process; plain search (no experts), as txtai's")


def _timed(fn, queries: list[str]) -> list[float]:  # type: ignore[no-untyped-def]
    for q in queries[:10]:
        fn(q)
    out = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bench_txtai(report: Report, sample: Sample, backends: list[str]) -> None:
    try:
        from txtai import Embeddings
    except ImportError:
        report.add("txtai", "txtai", "skipped", "", "not installed: pip install -e '.[bench]'")
        return
    from index.embedding import bundled_model_path

    texts = sample.texts()
    queries = sample.queries(100)
    emb = Embeddings(path=str(bundled_model_path()), method="sentence-transformers", content=True,
                     backend="faiss")
    t0 = time.perf_counter()
    emb.index([(i, t, None) for i, t in enumerate(texts[:16])])  # loads the model
    report.add("txtai", "txtai: model load + warm-up", time.perf_counter() - t0, "s")
    import torch

    torch.set_num_threads(os.cpu_count() or 1)  # as whoknows ingest ([embedding] threads = 0)
    t0 = time.perf_counter()
    emb.index([(i, t, None) for i, t in enumerate(texts)])
    report.add("txtai", "txtai (torch): index() of the same chunks", time.perf_counter() - t0, "s",
               f"{len(texts)} chunks; embed + FAISS + content store")
    torch.set_num_threads(1)  # as whoknows queries ([embedding] query_threads = 1)
    took = _timed(lambda q: emb.search(q, 10), queries)
    report.add("txtai", "txtai (torch): query latency p50 / p99",
               f"{median(took):.1f} / {percentile(took, 99):.1f}", "ms", f"{len(queries)} queries, in-process")
    for b in backends:
        _whoknows(report, sample, b, queries)
