"""Late interaction: a second-stage score from word-piece vectors, without a trained model.

For each of the top fused documents, each word piece of the query finds its most similar
word piece among the document's chunks (cosine of MiniLM's contextual token vectors, kept
at indexing as sign bits, ``index/token_vectors.py``); the document's score is the sum of
those best matches, each weighted by the idf of the query word the piece belongs to (from
the whole-document BM25 postings, so "the" counts for little). A document's pieces are those
of its chunks (``SECOND_STAGE_CHUNKS``, 2: the one it is shown with and its first other;
sentence evidence reads the same ones). It is ColBERT's MaxSim with the sentence encoder's
own token vectors; the query's pieces are binarised too, so each comparison is an XOR and a
popcount (``token_vectors.similarities``).
The scores of the top documents are min-max normalised and added to their fused scores
with weight ``[search] late_interaction``.

Measured first offline over the configured search's dumped runs (2026-11-27; the top 30
documents' first 256 word pieces, nDCG@10): SciFact train 0.7465 → 0.7527 with float token
vectors, 0.7535 with sign bits, 0.7543 with sign bits and word idf as here; cardano.SE
0.8772 → 0.8925 / 0.8915 / 0.8903. Then in the product (``whoknows eval retrieval``, one
run each, SciFact train / cardano.SE; without late interaction 0.7465 / 0.8772): weight 0.2
0.7539 / 0.8831, 0.3 0.7567 / 0.8812, 0.5 0.7543 / 0.8802 (16 chunks a document); 4 chunks
0.7560 / 0.8821, 1 chunk (weight 0.2) 0.7521 / 0.8830; each chunk scored alone, the best
chunk's score the document's, 0.7553 / 0.8821. Weight 0.3 and 4 chunks were the defaults:
the middle of a flat range, and the cheaper of equal choices. With sentence evidence on
(2026-11-28, one run each, SciFact train / cardano.SE / beer.SE): 4 chunks 0.7607 / 0.8861 /
0.9594, 3 0.7602 / 0.8861, **2** 0.7618 / 0.8864 / 0.9615, 1 - / 0.8823; 2 is the default now,
as good and half the reads (``search/candidates.py``). Re-tuning the first stage's
weights with late interaction on gained nothing (offline, cardano.SE: 0.2/0.2 stays best).
Also measured and not kept (2026-11-27): a soft maximum (log-sum-exp, temperature 0.02-0.12)
instead of the hard one, +0.3 on SciFact with float vectors but +0.1 at most with sign bits
(SciFact 0.7524-0.7545 against 0.7538; cardano.SE 0.8897-0.8912 against 0.8904); the
document's pieces matched back to the query's (bidirectional, 0.7482-0.7495 against 0.7527)
or only pieces of the same word piece (COIL-style, 0.7429-0.7525); and MiniLM's intermediate
layers 2-5 instead of its last (a 300-query SciFact sample: 0.7626-0.7649 at weight 0.3-0.5,
the last layer 0.7620-0.7665); a correction for document length (minus 0.005-0.04 x the log of
its word pieces: SciFact 0.7529-0.7539 against 0.7538, cardano.SE 0.8909-0.8930 against 0.8904).
Measured on 2026-11-27 and not kept (offline, sign bits, weight 0.3, same harness): storing
no word pieces of punctuation or of the keyword stop words, which would keep 62-70% of the
rows (a third less disk and comparison), SciFact 0.7518 against 0.7535, cardano.SE 0.8901
against 0.8915, a small loss on both; and other normalisations of the late-interaction
scores before they are added (cardano.SE, against min-max's 0.8915): z-score 0.8847-0.8895,
raw cosines 0.8845-0.8899, reciprocal rank 0.8785-0.8890, divided by the best 0.8783-0.8911.
"""

from __future__ import annotations

import re

import numpy as np

from index import impacts, token_vectors
from index.generations import IndexReader
from index.token_vectors import Tokens

from .candidates import Candidate, add_normalised, document_chunks, group_starts

WORD = re.compile(r"\w+")


def query_weights(reader: IndexReader, query: str, tokens: Tokens) -> np.ndarray:
    """Each query word piece's weight: the idf of the word it is part of (0 for punctuation),
    summing to 1; uniform when the store has no BM25 postings."""
    info = reader.store.impact_info("documents_fts")
    words = [_word_at(query, a, b) for a, b in tokens.spans]
    if info is None:
        w = np.array([1.0 if x else 0.0 for x in words])
    else:
        stems = {x: impacts.stems(x) for x in set(words) if x}
        idf = impacts.idf(reader.store.db, "documents_fts", info, [t for s in stems.values() for t in s])
        w = np.array([max((idf[t] for t in stems[x]), default=0.0) if x else 0.0 for x in words])
    total = w.sum()
    return (w / total).astype("float32") if total > 0 else w.astype("float32")


def _word_at(text: str, start: int, end: int) -> str:
    """The run of word characters around ``text[start:end]`` ('' for punctuation)."""
    for m in WORD.finditer(text, max(0, start - 200)):
        if m.start() <= start < m.end() or (start <= m.start() < end):
            return m.group()
        if m.start() >= end:
            break
    return ""


def rescore(reader: IndexReader, query: str, tokens: Tokens, cands: list[Candidate], weight: float,
            top: int, chunks: dict[str, list[int]] | None = None) -> list[Candidate]:
    """``cands`` (best first) with ``weight`` x the normalised late-interaction score added to
    the top ``top``; unchanged when any of them has no token vectors (indexed with it off).
    ``chunks``: the documents' second-stage chunks, as ``document_chunks`` keeps them."""
    head = cands[:top]
    if weight <= 0 or len(head) < 2 or not tokens.spans:
        return cands
    chunk_ids = document_chunks(reader, head, chunks)
    bits = token_vectors.get(reader.store.db, [i for ids in chunk_ids for i in ids])
    blobs = [[bits[i] for i in ids if bits.get(i)] for ids in chunk_ids]
    if not all(blobs):  # before the query's weights: a store without token vectors costs one read
        return cands
    q_w = query_weights(reader, query, tokens)
    if not q_w.any():
        return cands
    keep = q_w > 0  # punctuation weighs nothing: leave it out of the product
    q, q_w = np.asarray(tokens.vectors, dtype="float32")[keep], q_w[keep]
    # every chunk's tokens in one matrix: one product, then the best per chunk and per document
    flat = [b for doc in blobs for b in doc]
    sims = token_vectors.similarities(b"".join(flat), q)
    width = token_vectors.row_bytes(q.shape[1])
    per_chunk = np.maximum.reduceat(sims, group_starts([len(b) // width for b in flat]), axis=1)
    per_doc = np.maximum.reduceat(per_chunk, group_starts([len(doc) for doc in blobs]), axis=1)
    return add_normalised(head, q_w @ per_doc, weight) + cands[top:]
