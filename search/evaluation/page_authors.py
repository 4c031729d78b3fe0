"""``whoknows eval page-authors``: do the experts for a page's subject include its writer?

On the configured index, every page with a main author (an ``author`` contribution holding at
least ``min_share`` of it) is asked for by its title; the main author's place among the
suggested experts gives MRR@10, P@1 and hits@5. It checks the issue's "a query about a
department's process lists people who actually wrote those pages" on a whole wiki or handbook,
not a few hand-picked queries. The page itself is in the index, so this measures how the
model weighs its writer against the writers of neighbouring pages (recency, shares, role
weights), not retrieval.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from index.embedding import Embedder
from index.generations import Home, LiveIndex
from index.settings import ExpertSettings, Settings
from index.store import Store
from search.experts import ExpertFinder
from search.searcher import Searcher, clean_query

from .experts import Scores, rank_of, table

K = 10


def variants(p: ExpertSettings) -> dict[str, ExpertSettings]:
    """The configured model and what it would be without each of its cross-source choices."""
    return {
        "credit not split": replace(p, credit_split=0.0),
        "evidence dated by each writer's edits": replace(p, page_age_from_last_change=False),
        "prior multiplies across sources": replace(p, prior_within_source=False),
        "whoknows model": p,
    }


class TitleVectors:
    """The embedder, with the titles encoded once in batches (as the searcher cleans queries):
    every variant asks for each title."""

    def __init__(self, embedder: Embedder, titles: list[str]):
        self.model_id, self.dim = embedder.model_id, embedder.dim
        self._embedder = embedder
        uniq = list(dict.fromkeys(clean_query(t) for t in titles))  # the embedder batches them itself
        self._vecs = dict(zip(uniq, embedder.encode(uniq), strict=True)) if uniq else {}

    def encode(self, texts: list[str]) -> np.ndarray:
        if all(t in self._vecs for t in texts):
            return np.stack([self._vecs[t] for t in texts]) if texts else np.zeros((0, self.dim), "float32")
        return self._embedder.encode(texts)


def main_authors(store: Store, min_share: float) -> list[tuple[str, str]]:
    """(title, person id) of each page with a titled main author holding ``min_share`` or more."""
    rows = store.db.execute(
        "SELECT d.id, d.title, c.person_id FROM documents d JOIN contributions c ON c.doc_id = d.id "
        "WHERE c.role = 'author' AND c.weight >= ? AND d.title != '' ORDER BY d.id, c.weight DESC, c.person_id",
        (min_share,)).fetchall()
    seen: dict[str, tuple[str, str]] = {}
    for doc, title, person in rows:
        seen.setdefault(doc, (title, person))
    return list(seen.values())


def evaluate_page_authors(settings: Settings, embedder: Embedder, min_share: float = 0.5,
                          limit: int = 0) -> dict[str, dict[str, float]]:
    """Scores per variant (``variants``) over the configured index's pages."""
    live = LiveIndex(Home(settings.home))
    pages = main_authors(live.get().store, min_share)
    pages = pages[:limit] if limit else pages
    if not pages:
        raise LookupError(f"no page in {settings.home} has a main author (an author holding {min_share:g} "
                          "of it or more): nothing to evaluate")
    titles = TitleVectors(embedder, [title for title, _ in pages])
    searchers = {name: Searcher(live, titles, settings.search, ExpertFinder(p, settings.people))
                 for name, p in variants(settings.experts).items()}
    out: dict[str, dict[str, float]] = {}
    for name, searcher in searchers.items():
        scores = Scores()
        for title, person in pages:
            scores.add(rank_of([e.person.id for e in searcher.experts(title, k=K)], person, exclude=""))
        out[name] = scores.summary()
    return out


def report(results: dict[str, dict[str, float]]) -> str:
    n = int(next(iter(results.values()))["n"]) if results else 0
    return table(results, f"{n} pages asked for by title; the rank of their main author among {K} experts")
