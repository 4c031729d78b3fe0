"""Second stage: re-score the fused candidates with evidence the first stage lacked.

Kept because the evaluation showed it helps (``whoknows eval retrieval``):

- **Complete evidence**: plain fusion gives a document missing from one retriever's list
  that list's floor, as if it were as good as the last hit. The second stage gives every
  candidate both scores instead: its exact dense similarity (best chunk, vectors read back
  from the index) and BM25 0 when keyword search did not return it (exact when it has
  none of the query's terms, otherwise an underestimate below the last keyword hit). The
  fused normalisation then spans the true range. Measured (nDCG@10, keyword weight 0.4,
  min-max): SciFact train 0.733 → 0.745, cardano.SE 0.865 → 0.868, beer.SE 0.957 → 0.955.

Tried and not kept (no gain on SciFact train or the Stack Exchange sets): sentence-level
max similarity (+0.5 points on a 150-query sample, at the cost of encoding sentences),
title-only similarity, several-chunk evidence (max + share of the rest, sums), dense
pseudo-relevance feedback, score-distribution-adaptive weights, and a learned linear
combination of ten such features (5-fold cross-validation: no better than the weighted sum).
Also measured and not kept (SciFact train, configured 0.745 then): keyword pseudo-relevance
feedback (RM3-style expansion from the top fused documents, 0.735-0.743), dense Rocchio from
the top fused documents (0.739-0.742), z-score / rank-floor / idf-bounded / power-transformed
normalisation (0.715-0.745), chunk-level fusion before grouping (0.739-0.745), sums of a
document's chunk BM25 (0.706-0.734), a longer stop-word list (+0.1 on SciFact, -0.7 on
cardano.SE), mean-of-chunks document vectors, query-term coverage. What helped on every set is
whole-document BM25 as a third run (``[search] document_keyword_weight``, see searcher.py).
Measured against that configuration (SciFact train 0.7469 / cardano.SE 0.8772 on the same
candidates, offline over dumped per-document evidence) and not kept: a second vector
granularity, windows of 3 sentences (stride 2, title prefixed) inside each chunk, their best
cosine per document mixed into dense, max'ed with it or fused as a fourth run (SciFact
0.7482-0.7498, cardano 0.8755-0.8773; dense alone 0.681 → 0.692 on SciFact; 1.9x the chunk
vectors to store and encode); BM25 k1/b other than FTS5's fixed 1.2/0.75 (k1 0.9-2.0, b
0.3-0.9, recomputed from ``fts5vocab``: 0.7439-0.7470, cardano 0.8723-0.8783, against 0.7457
and 0.8772 with 1.2/0.75 recomputed the same way); title column weight 0.5-3 in whole-document
and chunk BM25 (0.7431-0.7462 against 0.7457); z-score instead of min-max over the three
complete runs (0.2/0.2: 0.7473, cardano 0.8784, within noise; other weights no better).
Against 0.7465 (same run): a phrase run, FTS5 BM25 of the query's adjacent term pairs as
phrases over the candidates, fused as a fourth run at weight 0.05-0.2, whole documents
(0.7348-0.7467) or best chunk (0.7463-0.7481); min-max fusion plus 0.2-0.5 x the RRF fusion
of the same runs scaled to its maximum (k 10 or 60: 0.7386-0.7428; cardano.SE 0.8740-0.8769
against 0.8772). Against 0.7465 (2026-11-27, offline over the dumped runs): untrained
late interaction, each query word piece's best cosine among a top document's MiniLM token
vectors, weighted by idf, fused at weight 0.2-0.5: 0.7513-0.7548. It is kept, in
``search/late_interaction.py``, with the token vectors stored at indexing as sign bits.
Static (context-free) token vectors
instead, the model's input embeddings or each word piece encoded alone, add nothing
(0.7373-0.7483). With late interaction (0.7552), exact BM25 for candidates only dense search
found (their chunks' and whole document's scores from the stored impacts instead of 0) left
nDCG@10 at 0.7552 (recall@100 0.9598 → 0.9559); a dense query vector mixed with the
idf-weighted mean of the query's token vectors (weight 0.3-1.0) gave 0.7549-0.7550 (cardano.SE
0.8819-0.8839 against 0.8825). Corpus-derived abbreviation expansion (Schwartz & Hearst pairs
from the corpus's own text, PyPI ``abbreviations``; a query's short form gets its majority long
form appended, or the reverse), same-run A/B against 0.7552 / 0.8825: into the keyword runs,
the dense vector or everything, SciFact 0.7503-0.7534 (the long form dilutes the query, and
abstracts define their own acronyms, so a relevant one holds both forms); only towards the form
the corpus uses more, 0.7552-0.7556 (56 queries expanded); cardano.SE 0.8807-0.8829.
Measured offline first (2026-11-27, over the dumped runs, against 0.7535 / 0.8915
with late interaction there), then built as ``search/sentence_evidence.py``: each top-30
document's best *sentence* cosine with the query
(sentences encoded alone, without the title), min-max normalised and added at weight 0.05 /
0.1 / 0.2: SciFact 0.7568 / 0.7598 / 0.7613 (+0.63 at 0.1, 95% paired bootstrap +0.21 to
+1.08), cardano.SE 0.8930 / 0.8916 / 0.8903. Its cost is a second set of vectors, ~8.7
sentences a document (SciFact: 41,287 sentences beside 11,523 chunks), encoded at indexing.
The same spans mean-pooled from the chunk's own token vectors (free: "late chunking"), float
or sign bits, gain nothing (SciFact -0.17 to +0.07); title-prefixed sentences +0.15 at most.
Then in the product's evaluation (the configured search with the feature added after late
interaction, sentence vectors precomputed, same run each; without it 0.7552 / 0.8825): weight
0.1 0.7603 / 0.8861, 0.15 0.7601 / -, 0.2 0.7607 / 0.8849, 0.3 0.7619 / 0.8811 (plain fusion
0.7414 on SciFact: +1.9 to +2.05). As built, its figures are in ``search/sentence_evidence.py``.

Optional: a sentence-transformers ``CrossEncoder`` (``[search] cross_encoder``) re-orders
the top ``cross_encoder_top`` documents by its score of (query, best passage).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.generations import IndexReader
from index.rows import ChunkHit

from .candidates import Candidate

Scored = dict[str, tuple[float, int]]  # document → (score, chunk id)


def complete_evidence(keyword: Scored, dense: Scored, exact: Scored) -> tuple[Scored, Scored]:
    """Both runs over the same documents: exact dense scores (``exact``, from ``exact_dense``,
    for the documents only keyword search found), BM25 0 where keyword missed."""
    dense = {**dense, **{d: exact[d] for d in keyword if d not in dense and d in exact}}
    keyword = {**keyword, **{d: (0.0, c) for d, (_, c) in dense.items() if d not in keyword}}
    return keyword, dense


def exact_dense(reader: IndexReader, query_vec: np.ndarray, doc_ids: list[str]) -> Scored:
    """Each document's best (cosine, chunk id) over all its chunks."""
    if not doc_ids:
        return {}
    docs, ids, counts = reader.docs().chunk_runs(doc_ids)
    if not docs:
        return {}
    sims = reader.vectors.scores(ids.tolist(), query_vec)
    return {docs[i]: (s, int(ids[j])) for i, (s, j) in best_in_segments(sims, counts).items()}


