"""Chunk hits grouped per document: the unit that fusion and the second stage rank."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Candidate:
    """A document in the ranking, with the evidence each stage saw."""

    doc_id: str
    chunk_id: int  # the passage shown for it
    keyword: float | None = None  # best BM25 of its chunks (None: no query term matched)
    dense: float | None = None  # best cosine of its chunks
    fused: float = 0.0
    score: float = 0.0  # final score, what the ranking is sorted by
    chunk_scores: dict[int, float] = field(default_factory=dict)  # fused-scale per chunk


def best_per_doc(hits: list[tuple[int, float]], doc_of: dict[int, str]) -> dict[str, tuple[float, int]]:
    """Each document's best (score, chunk id) among ``hits``."""
    out: dict[str, tuple[float, int]] = {}
    for cid, score in hits:
        doc = doc_of.get(cid)
        if doc is not None and (doc not in out or score > out[doc][0]):
            out[doc] = (score, cid)
    return out


def add_normalised(cands: list[Candidate], scores: np.ndarray, weight: float) -> list[Candidate]:
    """``cands`` (the head of a ranking, best first) with ``weight`` x their ``scores``
    min-max normalised over them added, re-sorted: how the second stage adds a feature."""
    lo, hi = scores.min(), scores.max()
    norm = (scores - lo) / (hi - lo) if hi > lo else np.ones_like(scores)
    for c, x in zip(cands, norm, strict=True):
        c.score += weight * float(x)
    return sorted(cands, key=lambda c: -c.score)


def group_starts(lengths: list[int]) -> np.ndarray:
    """Where each group of ``lengths`` consecutive rows starts (for ``np.maximum.reduceat``)."""
    return np.r_[0, np.cumsum(lengths)[:-1]].astype(np.intp)
