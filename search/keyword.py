"""Keyword retrieval: SQLite FTS5 with BM25 over chunk title, heading and text, and over
whole documents (title and all their text; ``documents_fts``).

User input never reaches FTS5 as syntax. The query is tokenised here, much as FTS5's
``unicode61`` tokenizer would, and every term is sent as a double-quoted string joined by
``OR``; quotes, ``AND``/``OR``/``NEAR``, ``*``, ``^``, ``:`` and parentheses in the query are
just separators or plain words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from index.filters import ChunkFilter
from index.impacts import stems
from index.store import Store

# letters and digits, as FTS5's unicode61 tokenizer sees them ("_" separates)
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# Lucene's English stop words (the BM25 baselines of Anserini/BEIR use this list)
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with".split()
)
MAX_TERMS = 64
MAX_TERM_CHARS = 64


def keyword_terms(query: str) -> list[str]:
    """Distinct lower-case terms of ``query`` in order, stop words dropped (unless that is all)."""
    tokens = [t.lower()[:MAX_TERM_CHARS] for t in _TOKEN.findall(query)]
    kept = [t for t in tokens if t not in STOPWORDS] or tokens
    return list(dict.fromkeys(kept))[:MAX_TERMS]


def match_expression(query: str) -> str | None:
    """A safe FTS5 MATCH expression: the query's terms, each quoted, joined by OR.

    None when the query has no searchable term.
    """
    terms = keyword_terms(query)
    return _any(terms) if terms else None


def _quoted(term: str) -> str:
    # a term never contains '"' (the tokeniser keeps letters and digits only); doubling any
    # quote anyway keeps the expression well-formed if that ever changes
    return '"' + term.replace('"', '""') + '"'


def _any(terms: list[str]) -> str:
    return " OR ".join(_quoted(t) for t in terms)


@dataclass
class KeywordRetriever:
    """BM25 over ``chunks_fts`` with per-column weights (title, heading, text), and over
    ``documents_fts``: from the generation's stored impacts (``index/impacts.py``), else
    (a phrase, other weights, an older store) FTS5's ``bm25()``."""

    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def _tokens(self, store: Store, table: str, terms: list[str], weights: tuple[float, ...]
                ) -> list[str] | None:
        """The query's FTS5 tokens when ``table``'s stored impacts can rank them exactly:
        they exist, with these column ``weights``, and every term is one token (a term of
        several tokens is a phrase, which only FTS5 can match)."""
        info = store.impact_info(table)
        if info is None or info.weights != tuple(float(w) for w in weights):
            return None
        tokens = [stems(t) for t in terms]
        if any(len(t) > 1 for t in tokens):
            return None
        return [t[0] for t in tokens if t]

    def retrieve(self, store: Store, query: str, k: int, flt: ChunkFilter | None = None,
                 allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Best ``k`` (chunk id, score) pairs, best first; scores are positive BM25.
        ``allowed``: the chunk ids ``flt`` lets through, when the caller has them."""
        terms = keyword_terms(query)
        if not terms:
            return []
        tokens = self._tokens(store, "chunks_fts", terms, self.weights)
        if tokens is not None:
            return _impact_search(store, "chunks_fts", tokens, k, flt, allowed, store.allowed_chunk_ids)
        return store.keyword_search(_any(terms), self.weights, k, flt)

    def retrieve_documents(self, store: Store, query: str, k: int, flt: ChunkFilter | None = None,
                           allowed: np.ndarray | None = None) -> dict[str, float]:
        """Best ``k`` documents by whole-document BM25 (document id → positive score).
        ``allowed``: the rowids of the documents ``flt`` lets through, when the caller has them."""
        terms = keyword_terms(query)
        if not terms:
            return {}
        tokens = self._tokens(store, "documents_fts", terms, (1.0, 1.0))
        if tokens is not None:
            hits = _impact_search(store, "documents_fts", tokens, k, flt, allowed, store.allowed_document_rowids)
            ids = store.document_ids([r for r, _ in hits])
            return {ids[r]: s for r, s in hits if r in ids}
        return dict(store.document_keyword_search(_any(terms), k, flt))


def _impact_search(store: Store, table: str, tokens: list[str], k: int, flt: ChunkFilter | None,
                   allowed: np.ndarray | None, allowed_of: Callable[[ChunkFilter], list[int]]
                   ) -> list[tuple[int, float]]:
    """Stored-impact BM25 of ``table``, restricted to the rowids ``flt`` lets through
    (``allowed`` when the caller has them, else ``allowed_of(flt)``)."""
    if flt is None or flt.is_empty:
        allowed = None
    elif allowed is None:
        allowed = np.asarray(allowed_of(flt), dtype=np.int64)
    return store.impact_search(table, tokens, k, allowed)
