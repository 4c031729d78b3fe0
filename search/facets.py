"""Facet counts for the filters the search page offers: documents per value among the ranked
candidates (source, kind, author, year of the last update)."""

from __future__ import annotations

from index.doc_map import DocMap

from .candidates import Candidate

MAX_AUTHORS = 10


def facet_counts(cands: list[Candidate], docs: DocMap) -> dict[str, dict[str, int]]:
    """Documents per source, kind, author (top ``MAX_AUTHORS``) and year among the ranked
    candidates, most frequent first."""
    counters = docs.fact_counts(c.doc_id for c in cands)
    out = {name: dict(counter.most_common()) for name, counter in counters.items()}
    out["year"] = dict(sorted(out["year"].items(), reverse=True))
    out["author"] = dict(docs.author_counts(c.doc_id for c in cands).most_common(MAX_AUTHORS))
    return {name: values for name, values in out.items() if values}
