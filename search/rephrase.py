"""Help when a search finds nothing: other ways to put the query, and who to ask anyway."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .experts import Expert
from .permissions import LOCAL, Viewer
from .snippets import query_terms
from .suggest import suggest_titles

if TYPE_CHECKING:
    from .searcher import Searcher

MAX_REPHRASINGS = 5


@dataclass
class NoResultHelp:
    rephrasings: list[str] = field(default_factory=list)
    experts: list[Expert] = field(default_factory=list)  # for the query, ignoring the filters

    def to_json(self) -> dict[str, Any]:
        return {"rephrasings": self.rephrasings, "experts": [e.to_json() for e in self.experts]}


def no_result_help(searcher: Searcher, query: str, viewer: Viewer = LOCAL) -> NoResultHelp:
    """Rephrasings (the query's key words, fewer of them, titles that share a word) and the
    people who know about the query across everything ``viewer`` may see."""
    return NoResultHelp(rephrasings(searcher, query, viewer), searcher.experts(query, 3, viewer))


def rephrasings(searcher: Searcher, query: str, viewer: Viewer = LOCAL) -> list[str]:
    words = " ".join(query.split()).lower()
    terms = query_terms(query)
    out: list[str] = []
    if terms and " ".join(terms) != words:
        out.append(" ".join(terms))
    if len(terms) > 2:
        out.append(" ".join(sorted(terms, key=len, reverse=True)[:2]))
    store = searcher.index.get().store
    for term in sorted(terms, key=len, reverse=True)[:3]:
        out.extend(t.lower() for t in suggest_titles(store, term, viewer, limit=2))
    unique = [r for r in dict.fromkeys(out) if r and r != words]
    return unique[:MAX_REPHRASINGS]
