"""Sentences: how a passage is split into them, and their vectors kept at indexing.

``split_sentences`` is the one splitter of the product: extractive answers quote its
sentences (``search/answers.py``) and, with ``[search] sentence_weight`` on, indexing encodes
each chunk's sentences alone (no title) and keeps their vectors, so the second stage can ask
how well a top document's best *sentence* matches the query, not only its best chunk
(``search/sentence_evidence.py``). A sentence vector is kept as 8-bit codes (384 bytes for
MiniLM's 384 dimensions; each row scaled by its largest component, so no scale is stored:
the scoring divides by each row's norm), all of a chunk's in one row of the store's
``chunk_sentences`` table, so they are copied, published and removed with their generation.
The vectors themselves are cached like the chunks' (``EmbeddingCache``, by text hash).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable

import numpy as np

from .rows import blobs_by_chunk

# a sentence ends at . ! ? before a capital, digit, quote or bracket (so "e.g. the" and
# "foo.bar()" do not end one), at a CJK full stop, or at a line break
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“(\[A-Z0-9])|(?<=[。！？])|\n+")
_BULLET = re.compile(r"^[\s\-*#>•\d.)]+")
_LETTERS = re.compile(r"[^\W\d_]{3}")


def split_sentences(text: str, min_chars: int = 20, max_chars: int = 400) -> list[str]:
    """``text``'s sentences without list bullets and heading marks, cut at ``max_chars``;
    fragments shorter than ``min_chars`` or without a word of three letters are dropped."""
    out = []
    for s in _SENTENCE_END.split(text):
        s = _BULLET.sub("", s).strip()
        if len(s) >= min_chars and _LETTERS.search(s):
            out.append(s[:max_chars])
    return out


def chunk_sentences(text: str) -> list[str]:
    """What indexing encodes for a chunk: its sentences (up to the ~256 word pieces the
    encoder reads, ~1,000 characters), or the chunk's whole text when no sentence is
    long enough, so every chunk has at least one."""
    return split_sentences(text, max_chars=1000) or ([text.strip()[:1000]] if text.strip() else [])


def pack(vectors: np.ndarray) -> bytes:
    """8-bit codes of each vector, row after row (``dim`` bytes a row)."""
    v = np.asarray(vectors, dtype="float32")
    scale = np.maximum(np.abs(v).max(axis=1, keepdims=True), 1e-12)
    return np.rint(v / scale * 127).astype(np.int8).tobytes()


def cosines(blob: bytes, dim: int, query: np.ndarray) -> np.ndarray:
    """Cosine of each of ``pack``'s rows with the unit vector ``query``: the product with the
    rows as stored, divided by their norms (half the time of normalising the rows first)."""
    v = np.frombuffer(blob, dtype=np.int8).reshape(-1, dim).astype("float32")
    return (v @ np.asarray(query, dtype="float32")) / np.maximum(np.sqrt(np.einsum("ij,ij->i", v, v)), 1e-12)


# ---- the store's table (migration m007_chunk_sentences) ----------------------------------------


def put(db: sqlite3.Connection, rows: Iterable[tuple[int, bytes]]) -> None:
    db.executemany("INSERT OR REPLACE INTO chunk_sentences(chunk_id, codes) VALUES (?, ?)", rows)


def get(db: sqlite3.Connection, chunk_ids: list[int]) -> dict[int, bytes]:
    """Stored codes by chunk id (none for a store from before the table)."""
    return blobs_by_chunk(db, "chunk_sentences", "codes", chunk_ids)