def best_in_segments(values: np.ndarray, counts: np.ndarray) -> dict[int, tuple[float, int]]:
    """For consecutive segments of ``values`` (``counts`` long each, all > 0): segment →
    (its largest value, the index of its first occurrence), as a per-segment argmax."""
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    best = np.maximum.reduceat(values, starts)
    at = np.flatnonzero(values == np.repeat(best, counts))  # (NaN segments have none)
    seg = np.searchsorted(starts, at, side="right") - 1
    segs, first = np.unique(seg, return_index=True)
    return {int(s): (float(best[s]), int(at[f])) for s, f in zip(segs, first, strict=True)}


class CrossEncoderRescorer:
    """Re-orders the top documents by a cross-encoder's score of (query, best passage)."""

    def __init__(self, path: str, top: int = 20):
        model_dir = Path(path).expanduser()
        if not model_dir.is_dir():
            raise ValueError(f"[search] cross_encoder: model folder not found: {model_dir}")
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as e:  # pragma: no cover - a dependency of whoknows
            raise RuntimeError("the cross-encoder needs sentence-transformers: "
                               "pip install 'sentence-transformers>=5.7,<5.8'") from e
        self.model = CrossEncoder(str(model_dir), device="cpu")
        self.top = top

    def rescore(self, query: str, cands: list[Candidate], chunks: dict[int, ChunkHit]
                ) -> list[Candidate]:
        head = [c for c in cands[: self.top] if c.chunk_id in chunks]
        if not head:
            return cands
        pairs = [(query, passage_text(chunks[c.chunk_id])) for c in head]
        scores = np.asarray(self.model.predict(pairs, show_progress_bar=False), dtype="float64")
        scores = scores.reshape(len(head), -1)[:, -1]  # one logit, or the last class's
        for c, s in zip(head, scores, strict=True):
            c.score = float(s)
        done = {c.doc_id for c in head}
        return sorted(head, key=lambda c: -c.score) + [c for c in cands if c.doc_id not in done]


def passage_text(ch: ChunkHit) -> str:
    context = " > ".join(p for p in (ch.title, ch.heading) if p)
    return f"{context}\n{ch.text}" if context else ch.text
