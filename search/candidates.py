"""Chunk hits grouped per document: the unit that fusion and the second stage rank."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from index.generations import IndexReader

# chunks a document is matched by in the second stage (late interaction, sentence evidence):
# the one it is shown with and its first other. Measured (nDCG@10, SciFact train / cardano.SE /
# beer.SE, 2026-11-28, late interaction's chunks with sentence evidence's 2): late interaction
# over 4 chunks 0.7607 / 0.8861 / 0.9594, 3 0.7602 / 0.8861, **2** 0.7618 / 0.8864 / 0.9615,
# 1 - / 0.8823; sentence evidence over 4 and 2 scored alike (``sentence_evidence``). Fewer
# reads, so the hybrid path is cheaper too.
SECOND_STAGE_CHUNKS = 2


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


def document_chunks(reader: IndexReader, head: list[Candidate], known: dict[str, list[int]] | None = None
                    ) -> list[list[int]]:
    """The chunks each of ``head`` is matched by in the second stage: the one it is shown with,
    then its first others (``SECOND_STAGE_CHUNKS`` in all). ``known`` (document id -> its
    list) carries them from one step of a search to the next: filled here, read first."""
    known = {} if known is None else known
    todo = [c for c in head if c.doc_id not in known]
    if todo:
        by_doc = reader.docs().chunks_of([c.doc_id for c in todo])
        for c in todo:
            others = [i for i in by_doc.get(c.doc_id, []) if i != c.chunk_id]
            known[c.doc_id] = [c.chunk_id, *others[: SECOND_STAGE_CHUNKS - 1]]
    return [known[c.doc_id] for c in head]
