"""Typed search results. ``web/`` renders these; ``to_json`` is the API's shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from index.filters import ChunkFilter

if TYPE_CHECKING:
    from .experts import Expert


@dataclass
class Author:
    id: str
    name: str


@dataclass
class Hit:
    """One document in the results, represented by its best-matching chunk."""

    doc_id: str
    chunk_id: int
    title: str
    url: str
    source: str
    kind: str
    snippet: str
    snippet_html: Markup
    score: float
    authors: list[Author]
    updated_at: datetime | None
    heading: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id, "chunk_id": self.chunk_id, "title": self.title,
            "url": self.url, "source": self.source, "kind": self.kind, "heading": self.heading,
            "snippet": self.snippet, "score": round(float(self.score), 6),
            "authors": [{"id": a.id, "name": a.name} for a in self.authors],
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


@dataclass
class SearchResults:
    query: str
    took_ms: float
    hits: list[Hit] = field(default_factory=list)
    page: int = 1
    has_more: bool = False
    filters: ChunkFilter = field(default_factory=ChunkFilter)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)  # facet → value → documents
    experts: list[Expert] = field(default_factory=list)
    experts_asked: bool = False  # the experts were looked for (an empty list then means nobody qualified)

    @property
    def abstained(self) -> bool:
        """Experts were looked for and nobody has a receipt on the query."""
        return self.experts_asked and not self.experts and bool(self.query)

    def to_json(self) -> dict[str, Any]:
        from .experts import abstention

        return {
            "query": self.query, "took_ms": round(self.took_ms, 2), "page": self.page,
            "has_more": self.has_more, "filters": self.filters.describe(),
            "facets": self.facets, "hits": [h.to_json() for h in self.hits],
            "experts": [e.to_json() for e in self.experts],
            "abstained": abstention(self.query, self.experts) if self.experts_asked else None,
        }
