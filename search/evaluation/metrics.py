"""Ranking metrics as BEIR/trec_eval compute them (linear gain nDCG)."""

from __future__ import annotations

import math
from dataclasses import dataclass


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

    @classmethod
    def of(cls, runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> Scores:
        n = len(qrels)
        if not n:
            return cls()
        return cls(
            ndcg10=sum(ndcg_at(runs.get(q, []), r) for q, r in qrels.items()) / n,
            recall100=sum(recall_at(runs.get(q, []), r) for q, r in qrels.items()) / n,
            mrr10=sum(mrr_at(runs.get(q, []), r) for q, r in qrels.items()) / n,
            queries=n,
        )
