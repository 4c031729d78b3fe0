"""Second stage: re-score the fused top candidates with more evidence (placeholder)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.embedding import Embedder
from index.generations import IndexReader
from index.settings import SearchSettings
from index.store import ChunkHit

from .candidates import Candidate
from .keyword import KeywordRetriever


@dataclass
class SecondStage:
    settings: SearchSettings

    @classmethod
    def from_settings(cls, settings: SearchSettings, embedder: Embedder) -> SecondStage:
        return cls(settings)

    def apply(self, reader: IndexReader, query: str, qvec: np.ndarray | None, cands: list[Candidate],
              chunks: dict[int, ChunkHit], keyword: KeywordRetriever) -> list[Candidate]:
        return cands
