"""Chunk hits grouped per document: the unit that fusion and the second stage rank."""

from __future__ import annotations

from dataclasses import dataclass, field


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
