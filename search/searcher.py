"""Search over the live index: embed the query, FAISS top-k, group chunks per document."""

from __future__ import annotations

import time

import faiss

from index.embedding import Embedder
from index.generations import LiveIndex
from index.settings import SearchSettings

from .results import Author, Hit, SearchResults
from .snippets import highlight, make_snippet

MAX_QUERY_CHARS = 2000

# one OpenMP thread per query: measured faster than two for single queries (RECIPE.md)
faiss.omp_set_num_threads(1)


class Searcher:
    def __init__(self, index: LiveIndex, embedder: Embedder, settings: SearchSettings):
        self.index = index
        self.embedder = embedder
        self.settings = settings

    def search(self, query: str, k: int | None = None, page: int = 1) -> SearchResults:
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
        qv = self.embedder.encode([query])
        scores, ids = reader.vectors.search(qv, fetch)
        found = [(float(s), int(c)) for s, c in zip(scores[0], ids[0], strict=True) if c >= 0]
        chunks = reader.store.chunks_by_ids([c for _, c in found])
        per_doc: dict[str, tuple[float, int]] = {}
        for score, cid in found:  # FAISS returns best first: keep each document's first chunk
            ch = chunks.get(cid)
            if ch is not None and ch.doc_id not in per_doc:
                per_doc[ch.doc_id] = (score, cid)
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
        results.took_ms = (time.perf_counter() - t0) * 1000
        return results


def _anchor_url(url: str, anchor: str) -> str:
    if not url or not anchor or "#" in url:
        return url
    return f"{url}#{anchor}"
