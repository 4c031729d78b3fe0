"""A generation's chunk → document map, document facts and authors, in memory.

Every search maps its ~200 chunk hits to their documents, reads the chunk ids of the
documents it re-scores, counts facets over its ~300 candidates and names their authors.
Asked of SQLite each time, at a million chunks that is ~20 ms of point lookups a search
(profiled: candidate chunk rows ~6.5 ms, chunk ids of ~200 documents ~6 ms, authors ~5 ms,
plus the facets' rows). A generation never changes once published, so this is read once when
it is opened (``LiveIndex`` builds it before requests see the generation): a few arrays,
~16 bytes a chunk and ~12 a contribution,
plus each document's id, source, kind, year and audience and each person's name.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np

from .rows import PersonRow
from .store import Store


class DocMap:
    """Chunk → document, document → chunks (in reading order), document → facet values."""

    def __init__(self, store: Store):
        cur = store.db.cursor()
        cur.row_factory = None  # plain tuples: ~1M rows at a million chunks
        docs = cur.execute("SELECT id, source, kind, updated_at, visible_to FROM documents").fetchall()
        self.doc_ids: list[str] = [d[0] for d in docs]
        self._pos = {d: i for i, d in enumerate(self.doc_ids)}
        self._sources, source_code = _codes(d[1] for d in docs)
        self._kinds, kind_code = _codes(d[2] for d in docs)
        self._source = np.array(source_code, dtype=np.int32)
        self._kind = np.array(kind_code, dtype=np.int32)
        # the year of the last update (ISO text), 0 for none: facets count documents per year
        self._year = np.array([int(d[3][:4]) if d[3] and d[3][:4].isdigit() else 0 for d in docs], dtype=np.int32)
        audiences, audience_code = _codes(d[4] for d in docs)  # a few distinct groups lists
        self._audiences: list[list[str]] = [json.loads(a) for a in audiences]
        self._audience = np.array(audience_code, dtype=np.int32)
        rows = cur.execute("SELECT doc_id, id, section FROM chunks ORDER BY doc_id, position").fetchall()
        ids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        pos = np.fromiter((self._pos.get(r[0], -1) for r in rows), dtype=np.int64, count=len(rows))
        self._ids = ids  # chunk ids grouped per document, each document's in reading order
        self._doc_of = np.full(int(ids.max()) + 1 if len(ids) else 0, -1, dtype=np.int32)
        self._doc_of[ids] = pos
        self._section = np.zeros(len(self._doc_of), dtype=np.int32)  # per chunk id: its section
        self._section[ids] = np.fromiter((r[2] for r in rows), dtype=np.int32, count=len(rows))
        self._start, self._stop = _spans(pos, len(self.doc_ids))
        self._read_authors(store)

    def _read_authors(self, store: Store) -> None:
        """Each document's people, strongest contributors first (``Store.author_rows``)."""
        rows = store.author_rows()
        people: dict[str, int] = {}
        self._people: list[PersonRow] = []
        for _, pid, name, url in rows:
            if pid not in people:
                people[pid] = len(self._people)
                self._people.append(PersonRow(pid, name, url))
        self._author = np.fromiter((people[pid] for _, pid, _, _ in rows), dtype=np.int32, count=len(rows))
        names: dict[str, int] = {}
        self._names = np.array([names.setdefault(p.name, len(names)) for p in self._people], dtype=np.int64)
        self._name_list = list(names)
        pos = np.fromiter((self._pos.get(d, -1) for d, _, _, _ in rows), dtype=np.int64, count=len(rows))
        self._author_start, self._author_stop = _spans(pos, len(self.doc_ids))

    def __len__(self) -> int:
        return len(self._ids)

    def _known(self, chunk_ids: Iterable[int]) -> Iterator[tuple[int, int]]:
        """(chunk id, its document's position) of each known chunk id; unknown ids are skipped."""
        n = len(self._doc_of)
        for c in chunk_ids:
            if 0 <= c < n and (p := int(self._doc_of[c])) >= 0:
                yield c, p

    def doc_of(self, chunk_ids: Iterable[int]) -> dict[int, str]:
        """The document of each known chunk id (unknown ids are left out)."""
        return {c: self.doc_ids[p] for c, p in self._known(chunk_ids)}

    def passages(self, chunk_ids: Iterable[int]) -> dict[int, tuple[str, int, list[str]]]:
        """(document, section, the document's audience) of each known chunk id: what expert
        attribution needs of a passage, without reading its row."""
        return {c: (self.doc_ids[p], int(self._section[c]), self._audiences[self._audience[p]])
                for c, p in self._known(chunk_ids)}

    def chunks_of(self, doc_ids: Iterable[str]) -> dict[str, list[int]]:
        """Chunk ids per document, in reading order ([] for an unknown document)."""
        out: dict[str, list[int]] = {}
        for d in doc_ids:
            p = self._pos.get(d)
            out[d] = self._ids[self._start[p]:self._stop[p]].tolist() if p is not None else []
        return out

    def chunk_runs(self, doc_ids: Iterable[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The documents of ``doc_ids`` that have chunks, all their chunk ids one document
        after another (each in reading order), and how many each has: ``chunks_of`` as arrays."""
        known = [(d, p) for d in doc_ids if (p := self._pos.get(d)) is not None]
        pos = np.array([p for _, p in known], dtype=np.int64)
        rows, counts = _runs(self._start[pos], self._stop[pos])
        return [d for (d, _), n in zip(known, counts, strict=True) if n], self._ids[rows], counts[counts > 0]

    def authors_of(self, doc_ids: Iterable[str]) -> dict[str, list[PersonRow]]:
        """People per document, strongest contributors first ([] for an unknown document)."""
        out: dict[str, list[PersonRow]] = {}
        for d in doc_ids:
            p = self._pos.get(d)
            out[d] = ([self._people[a] for a in self._author[self._author_start[p]:self._author_stop[p]]]
                      if p is not None else [])
        return out

    def author_counts(self, doc_ids: Iterable[str]) -> Counter[str]:
        """Documents per author name among ``doc_ids`` (each document counted once per name),
        ties in the order of the first document they appear in (``most_common`` keeps it)."""
        pos = self._positions(doc_ids)
        rows, lens = _runs(self._author_start[pos], self._author_stop[pos])
        if not len(rows):
            return Counter()
        idx = self._author[rows]
        doc = np.repeat(np.arange(len(pos)), lens)
        pairs = np.unique(doc * len(self._name_list) + self._names[idx])  # document-major
        return _ordered_counts(pairs % len(self._name_list), self._name_list)

    def fact_counts(self, doc_ids: Iterable[str]) -> dict[str, Counter[str]]:
        """Documents per source, kind and year of the last update among ``doc_ids`` (known
        ones; no year where there is none), ties in the order of the first document they
        appear in (``most_common`` keeps it)."""
        pos = self._positions(doc_ids)
        years = self._year[pos]
        return {"source": _ordered_counts(self._source[pos], self._sources),
                "kind": _ordered_counts(self._kind[pos], self._kinds),
                "year": _ordered_counts(years[years > 0], None)}

    def _positions(self, doc_ids: Iterable[str]) -> np.ndarray:
        return np.array([p for d in doc_ids if (p := self._pos.get(d)) is not None], dtype=np.int64)

    def audience_and_source(self, doc_id: str) -> tuple[list[str], str] | None:
        """Who may see a document (its ``visible_to``, a fresh list) and its source; None if
        unknown (``PeopleReads.contributions_to``'s ``documents``)."""
        p = self._pos.get(doc_id)
        if p is None:
            return None
        return list(self._audiences[self._audience[p]]), self._sources[self._source[p]]

    def facts(self, doc_id: str) -> tuple[str, str, int | None] | None:
        """(source, kind, year of the last update or None) of a document; None if unknown."""
        p = self._pos.get(doc_id)
        if p is None:
            return None
        year = int(self._year[p])
        return self._sources[self._source[p]], self._kinds[self._kind[p]], year or None


def _runs(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The row numbers of the runs ``start[i]:stop[i]``, one run after another, and each
    run's length."""
    counts = stop - start
    ends = np.cumsum(counts)
    within = np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - counts, counts)
    return np.repeat(start, counts) + within, counts


def _ordered_counts(codes: np.ndarray, labels: list[str] | None) -> Counter[str]:
    """How often each code occurs, as its label (the code itself as text without ``labels``),
    in the order of first occurrence."""
    values, first, counts = np.unique(codes, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    return Counter({(labels[v] if labels is not None else str(v)): int(c)
                    for v, c in zip(values[order].tolist(), counts[order].tolist(), strict=True)})


def _spans(pos: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, stop) per document position of the runs in ``pos`` (rows grouped per
    document; -1 for a row of no known document); 0, 0 for a document without rows."""
    start, stop = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    if len(pos):
        first = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
        last = np.r_[first[1:], len(pos)]
        known = pos[first] >= 0
        start[pos[first][known]] = first[known]
        stop[pos[first][known]] = last[known]
    return start, stop


def _codes(values: Iterable[str]) -> tuple[list[str], list[int]]:
    """(distinct values, each value's index among them)."""
    names: dict[str, int] = {}
    codes = [names.setdefault(v, len(names)) for v in values]
    return list(names), codes
