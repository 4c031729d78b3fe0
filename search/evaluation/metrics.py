"""Ranking metrics as BEIR/trec_eval compute them (linear gain nDCG)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

BOOTSTRAP_SAMPLES = 2000


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, g in rels.items() if g > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if rels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


@dataclass
class Scores:
    """Mean metrics over a query set."""

    ndcg10: float = 0.0
    recall100: float = 0.0
    mrr10: float = 0.0
    queries: int = 0
    ndcg10_per_query: list[float] = field(default_factory=list, repr=False)  # in qrels order

    @classmethod
    def of(cls, runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> Scores:
        n = len(qrels)
        if not n:
            return cls()
        per_query = [ndcg_at(runs.get(q, []), r) for q, r in qrels.items()]
        return cls(
            ndcg10=sum(per_query) / n,
            recall100=sum(recall_at(runs.get(q, []), r) for q, r in qrels.items()) / n,
            mrr10=sum(mrr_at(runs.get(q, []), r) for q, r in qrels.items()) / n,
            queries=n,
            ndcg10_per_query=per_query,
        )


@dataclass
class Difference:
    """``a`` minus ``b`` over the same queries, with a paired-bootstrap 95% interval."""

    a: str
    b: str
    mean: float
    low: float
    high: float
    queries: int


def difference_lines(diffs: Sequence[Difference], metric: str, unit: str, digits: int) -> list[str]:
    """A report's closing lines: the last method's ``metric`` minus each other's, with intervals."""
    if not diffs:
        return []
    width = max(len(d.b) for d in diffs)
    return ["", f"{metric} of {diffs[0].a} minus each other method (95% CI, paired bootstrap over the "
                f"{diffs[0].queries} {unit}):",
            *(f"  - {d.b:<{width}} {d.mean:+.{digits}f} ({d.low:+.{digits}f} to {d.high:+.{digits}f})"
              for d in diffs)]


def paired_difference(a: str, per_query_a: Sequence[float], b: str, per_query_b: Sequence[float],
                      samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Difference:
    """Mean per-query difference and its 95% percentile interval: the queries are resampled
    with replacement ``samples`` times (seeded, so a re-run prints the same interval)."""
    d = np.asarray(per_query_a, dtype=np.float64) - np.asarray(per_query_b, dtype=np.float64)
    if len(d) == 0:
        return Difference(a, b, 0.0, 0.0, 0.0, 0)
    rng = np.random.default_rng(seed)
    step = max(1, 2_000_000 // len(d))  # resamples at a time: at most 2M indices (16 MB) in memory
    means = np.concatenate([d[rng.integers(0, len(d), size=(min(step, samples - i), len(d)))].mean(axis=1)
                            for i in range(0, samples, step)])
    low, high = np.percentile(means, [2.5, 97.5])
    return Difference(a, b, float(d.mean()), float(low), float(high), len(d))
