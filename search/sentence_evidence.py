"""Sentence evidence: a second-stage score from the best-matching sentence of a top document.

A chunk's vector is its title, heading and ~800 characters in one; a document that answers
the query in one sentence among others can score below one that is about the subject in
general. For each of the top fused documents, the query's vector is compared with every
sentence of the document's first two chunks (the one it is shown with and its first other,
as late interaction reads: ``candidates.document_chunks``),
each sentence encoded alone at indexing and kept as 8-bit codes
(``index/sentences.py``); the best cosine is the document's score. The scores of the top
documents are min-max normalised and added to their fused scores with weight
``[search] sentence_weight``, after late interaction.

Measured in the product (2026-11-27, one index per set kept, the configured search at each
weight in one run; nDCG@10 SciFact train / cardano.SE / beer.SE, the last not used to choose):
weight 0 0.7552 / 0.8825 / 0.9575; **0.1** 0.7609 / 0.8858 / 0.9593 (+0.56, 95% paired
bootstrap +0.19 to +0.95; +0.33, +0.04 to +0.63; +0.18, -0.09 to +0.47); 0.2 0.7605 / 0.8832 /
0.9599; 0.3 0.7616 / 0.8798 / 0.9615. 0.1 is the default: the largest gain on the two sets it
was chosen on together, and the only weight whose intervals are above zero on both (more helps
SciFact's claims and beer.SE, and costs cardano.SE). These were measured reading 4 chunks a
document; the 2 kept score 0.7607 / 0.8861 / 0.9594 in ``whoknows eval retrieval``, and
0.7618 / 0.8864 / 0.9615 with late interaction reading the same 2 (2026-11-28). Beside
it, measured and not kept (same indexes, against 0.7609 / 0.8858): late interaction at 0.2 or
0.4 (0.7584-0.7604 / 0.8829-0.8846), both at 0.2, both re-scoring the top 50 (0.7602 /
0.8851), keyword weights 0.15 or 0.25 each (0.7557-0.7603 / 0.8808-0.8825); a document's score
from all its chunks or from 4 instead of 2 (0.7609 / 0.8858 for both; 2 gave 0.7607 / 0.8861
at half the reads; the shown chunk alone 0.7575 / 0.8862), the mean of its best two sentences
(0.7615 / 0.8839), the best plus half the second (0.7609 / 0.8836), a soft maximum (log-sum-exp
at temperature 0.05: 0.7599 / 0.8845). A setting's row reproduces with ``whoknows eval
retrieval DIR`` and the setting in the config (that re-indexes; the embedding cache makes it
minutes).
"""

from __future__ import annotations

import numpy as np

from index import sentences
from index.generations import IndexReader

from .candidates import Candidate, add_normalised, document_chunks, group_starts


def rescore(reader: IndexReader, qvec: np.ndarray, cands: list[Candidate], weight: float, top: int,
            chunks: dict[str, list[int]] | None = None) -> list[Candidate]:
    """``cands`` (best first) with ``weight`` x the normalised best-sentence cosine added to the
    top ``top``; unchanged when any of them has no sentence vectors (indexed with it off).
    ``chunks``: the documents' second-stage chunks, as ``document_chunks`` keeps them."""
    head = cands[:top]
    dim = len(qvec)
    if weight <= 0 or len(head) < 2:
        return cands
    chunk_ids = document_chunks(reader, head, chunks)
    codes = stored_codes(reader, [i for ids in chunk_ids for i in ids], dim)
    blobs = [b"".join(codes[i] for i in ids if codes.get(i)) for ids in chunk_ids]
    if not all(b and len(b) % dim == 0 for b in blobs):
        return cands
    sims = sentences.cosines(b"".join(blobs), dim, qvec)
    best = np.maximum.reduceat(sims, group_starts([len(b) // dim for b in blobs]))
    return add_normalised(head, best, weight) + cands[top:]


def stored_codes(reader: IndexReader, chunk_ids: list[int], dim: int) -> dict[int, bytes]:
    """The chunks' sentence codes (``index/sentences.py``) for a query vector of ``dim``
    dimensions; none when the index was built by a model of another size (its codes would be
    read as rows of the wrong width) or without sentence evidence."""
    return sentences.get(reader.store.db, chunk_ids) if dim == reader.vectors.dim else {}
