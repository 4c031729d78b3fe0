"""Keyword retrieval: SQLite FTS5 with BM25 over chunk title, heading and text, and over
whole documents (title and all their text; ``documents_fts``).

User input never reaches FTS5 as syntax. The query is tokenised here, much as FTS5's
``unicode61`` tokenizer would, and every term is sent as a double-quoted string joined by
``OR``; quotes, ``AND``/``OR``/``NEAR``, ``*``, ``^``, ``:`` and parentheses in the query are
just separators or plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.filters import ChunkFilter
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
    if not terms:
        return None
    # a term never contains '"' (the tokeniser keeps letters and digits only); doubling any
    # quote anyway keeps the expression well-formed if that ever changes
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


@dataclass
class KeywordRetriever:
    """BM25 over ``chunks_fts`` with per-column weights (title, heading, text)."""

    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def retrieve(self, store: Store, query: str, k: int, flt: ChunkFilter | None = None
                 ) -> list[tuple[int, float]]:
        """Best ``k`` (chunk id, score) pairs, best first; scores are positive BM25."""
        match = match_expression(query)
        if match is None:
            return []
        return store.keyword_search(match, self.weights, k, flt)

    def retrieve_documents(self, store: Store, query: str, k: int, flt: ChunkFilter | None = None
                           ) -> dict[str, float]:
        """Best ``k`` documents by whole-document BM25 (document id → positive score)."""
        match = match_expression(query)
        if match is None:
            return {}
        return dict(store.document_keyword_search(match, k, flt))
