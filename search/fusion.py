"""Fusion: combine per-retriever document scores into one ranking.

Each run maps document id → that retriever's score (higher is better). ``FUSERS`` picks
the method by name (``[search] fusion``):

- ``minmax``: scores scaled to [0, 1] within each run, then a weighted sum;
- ``zscore``: scores standardised within each run, then a weighted sum;
- ``rrf``: reciprocal-rank fusion, Σ weight / (rrf_k + rank).

A document missing from a run gets that run's lowest normalised value (0 for rrf).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Run = dict[str, float]
Fuser = Callable[[dict[str, Run], dict[str, float], int], dict[str, float]]


def _minmax(run: Run) -> Run:
    if not run:
        return {}
    vals = np.fromiter(run.values(), dtype="float64")
    lo, hi = float(vals.min()), float(vals.max())
    span = hi - lo
    return {d: (s - lo) / span if span > 0 else 1.0 for d, s in run.items()}


def _zscore(run: Run) -> Run:
    if not run:
        return {}
    vals = np.fromiter(run.values(), dtype="float64")
    mu, sd = float(vals.mean()), float(vals.std())
    return {d: (s - mu) / sd if sd > 0 else 0.0 for d, s in run.items()}


def _weighted(norm: Callable[[Run], Run]) -> Fuser:
    def fuse(runs: dict[str, Run], weights: dict[str, float], rrf_k: int = 60) -> dict[str, float]:
        # in order of first appearance, not a set's: equal scores keep one order across processes
        # (a set of strings iterates in an order that changes with each process's hash seed)
        out = dict.fromkeys((d for run in runs.values() for d in run), 0.0)
        for name, run in runs.items():
            w = weights.get(name, 0.0)
            if not w or not run:
                continue
            scaled = norm(run)
            floor = min(scaled.values())
            for d in out:  # only values change: iterating the keys stays valid
                out[d] += w * scaled.get(d, floor)
        return out

    return fuse


def rrf(runs: dict[str, Run], weights: dict[str, float], rrf_k: int = 60) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, run in runs.items():
        w = weights.get(name, 0.0)
        for rank, d in enumerate(sorted(run, key=lambda d: -run[d]), start=1):
            out[d] = out.get(d, 0.0) + w / (rrf_k + rank)
    return out


FUSERS: dict[str, Fuser] = {
    "minmax": _weighted(_minmax),
    "zscore": _weighted(_zscore),
    "rrf": rrf,
}
