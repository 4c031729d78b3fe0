"""Token vectors for late interaction: every chunk's contextual word-piece vectors, as sign bits.

The encoder computes a vector per word piece on its way to the chunk's (mean-pooled) vector;
``encode_with_tokens`` keeps them. Stored as one bit per dimension (48 bytes a token for
MiniLM's 384), which scored the same as float32 in the evaluation (``search/late_interaction.py``),
in the store's ``chunk_tokens`` table, so they are copied, published and removed with their
generation, and in the embedding cache beside the chunk vectors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class Tokens:
    """One text's word-piece vectors (rows normalised, no [CLS]/[SEP]) and their character
    spans in the text."""

    vectors: np.ndarray
    spans: list[tuple[int, int]]


@runtime_checkable
class TokenEncoder(Protocol):
    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
        """The texts' normalised vectors (as ``encode``) and their word-piece vectors."""
        ...


def token_encoder(embedder: object) -> TokenEncoder | None:
    """``embedder`` when it can give token vectors, else None (late interaction is then off).
    A wrapper says whether its inner encoder can by its ``token_vectors`` attribute."""
    if isinstance(embedder, TokenEncoder) and getattr(embedder, "token_vectors", True):
        return embedder
    return None


def trimmed(vectors: np.ndarray, spans: list[tuple[int, int]]) -> Tokens:
    """A sequence's vectors and spans without the special tokens at both ends, rows normalised."""
    inner = np.asarray(vectors[1:-1], dtype="float32")
    norms = np.linalg.norm(inner, axis=1, keepdims=True)
    return Tokens(inner / np.maximum(norms, 1e-12), list(spans[1:-1]))


def pack(vectors: np.ndarray) -> bytes:
    """Sign bits of each token vector, row after row."""
    return np.packbits(np.asarray(vectors) > 0, axis=1).tobytes()


def unpack(blob: bytes, dim: int) -> np.ndarray:
    """±1/sqrt(dim) per bit: rows of unit length whose dot products are cosines of the signs."""
    width = (dim + 7) // 8
    bits = np.unpackbits(np.frombuffer(blob, dtype=np.uint8).reshape(-1, width), axis=1)[:, :dim]
    return (bits.astype("float32") * 2.0 - 1.0) / np.float32(np.sqrt(dim))


# ---- the store's table (migration m006_chunk_tokens) -------------------------------------------


def put(db: sqlite3.Connection, rows: Iterable[tuple[int, bytes]]) -> None:
    db.executemany("INSERT OR REPLACE INTO chunk_tokens(chunk_id, bits) VALUES (?, ?)", rows)


def get(db: sqlite3.Connection, chunk_ids: list[int]) -> dict[int, bytes]:
    """Stored bits by chunk id (none for a store from before the table)."""
    out: dict[int, bytes] = {}
    try:
        for start in range(0, len(chunk_ids), 500):
            part = chunk_ids[start : start + 500]
            out.update(db.execute(f"SELECT chunk_id, bits FROM chunk_tokens WHERE chunk_id IN "
                                  f"({','.join('?' * len(part))})", part).fetchall())
    except sqlite3.OperationalError as e:
        if "no such table" not in str(e):
            raise
    return out
