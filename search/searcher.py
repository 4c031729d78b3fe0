"""The Searcher composes retrieval, fusion and the second stage over the live index.

    query ─┬─ KeywordRetriever (FTS5 BM25, chunks) ─┐
           ├─ KeywordRetriever (FTS5 BM25, whole documents) ─┤
           └─ DenseRetriever (FAISS)  ──────────────┴─ per document ─ fusion ─ second stage ─ hits

A document's chunk keyword and dense scores are its best chunk's; the whole-document BM25
run (hybrid only) adds evidence spread over several chunks, e.g. a thread whose question and
answers each hold some of the query's words.

Filters (``ChunkFilter``) are applied inside both retrievers. ``rank`` returns the ranked
candidates (used by the evaluation); ``search`` adds snippets, authors, facets and paging;
``similar`` is "more like this" for a document.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from index.embedding import Embedder
from index.filters import ChunkFilter
from index.generations import IndexReader, LiveIndex
from index.rows import ChunkHit
from index.settings import SearchSettings
from index.token_vectors import Tokens, token_encoder

from . import late_interaction, sentence_evidence
from .candidates import Candidate, best_per_doc
from .dense import DenseRetriever
from .experts import Expert, ExpertFinder, Passage, with_keyword
from .facets import facet_counts
from .feedback import Feedback
from .fusion import FUSERS
from .keyword import KeywordRetriever
from .permissions import LOCAL, Viewer
from .rescoring import CrossEncoderRescorer, Scored, complete_evidence, exact_dense
from .results import Author, Hit, SearchResults
from .snippets import highlight, make_snippet

MAX_QUERY_CHARS = 2000
MODES = ("hybrid", "dense", "keyword")

# one OpenMP thread per query: measured faster than two for single queries (RECIPE.md)
faiss.omp_set_num_threads(1)
# and one BLAS thread: a search's products are small (a few thousand rows of 384), and
# OpenBLAS's idle workers spin between them, taking a core from the keyword runs and the
# query encoder. Measured at a million chunks (2026-11-27): a worker burnt 27 ms of CPU a
# hybrid search, which took 30.9 ms; with one thread, 25.7 ms. (Re-indexing runs in its own
# process, so index building keeps every core.)
threadpool_limits(1, user_api="blas")
# the two keyword runs of a search, beside its encoding (shared by all searches)
_KEYWORD_RUNS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="whoknows-keyword")


@dataclass
class Ranking:
    """Ranked candidates with the chunks they were built from."""

    candidates: list[Candidate]
    chunks: dict[int, ChunkHit]  # the rows already read (the cross-encoder's); others on demand
    reader: IndexReader
    dense_hits: list[tuple[int, float]] = field(default_factory=list)  # (chunk id, cosine), best first
    keyword_hits: list[tuple[int, float]] = field(default_factory=list)  # (chunk id, BM25), best first


class Searcher:
    def __init__(self, index: LiveIndex, embedder: Embedder, settings: SearchSettings,
                 experts: ExpertFinder | None = None, feedback: Feedback | None = None):
        if settings.mode not in MODES:
            raise ValueError(f"[search] mode must be one of {', '.join(MODES)}, not {settings.mode!r}")
        if not 0 <= settings.keyword_weight + settings.document_keyword_weight <= 1:
            raise ValueError("[search] keyword_weight + document_keyword_weight must be between 0 and 1")
        if settings.fusion not in FUSERS:
            raise ValueError(f"[search] fusion must be one of {', '.join(FUSERS)}, not {settings.fusion!r}")
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.expert_finder = experts
        self.feedback: Feedback | None = None
        if feedback is not None:
            self.attach_feedback(feedback)
        self.keyword = KeywordRetriever(tuple(settings.bm25_weights))  # type: ignore[arg-type]
        self.dense = DenseRetriever()
        self.cross_encoder = (CrossEncoderRescorer(settings.cross_encoder, settings.cross_encoder_top)
                              if settings.cross_encoder else None)
        self._allowed_cache: OrderedDict[tuple[str, ChunkFilter, bool], np.ndarray] = OrderedDict()
        self._recent: OrderedDict[str, tuple[np.ndarray, Tokens | None]] = OrderedDict()
        self._recent_lock = threading.Lock()

    # ---- ranking ---------------------------------------------------------------------

    def rank(self, query: str, depth: int = 100, flt: ChunkFilter | None = None,
             min_dense: int = 0) -> Ranking:
        """Documents for ``query`` passing ``flt``, best first; at least the best ``depth``
        are there when that many match. ``min_dense``: fetch at least that many dense hits."""
        reader = self.index.get()
        query = clean_query(query)
        if not query:
            return Ranking([], {}, reader)
        fetch = max(self.settings.candidates, depth * 3)
        mode = self.settings.mode
        # the keyword runs (SQLite) go on beside the query encoding and FAISS: all release the GIL
        allowed = self._allowed(reader, flt)
        kw_job = _KEYWORD_RUNS.submit(self.keyword.retrieve, reader.store, query, fetch, flt, allowed) \
            if mode != "dense" else None
        doc_job = _KEYWORD_RUNS.submit(self.keyword.retrieve_documents, reader.store, query, fetch, flt,
                                       self._allowed(reader, flt, documents=True)) \
            if mode == "hybrid" and self.settings.document_keyword_weight > 0 else None
        qvec, qtok = self._encode(query) if mode != "keyword" else (None, None)
        dn_hits: list[tuple[int, float]] = []
        if qvec is not None:
            dn_hits = self.dense.retrieve(reader.vectors, qvec, max(fetch, min_dense), allowed)
        kw_hits = kw_job.result() if kw_job is not None else []
        doc_of = reader.docs().doc_of(c for c, _ in kw_hits + dn_hits)
        kw, dn = best_per_doc(kw_hits, doc_of), best_per_doc(dn_hits, doc_of)
        doc_hits = doc_job.result() if doc_job is not None and qvec is not None else {}
        kw, dn, doc_kw, shown = self._evidence(reader, qvec, kw, dn, doc_hits)
        runs = {"keyword": {d: s for d, (s, _) in kw.items()}, "dense": {d: s for d, (s, _) in dn.items()},
                "document": doc_kw}
        fused = FUSERS[self.settings.fusion](runs, self._weights(), self.settings.rrf_k)
        cands = [Candidate(d, shown[d][1], kw[d][0] if d in kw else None, dn[d][0] if d in dn else None, f, f)
                 for d, f in fused.items()]
        cands.sort(key=lambda c: -c.score)
        second: dict[str, list[int]] = {}  # each top document's second-stage chunks, listed once
        if qtok is not None:
            cands = late_interaction.rescore(reader, query, qtok, cands, self.settings.late_interaction,
                                             self.settings.late_interaction_top, second)
        if qvec is not None and mode == "hybrid" and self.settings.sentence_weight > 0:
            # after late interaction, in this thread: beside it in a worker thread measured slower
            # (23.3 against 21.4 ms a search at 1M chunks; the two contend for the GIL)
            cands = sentence_evidence.rescore(reader, qvec, cands, self.settings.sentence_weight,
                                              self.settings.late_interaction_top, second)
        chunks: dict[int, ChunkHit] = {}
        if self.cross_encoder is not None:
            chunks = reader.store.chunks_by_ids([c.chunk_id for c in cands[: self.cross_encoder.top]])
            cands = self.cross_encoder.rescore(query, cands, chunks)
        if self.feedback is not None:  # last: the bounded boost scales the final scores
            cands = self.feedback.rerank(query, qvec, cands)
        return Ranking(cands, chunks, reader, dn_hits, kw_hits)

    def attach_feedback(self, feedback: Feedback) -> None:
        """Votes and opens shape this searcher's rankings and its experts' (``search/feedback.py``)."""
        self.feedback = feedback
        if self.expert_finder is not None:
            self.expert_finder.adjust = lambda q, ranked: feedback.adjust_experts(q, self.query_vector(q), ranked)

    def _encode(self, query: str) -> tuple[np.ndarray, Tokens | None]:
        """The query's vector, and its token vectors when late interaction is on; kept for the
        last queries, so an answer's own look at its question costs no second encoding."""
        with self._recent_lock:
            found = self._recent.get(query)
        if found is not None:
            return found
        enc = token_encoder(self.embedder)
        if enc is None or self.settings.mode != "hybrid" or self.settings.late_interaction <= 0:
            out: tuple[np.ndarray, Tokens | None] = (self.embedder.encode([query])[0], None)
        else:
            vecs, toks = enc.encode_with_tokens([query])
            out = (vecs[0], toks[0])
        with self._recent_lock:
            self._recent[query] = out
            while len(self._recent) > 64:
                self._recent.popitem(last=False)
        return out

    def query_vector(self, query: str) -> np.ndarray:
        """``query``'s vector as searching it encodes it (kept from a search just made)."""
        return self._encode(clean_query(query))[0]

    def _evidence(self, reader: IndexReader, qvec: np.ndarray | None, kw: Scored, dn: Scored,
                  doc_hits: dict[str, float]) -> tuple[Scored, Scored, dict[str, float], Scored]:
        """The runs to fuse (chunk keyword, dense, whole-document keyword) and the passage each
        document is shown with: dense's best chunk, else keyword's. A document only the
        whole-document run found gets its best dense chunk; it stays when it has one. With the
        second stage on, each run covers every candidate (``complete_evidence``). The exact
        dense scores both need are read in one call."""
        known = {**kw, **dn}
        only_doc = [d for d in doc_hits if d not in known]
        complete = self.settings.mode == "hybrid" and self.settings.rescore and qvec is not None
        ask = only_doc + ([d for d in kw if d not in dn] if complete else [])
        exact = exact_dense(reader, qvec, ask) if ask and qvec is not None else {}
        found = {d: exact[d] for d in only_doc if d in exact}
        doc_kw = {d: s for d, s in doc_hits.items() if d in known or d in found}
        if self.settings.rescore:
            dn = {**dn, **found}
        shown = {**found, **kw, **dn}
        if complete:
            kw, dn = complete_evidence(kw, dn, exact)
            doc_kw = {**dict.fromkeys(dn, 0.0), **doc_kw} if doc_kw else doc_kw
        return kw, dn, doc_kw, shown

    def _weights(self) -> dict[str, float]:
        """Fusion weight per run: chunk keyword, whole-document keyword, dense (the rest)."""
        s = self.settings
        if s.mode != "hybrid":
            return {s.mode: 1.0}
        return {"keyword": s.keyword_weight, "document": s.document_keyword_weight,
                "dense": 1.0 - s.keyword_weight - s.document_keyword_weight}

    def _allowed(self, reader: IndexReader, flt: ChunkFilter | None, documents: bool = False
                 ) -> np.ndarray | None:
        """Chunk ids (``documents``: document rowids) passing ``flt``, cached per generation
        (None: everything is allowed)."""
        if flt is None or flt.is_empty:
            return None
        key = (reader.generation, flt, documents)
        ids = self._allowed_cache.get(key)
        if ids is None:
            found = (reader.store.allowed_document_rowids(flt) if documents
                     else reader.store.allowed_chunk_ids(flt))
            ids = np.asarray(found, dtype="int64")
            self._allowed_cache[key] = ids
            while len(self._allowed_cache) > 64:
                self._allowed_cache.popitem(last=False)
        return ids

    # ---- results ---------------------------------------------------------------------

    def search(self, query: str, k: int | None = None, page: int = 1, with_experts: bool = False,
               flt: ChunkFilter | None = None, viewer: Viewer = LOCAL) -> SearchResults:
        """Results for ``query``; pass ``flt`` already restricted to ``viewer`` (Viewer.restrict)."""
        flt = viewer.restrict(flt)
        t0 = time.perf_counter()
        query = clean_query(query)
        k = max(1, min(k or self.settings.k, 100))
        page = max(1, page)
        results = SearchResults(query=query, took_ms=0.0, page=page, filters=flt or ChunkFilter())
        if not query:
            return results
        want_experts = with_experts and self.expert_finder is not None
        min_dense = self.expert_finder.settings.candidates if want_experts and self.expert_finder else 0
        ranking = self.rank(query, depth=k * page + 1, flt=flt, min_dense=min_dense)
        self._fill(results, ranking, query, k, page)
        if want_experts:
            results.experts_asked = True
            results.experts = self._experts(ranking.reader, ranking.dense_hits, query, ranking.keyword_hits,
                                            viewer=viewer)
        results.took_ms = (time.perf_counter() - t0) * 1000
        return results

    # ---- dense passages for answers and experts (cosine scores, no fusion) ---------------

    def candidates(self, reader: IndexReader, query: str, n: int, flt: ChunkFilter | None = None
                   ) -> list[tuple[ChunkHit, float]]:
        """The ``n`` chunks most similar to a query (cosine), best first, passing ``flt``."""
        found = self._dense_hits(reader, query, n, flt)
        chunks = reader.store.chunks_by_ids([c for c, _ in found])
        return [(chunks[c], s) for c, s in found if c in chunks]

    def _dense_hits(self, reader: IndexReader, query: str, n: int, flt: ChunkFilter | None
                    ) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the ``n`` chunks most similar to a query, passing ``flt``."""
        return self.dense.retrieve(reader.vectors, self.query_vector(query), n, self._allowed(reader, flt))

    def experts(self, query: str, k: int | None = None, viewer: Viewer = LOCAL,
                flt: ChunkFilter | None = None) -> list[Expert]:
        """People who know about ``query``, with receipts, from what ``viewer`` may see (and
        ``flt`` lets through)."""
        query = clean_query(query)
        if not query or self.expert_finder is None:
            return []
        reader = self.index.get()
        n = self.expert_finder.settings.candidates
        flt = viewer.restrict(flt)
        hits = self._dense_hits(reader, query, n, flt)
        kw = (self.keyword.retrieve(reader.store, query, max(n, self.settings.candidates), flt,
                                   self._allowed(reader, flt))
              if self.expert_finder.settings.keyword and self.settings.mode != "dense" else [])
        return self._experts(reader, hits, query, kw, k, viewer)

    def _experts(self, reader: IndexReader, dense_hits: list[tuple[int, float]], query: str,
                 keyword_hits: list[tuple[int, float]] | None = None, k: int | None = None, viewer: Viewer = LOCAL
                 ) -> list[Expert]:
        """Experts from the dense passages (chunk id, cosine): their documents, sections and
        audiences come from the document map; only the receipts shown are read from the store."""
        if self.expert_finder is None:
            return []
        facts = reader.docs().passages(c for c, _ in dense_hits)
        passages = []
        for c, s in dense_hits:
            doc, section, audience = facts.get(c, ("", 0, []))
            if doc and viewer.can_see(audience):
                passages.append(Passage(doc, section, s, c))
        passages = with_keyword(passages, dict(keyword_hits or []))
        return self.expert_finder.find(reader.store, passages, query, k, viewer=viewer,
                                       documents=reader.docs().audience_and_source)

    def _fill(self, results: SearchResults, ranking: Ranking, query: str, k: int, page: int) -> None:
        cands = ranking.candidates
        window = cands[(page - 1) * k : page * k]
        results.has_more = len(cands) > page * k
        store = ranking.reader.store
        authors = ranking.reader.docs().authors_of(c.doc_id for c in window)
        results.facets = facet_counts(cands, ranking.reader.docs())
        missing = [c.chunk_id for c in window if c.chunk_id not in ranking.chunks]
        chunks = {**ranking.chunks, **store.chunks_by_ids(missing)} if missing else ranking.chunks
        size = self.settings.snippet_chars
        snippets = {c.chunk_id: make_snippet(chunks[c.chunk_id].text, query, size) for c in window}
        # a passage that shows as a line or two (a short section, a page's last words) reads on
        for cid, around in store.around_in_section(
                [chunks[cid] for cid, s in snippets.items() if len(s) < size // 2]).items():
            snippets[cid] = make_snippet(chunks[cid].text, query, size, around)
        for c in window:
            ch = chunks[c.chunk_id]
            snippet = snippets[c.chunk_id]
            results.hits.append(Hit(
                doc_id=c.doc_id, chunk_id=c.chunk_id, title=ch.title,
                url=_anchor_url(ch.url, ch.anchor), source=ch.source, kind=ch.kind,
                snippet=snippet, snippet_html=highlight(snippet, query), score=c.score,
                authors=[Author(p.id, p.name) for p in authors.get(c.doc_id, [])[:5]],
                updated_at=ch.updated_at, heading=ch.heading,
            ))

    def similar(self, doc_id: str, k: int | None = None, flt: ChunkFilter | None = None,
                viewer: Viewer = LOCAL) -> SearchResults:
        """Documents closest to ``doc_id``: its mean chunk vector against all chunks. A document
        the viewer may not see has no neighbours (its existence is not revealed)."""
        t0 = time.perf_counter()
        k = max(1, min(k or self.settings.k, 100))
        reader = self.index.get()
        flt = viewer.restrict(flt)
        if not viewer.sees_all:
            doc = reader.store.document(doc_id)
            if doc is None or not viewer.can_see(doc.visible_to):
                return SearchResults(query="", took_ms=0.0, filters=flt)
        base = flt or ChunkFilter()
        flt = ChunkFilter(**{**base.__dict__, "exclude_docs": (*base.exclude_docs, doc_id)})
        results = SearchResults(query="", took_ms=0.0, filters=base)
        own = reader.docs().chunks_of([doc_id])[doc_id]
        if not own:
            return results
        vec = reader.vectors.reconstruct(own).mean(axis=0)
        vec /= float(np.linalg.norm(vec)) or 1.0
        hits = self.dense.retrieve(reader.vectors, vec, max(self.settings.candidates, k * 4),
                                   self._allowed(reader, flt))
        per_doc = best_per_doc(hits, reader.docs().doc_of(c for c, _ in hits))
        cands = [Candidate(d, cid, None, s, s, s) for d, (s, cid) in per_doc.items()]
        cands.sort(key=lambda c: -c.score)
        first = reader.store.chunks_by_ids(own[:1]).get(own[0])
        title = first.title if first else ""
        self._fill(results, Ranking(cands, {}, reader), title, k, 1)
        results.took_ms = (time.perf_counter() - t0) * 1000
        return results


def clean_query(query: str) -> str:
    """Whitespace collapsed, cut to ``MAX_QUERY_CHARS``."""
    return " ".join(query[: MAX_QUERY_CHARS * 2].split())[:MAX_QUERY_CHARS]


def _anchor_url(url: str, anchor: str) -> str:
    if not url or not anchor or "#" in url:
        return url
    return f"{url}#{anchor}"
