"""The 10M IVF-PQ benchmark's parts on 20k vectors: deterministic batches, exact top-10, the report."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from common import Report  # noqa: E402
from ivfpq_10m import BATCH, EmbeddingLike, TopK, add_figures, nlist_for, recall, run_ivfpq  # noqa: E402


def test_batches_are_deterministic_normalised_and_clustered() -> None:
    a, b = EmbeddingLike(seed=3, clusters=20), EmbeddingLike(seed=3, clusters=20)
    x = a.batch(2, 3 * BATCH, size=1000)
    assert np.array_equal(x, b.batch(2, 3 * BATCH, size=1000))
    assert not np.array_equal(x, a.batch(1, 3 * BATCH, size=1000))
    assert x.dtype == np.float32 and np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    assert a.batch(2, 2 * BATCH + 10, size=BATCH).shape == (10, 384)  # the last, partial batch
    cos = x @ x.T
    nearest = np.sort(cos, axis=1)[:, -2]
    assert nearest.mean() > 0.5 > abs(cos[np.triu_indices(1000, 1)].mean())  # topics, not noise


def test_top_k_over_batches_equals_brute_force() -> None:
    gen = EmbeddingLike(seed=1, clusters=10)
    x, q = gen.draw(0, 3000), gen.queries(20)
    top = TopK(q)
    for start in range(0, 3000, 1000):
        top.update(x[start : start + 1000], start)
    exact = np.argsort(-(q @ x.T), axis=1)[:, :10]
    assert recall(top.ids, exact) > 0.99
    assert recall(np.full_like(exact, -1), exact) == 0.0


def test_small_run_reports_sane_figures(tmp_path: Path) -> None:
    n = 20_000
    assert nlist_for(10_000_000) == 8192 and nlist_for(n) == 512
    r = run_ivfpq(n, "IVF128,PQ32x4fs,Refine(SQ8)", tmp_path, nprobes=(4, 128), sample=5_000,
                  n_queries=50, train_n=n)
    assert r.n == n and r.nlist == 128 and not r.reused and r.train_seconds > 0 < r.add_seconds
    assert 100 < r.bytes_per_chunk < 1000 and r.refine_bytes_per_chunk == 384
    low, high = r.probes
    for p in r.probes:
        assert 0 <= p.recall_pq <= 1 and 0 <= p.recall <= 1 and 0 <= p.recall_sample <= 1
        assert 0 < p.p50_pq_ms <= p.p99_pq_ms and 0 < p.p50_ms <= p.p99_ms
    assert high.recall > 0.5 and high.recall >= low.recall  # all lists probed: only the codes lose
    again = run_ivfpq(n, "IVF128,PQ32x4fs,Refine(SQ8)", tmp_path, reuse=True, nprobes=(128,),
                      sample=5_000, n_queries=50, train_n=n)
    assert again.reused and again.probes[0].recall == high.recall
    report = Report(command="test")
    add_figures(report, r)
    names = [f.name for f in report.figures]
    assert "train" in names and "add" in names and "peak resident memory" in names
    assert any("re-ranked" in name for name in names)
