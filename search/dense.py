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

    def score(self, vectors: VectorIndex, query_vec: np.ndarray, chunk_ids: list[int]
              ) -> dict[int, float]:
        """Cosine of given chunks (vectors read back from the index)."""
        if not chunk_ids:
            return {}
        mat = vectors.reconstruct(chunk_ids)
        sims = mat @ np.asarray(query_vec, dtype="float32").reshape(-1)
        return {c: float(s) for c, s in zip(chunk_ids, sims, strict=True)}
