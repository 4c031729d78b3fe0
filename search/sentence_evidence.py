"""Sentence evidence: a second-stage score from the best-matching sentence of a top document.

A chunk's vector is its title, heading and ~800 characters in one; a document that answers
the query in one sentence among others can score below one that is about the subject in
general. For each of the top fused documents, the query's vector is compared with every
sentence of the document's chunks (the one it is shown with and its first others, as late
interaction reads them), each sentence encoded alone at indexing and kept as 8-bit codes
(``index/sentences.py``); the best cosine is the document's score. The scores of the top
documents are min-max normalised and added to their fused scores with weight
``[search] sentence_weight``, after late interaction.

Measured (2026-11-27/28) first offline over the configured search's dumped runs, then in the
product: see the README's evaluation section, where the default weight comes from.
"""

from __future__ import annotations

import numpy as np

from index import sentences
from index.generations import IndexReader

from .candidates import Candidate, add_normalised, group_starts
from .late_interaction import document_chunks


def rescore(reader: IndexReader, qvec: np.ndarray, cands: list[Candidate], weight: float, top: int
            ) -> list[Candidate]:
    """``cands`` (best first) with ``weight`` x the normalised best-sentence cosine added to the
    top ``top``; unchanged when any of them has no sentence vectors (indexed with it off)."""
    head = cands[:top]
    if weight <= 0 or len(head) < 2:
        return cands
    chunk_ids = document_chunks(reader, head)
    codes = sentences.get(reader.store.db, [i for ids in chunk_ids for i in ids])
    blobs = [b"".join(codes[i] for i in ids if codes.get(i)) for ids in chunk_ids]
    if not all(blobs):
        return cands
    dim = len(qvec)
    lengths = [len(b) // dim for b in blobs]
    sims = sentences.unpack(b"".join(blobs), dim) @ np.asarray(qvec, dtype="float32")
    return add_normalised(head, np.maximum.reduceat(sims, group_starts(lengths)), weight) + cands[top:]
