"""Dense retrieval: cosine similarity of the query vector to chunk vectors in FAISS.

A filter arrives as the set of allowed chunk ids and is applied inside the FAISS search
(an ``IDSelector``), so a restrictive filter still gets its top ``k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.vectors import VectorIndex


@dataclass
class DenseRetriever:
    def retrieve(self, vectors: VectorIndex, query_vec: np.ndarray, k: int,
                 allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Best ``k`` (chunk id, cosine) pairs, best first, among ``allowed`` ids if given."""
        if allowed is not None and len(allowed) == 0:
            return []
        scores, ids = vectors.search(query_vec, k, allowed=allowed)
        return [(int(c), float(s)) for s, c in zip(scores[0], ids[0], strict=True) if c >= 0]
