"""``flat``: exact inner-product search over normalised vectors (cosine), id-mapped."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


class FlatVectors:
    """Exact search; 4 bytes a dimension plus 8 for the id. Fast enough up to ~200k chunks."""

    kind = "flat"

    def __init__(self, dim: int, index: faiss.Index | None = None):
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def wrap(cls, index: faiss.Index) -> FlatVectors:
        return cls(index.d, index)

    @classmethod
    def load(cls, path: Path) -> FlatVectors:
        return cls.wrap(faiss.read_index(str(path)))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(
                np.ascontiguousarray(vectors, dtype="float32"), np.asarray(ids, dtype="int64")
            )

    def remove(self, ids: list[int]) -> None:
        if ids:
            self.index.remove_ids(np.asarray(ids, dtype="int64"))  # type: ignore[arg-type]

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) for each query row; ids are -1 where fewer exist.

        ``allowed``: only these ids may be returned (filters and permissions).
        """
        q = np.ascontiguousarray(query.reshape(-1, self.dim), dtype="float32")
        if allowed is None:
            k = max(1, min(k, max(1, self.index.ntotal)))
            return self.index.search(q, k)
        k = max(1, min(k, len(allowed)))
        sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype="int64"))
        return self.index.search(q, k, params=faiss.SearchParameters(sel=sel))  # type: ignore[call-arg]

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of ``ids`` (all must be in the index), one row each."""
        if not ids:
            return np.zeros((0, self.dim), dtype="float32")
        return self.index.reconstruct_batch(np.asarray(ids, dtype="int64"))  # type: ignore[no-any-return]

    def scores(self, ids: list[int], query: np.ndarray) -> np.ndarray:
        """Inner product of ``query`` with the stored vector of each of ``ids``."""
        return self.reconstruct(ids) @ np.asarray(query, dtype="float32").reshape(-1)

    def warm(self) -> None:
        """Nothing to prepare: vectors are read back from the index itself."""

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        faiss.write_index(self.index, str(tmp))
        tmp.replace(path)

    def ids(self) -> set[int]:
        return {int(i) for i in faiss.vector_to_array(self.index.id_map)}  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return int(self.index.ntotal)
