"""Facet counts for the filters the search page offers: documents per value among the ranked
candidates (source, kind, author, year of the last update)."""

from __future__ import annotations

from collections import Counter

from index.doc_map import DocMap

from .candidates import Candidate

MAX_AUTHORS = 10


def facet_counts(cands: list[Candidate], docs: DocMap) -> dict[str, dict[str, int]]:
    """Documents per source, kind, author (top ``MAX_AUTHORS``) and year among the ranked
    candidates, most frequent first."""
    counters: dict[str, Counter[str]] = {"source": Counter(), "kind": Counter(), "year": Counter()}
    for c in cands:
        facts = docs.facts(c.doc_id)
        if facts is not None:
            source, kind, year = facts
            counters["source"][source] += 1
            counters["kind"][kind] += 1
            if year is not None:
                counters["year"][str(year)] += 1
    out = {name: dict(counter.most_common()) for name, counter in counters.items()}
    out["year"] = dict(sorted(out["year"].items(), reverse=True))
    out["author"] = dict(docs.author_counts(c.doc_id for c in cands).most_common(MAX_AUTHORS))
    return {name: values for name, values in out.items() if values}
