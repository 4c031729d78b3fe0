"""Chunk vectors in FAISS, keyed by chunk id so chunks can be removed.

One small interface (``VectorIndex``), one backend per file, chosen by ``VECTOR_KINDS``:

- ``flat`` (``vectors_flat.py``): exact inner product, 1.5 KB a chunk; used up to
  ``[vectors] exact_max_chunks``.
- ``ivf-sq8`` (``vectors_ivf.py``): inverted lists with 8-bit scalar quantisation, trained on
  the corpus (~400 bytes a chunk), its ``nprobe`` tuned for a target recall@10 against exact.

``fit_vectors`` switches between them as the corpus grows or shrinks; both support removal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from .settings import VectorSettings
from .vectors_flat import FlatVectors
from .vectors_ivf import IvfSq8Vectors, lists_for


class VectorIndex(Protocol):
    dim: int
    kind: str

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, ids: list[int]) -> None: ...
    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]: ...
    def reconstruct(self, ids: list[int]) -> np.ndarray: ...
    def scores(self, ids: list[int], query: np.ndarray) -> np.ndarray: ...
    def warm(self) -> None: ...
    def save(self, path: Path) -> None: ...
    def ids(self) -> set[int]: ...
    def __len__(self) -> int: ...


VECTOR_KINDS: dict[str, Callable[[faiss.Index], VectorIndex]] = {
    FlatVectors.kind: FlatVectors.wrap,
    IvfSq8Vectors.kind: IvfSq8Vectors.wrap,
}

# (ids, exact vectors) of every chunk, fetched only when an index has to be (re)built
ExactVectors = Callable[[], tuple[np.ndarray, np.ndarray]]


def kind_of(index: faiss.Index) -> str:
    if isinstance(index, faiss.IndexIVF):
        return IvfSq8Vectors.kind
    return FlatVectors.kind


def load_vectors(path: Path) -> VectorIndex:
    index = faiss.read_index(str(path))
    return VECTOR_KINDS[kind_of(index)](index)


def wanted_kind(n: int, current: VectorIndex, settings: VectorSettings) -> str:
    """Flat up to the threshold, IVF above; IVF stays down to half of it (no flapping)."""
    if n > settings.exact_max_chunks:
        return IvfSq8Vectors.kind
    if current.kind == IvfSq8Vectors.kind and n > settings.exact_max_chunks // 2:
        return IvfSq8Vectors.kind
    return FlatVectors.kind


def fit_vectors(current: VectorIndex, settings: VectorSettings, exact: ExactVectors) -> VectorIndex:
    """The index to publish for ``current``'s chunks: the same one, or a rebuilt one when the
    corpus crossed the size threshold or grew past what its IVF lists were trained for."""
    n = len(current)
    kind = wanted_kind(n, current, settings)
    if kind == current.kind:
        if not isinstance(current, IvfSq8Vectors) or not current.outgrown(n, settings):
            return current
    ids, vectors = exact()
    if kind == FlatVectors.kind:
        flat = FlatVectors(current.dim)
        flat.add(ids, vectors)
        return flat
    return IvfSq8Vectors.build(ids, vectors, settings)


__all__ = ["VectorIndex", "FlatVectors", "IvfSq8Vectors", "load_vectors", "fit_vectors", "lists_for"]
