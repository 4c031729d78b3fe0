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

from .rows import blobs_by_chunk


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
    """Sign bits of each token vector, row after row (``row_bytes`` a row)."""
    return _sign_bits(vectors).tobytes()


def row_bytes(dim: int) -> int:
    """Bytes a packed token of ``dim`` dimensions takes."""
    return (dim + 7) // 8


def _sign_bits(vectors: np.ndarray) -> np.ndarray:
    return np.packbits(np.asarray(vectors) > 0, axis=1)


def similarities(blob: bytes, queries: np.ndarray) -> np.ndarray:
    """Cosines (queries x tokens) between the sign bits of the ``queries`` rows and of the
    packed tokens in ``blob``: 1 - 2 x Hamming distance / dim, by XOR and popcount on 64-bit
    words (the float product with the unpacked rows costs 4x as much: it reads 32x the
    bytes). The tokens' words are laid out word by word, so each pass reads one contiguous
    row (1.2 ms for 13 query pieces against 9,600 tokens, 1.6 ms token by token). Binarising
    the query too scored the same (nDCG@10 SciFact train 0.7539 against 0.7535 with float
    query vectors, cardano.SE 0.8904 against 0.8915)."""
    dim = queries.shape[1]
    width = row_bytes(dim)
    words = -(-width // 8)
    docs = np.ascontiguousarray(_words(np.frombuffer(blob, dtype=np.uint8).reshape(-1, width), words).T)
    qs = _words(_sign_bits(queries), words)
    ham = np.zeros((len(qs), docs.shape[1]), dtype=np.uint16)
    for w in range(words):  # one 64-bit word of every pair at a time: small temporaries
        ham += np.bitwise_count(docs[w][None, :] ^ qs[:, w : w + 1])
    return 1.0 - ham.astype(np.float32) * np.float32(2.0 / dim)


def _words(rows: np.ndarray, words: int) -> np.ndarray:
    """Packed rows as 64-bit words, zero-padded (equal padding adds no distance)."""
    padded = np.zeros((len(rows), words * 8), dtype=np.uint8)
    padded[:, : rows.shape[1]] = rows
    return padded.view(np.uint64)


# ---- the store's table (migration m006_chunk_tokens) -------------------------------------------


def put(db: sqlite3.Connection, rows: Iterable[tuple[int, bytes]]) -> None:
    db.executemany("INSERT OR REPLACE INTO chunk_tokens(chunk_id, bits) VALUES (?, ?)", rows)


def get(db: sqlite3.Connection, chunk_ids: list[int]) -> dict[int, bytes]:
    """Stored bits by chunk id (none for a store from before the table)."""
    return blobs_by_chunk(db, "chunk_tokens", "bits", chunk_ids)
