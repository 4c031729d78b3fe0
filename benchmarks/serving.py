"""(c) query latency, (d) memory per chunk, (f) the issue-2 search figure and issue 5's
hybrid / dense latency ratio.

On the sample corpus (built by the ingest part, or here) and on synthetic indexes: HTTP
latency through a real server, in-process ``Searcher.search`` latency, index and store size
per chunk, and recall@10 of the vector index against exact search for real queries.
"""

from __future__ import annotations

import time
from pathlib import Path

import faiss
import numpy as np
from common import Report, median, percentile
from http_latency import Server, measure, summary, write_config
from sample import Sample
from search_latency import compare
from synthetic import build_synthetic, synthetic_vectors

from index.generations import STORE_FILE, VECTORS_FILE, Home, LiveIndex
from index.settings import ExpertSettings, SearchSettings, VectorSettings
from index.vectors import load_vectors
from index.vectors_ivf import exact_top_k, recall_at_k
from ingest.pipeline import run_ingest
from search.experts import ExpertFinder
from search.searcher import Searcher


def sample_home(sample: Sample, backend: str) -> Path:
    if backend not in sample.homes:
        home = sample.fresh_home(f"sample-{backend}")
        run_ingest(sample.settings(home, backend), sample.embedder(backend))
        sample.homes[backend] = home
    return sample.homes[backend]


def in_process(report: Report, label: str, home: Path, sample: Sample, backend: str, queries: list[str],
               experts: bool = True) -> None:
    searcher = Searcher(LiveIndex(Home(home)), sample.query_embedder(backend), SearchSettings(),
                        ExpertFinder(ExpertSettings()))
    for q in queries:  # one warm-up pass: a large store's pages are read from disk the first time
        searcher.search(q, with_experts=experts)
    took = []
    for q in queries:
        t0 = time.perf_counter()
        searcher.search(q, with_experts=experts)
        took.append((time.perf_counter() - t0) * 1000)
    how = "with experts, as /api/search" if experts else "plain search, without experts"
    report.add("search", f"{label}: in-process search, median of {len(queries)} queries", median(took), "ms",
               f"p99 {percentile(took, 99):.1f} ms; {how}")


def hybrid_over_dense(report: Report, label: str, home: Path, sample: Sample, backend: str,
                      queries: list[str]) -> None:
    """Issue 5's bound: hybrid search within 2x of dense-only (``search_latency.compare``)."""
    res = compare(LiveIndex(Home(home)), sample.query_embedder(backend), SearchSettings(), queries)
    rest = [f"{k.replace('_', ' ')} {v['median_ms']:.1f} ms" for k, v in res.items()
            if isinstance(v, dict) and k not in ("dense", "hybrid")]
    report.add("search", f"{label}: hybrid / dense latency, median of {len(queries)} queries x {res['repeat']}",
               res["hybrid_over_dense_median"], "x",
               "; ".join([f"dense {res['dense']['median_ms']:.1f} ms, hybrid {res['hybrid']['median_ms']:.1f} ms",
                          *rest, "paths in turns, full Searcher.search without experts (target 2x)"]))


def http(report: Report, label: str, home: Path, sample: Sample, backend: str, queries: list[str],
         single: int, concurrent: int) -> None:
    work = sample.work
    slug = label.replace("/", "-").replace(" ", "-")
    cfg = write_config(work / f"serve-{slug}.toml", home, backend, sample.cache_dir)
    with Server(cfg, work / f"serve-{slug}.log") as server:
        lat = measure(server, queries, single, concurrent)
    s = summary(lat)
    report.add("http", f"{label}: single client p50 / p99", f"{s['single_p50_ms']:.1f} / {s['single_p99_ms']:.1f}",
               "ms", f"{len(lat.single)} requests, with experts (the API default)")
    report.add("http", f"{label}: single client p50 / p99, as the search page asks (experts=false)",
               f"{s['page_p50_ms']:.1f} / {s['page_p99_ms']:.1f}", "ms", f"{len(lat.page)} requests")
    report.add("http", f"{label}: 8 concurrent p50 / p99", f"{s['c8_p50_ms']:.1f} / {s['c8_p99_ms']:.1f}", "ms",
               f"{len(lat.concurrent)} requests, {s['c8_qps']:.0f} req/s")
    report.add("memory", f"{label}: server resident memory", lat.server_rss_mb, "MB")
    if lat.errors:
        report.add("http", f"{label}: failed or empty responses", lat.errors, "")


def sizes(report: Report, label: str, home: Path) -> None:
    gen = Home(home).current()
    assert gen is not None
    d = home / "generations" / gen
    n = len(load_vectors(d / VECTORS_FILE))
    report.add("memory", f"{label}: vector index", (d / VECTORS_FILE).stat().st_size / n, "bytes/chunk",
               f"{n} chunks, {(d / VECTORS_FILE).stat().st_size / 1e6:.1f} MB")
    report.add("memory", f"{label}: store on disk", (d / STORE_FILE).stat().st_size / n, "bytes/chunk",
               f"{(d / STORE_FILE).stat().st_size / 1e6:.1f} MB")


def recall(report: Report, label: str, home: Path, vectors: np.ndarray, qv: np.ndarray) -> None:
    faiss.omp_set_num_threads(1)
    index = load_vectors(home / "generations" / "g000001" / VECTORS_FILE)
    t0 = time.perf_counter()
    _, found = index.search(qv, 10)
    per_query = (time.perf_counter() - t0) * 1000 / len(qv)
    exact = exact_top_k(vectors, qv, 10) + 1  # synthetic chunk ids are row + 1
    report.add("recall", f"{label}: recall@10 vs exact ({index.kind})", recall_at_k(found, exact), "",
               f"{len(qv)} real queries; FAISS {per_query:.2f} ms/query")


def bench_serving(report: Report, sample: Sample, backends: list[str], synth_backend: str,
                  synth_sizes: list[int], single: int, concurrent: int) -> None:
    queries = sample.queries(100)
    for b in backends:
        home = sample_home(sample, b)
        in_process(report, f"sample/{b}", home, sample, b, queries)
        hybrid_over_dense(report, f"sample/{b}", home, sample, b, queries)
        http(report, f"sample/{b}", home, sample, b, queries, single, concurrent)
    sizes(report, "sample", sample_home(sample, backends[0]))
    if not synth_sizes:
        return
    emb = sample.embedder(synth_backend)
    real = sample.vectors.get(synth_backend)
    if real is None:
        real = sample.vectors[synth_backend] = emb.encode(sample.texts())
    qv = emb.encode(queries)
    for n in synth_sizes:
        label = f"synthetic {n // 1000}k/{synth_backend}"
        t0 = time.perf_counter()
        syn = build_synthetic(sample.work, n, real, sample.texts(), emb.model_id, VectorSettings())
        note = "reused from an earlier run" if syn.reused else f"built in {time.perf_counter() - t0:.0f} s"
        report.add("synthetic", f"{label}: store bulk insert / vector index build",
                   f"{syn.store_seconds:.0f} / {syn.index_seconds:.0f}", "s",
                   f"{syn.kind}, nprobe {syn.nprobe}; {note}")
        sizes(report, label, syn.home)
        recall(report, label, syn.home, synthetic_vectors(real, n, 0), qv)
        in_process(report, label, syn.home, sample, synth_backend, queries, experts=False)
        in_process(report, label, syn.home, sample, synth_backend, queries, experts=True)
        hybrid_over_dense(report, label, syn.home, sample, synth_backend, queries)
        http(report, label, syn.home, sample, synth_backend, queries, single, concurrent)
