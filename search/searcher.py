"""Search over the live index: embed the query, FAISS top-k, group chunks per document."""

from __future__ import annotations

import time

import faiss

from index.embedding import Embedder
from index.generations import IndexReader, LiveIndex
from index.settings import SearchSettings
from index.store import ChunkHit

from .experts import Expert, ExpertFinder, Passage
from .results import Author, Hit, SearchResults
from .snippets import highlight, make_snippet

MAX_QUERY_CHARS = 2000

# one OpenMP thread per query: measured faster than two for single queries (RECIPE.md)
faiss.omp_set_num_threads(1)


class Searcher:
    def __init__(self, index: LiveIndex, embedder: Embedder, settings: SearchSettings,
                 experts: ExpertFinder | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.expert_finder = experts

    def candidates(self, reader: IndexReader, query: str, n: int) -> list[tuple[ChunkHit, float]]:
        """The ``n`` best chunks for a query, best first."""
        qv = self.embedder.encode([query])
        scores, ids = reader.vectors.search(qv, n)
        found = [(float(s), int(c)) for s, c in zip(scores[0], ids[0], strict=True) if c >= 0]
        chunks = reader.store.chunks_by_ids([c for _, c in found])
        return [(chunks[c], s) for s, c in found if c in chunks]

    def experts(self, query: str, k: int | None = None) -> list[Expert]:
        """People who know about ``query``, with receipts."""
        query = " ".join(query.split())[:MAX_QUERY_CHARS]
        if not query or self.expert_finder is None:
            return []
        reader = self.index.get()
        cands = self.candidates(reader, query, self.expert_finder.settings.candidates)
        return self._experts(reader, cands, query, k)

    def _experts(self, reader: IndexReader, cands: list[tuple[ChunkHit, float]], query: str,
                 k: int | None = None) -> list[Expert]:
        if self.expert_finder is None:
            return []
        passages = [Passage(ch.doc_id, ch.section, s, ch) for ch, s in cands]
        return self.expert_finder.find(reader.store, passages, query, k)

    def search(self, query: str, k: int | None = None, page: int = 1, with_experts: bool = False
               ) -> SearchResults:
        t0 = time.perf_counter()
        query = " ".join(query.split())[:MAX_QUERY_CHARS]
        k = max(1, min(k or self.settings.k, 100))
        page = max(1, page)
        results = SearchResults(query=query, took_ms=0.0, page=page)
        if not query:
            return results
        reader = self.index.get()
        want = k * page + 1
        fetch = max(self.settings.candidates, want * 4)
        if with_experts and self.expert_finder:
            fetch = max(fetch, self.expert_finder.settings.candidates)
        cands = self.candidates(reader, query, fetch)
        chunks = {ch.id: ch for ch, _ in cands}
        per_doc: dict[str, tuple[float, int]] = {}
        for ch, score in cands:  # best first: keep each document's first chunk
            if ch.doc_id not in per_doc:
                per_doc[ch.doc_id] = (score, ch.id)
        ranked = sorted(per_doc.items(), key=lambda kv: -kv[1][0])
        window = ranked[(page - 1) * k : page * k]
        results.has_more = len(ranked) > page * k
        authors = reader.store.authors_of([d for d, _ in window])
        for doc_id, (score, cid) in window:
            ch = chunks[cid]
            snippet = make_snippet(ch.text, query, self.settings.snippet_chars)
            results.hits.append(Hit(
                doc_id=doc_id, chunk_id=cid, title=ch.title,
                url=_anchor_url(ch.url, ch.anchor), source=ch.source, kind=ch.kind,
                snippet=snippet, snippet_html=highlight(snippet, query), score=score,
                authors=[Author(p.id, p.name) for p in authors.get(doc_id, [])[:5]],
                updated_at=ch.updated_at, heading=ch.heading,
            ))
        if with_experts:
            results.experts = self._experts(reader, cands, query)
        results.took_ms = (time.perf_counter() - t0) * 1000
        return results


def _anchor_url(url: str, anchor: str) -> str:
    if not url or not anchor or "#" in url:
        return url
    return f"{url}#{anchor}"
