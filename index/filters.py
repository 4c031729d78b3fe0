"""What a search may return: a typed filter applied inside retrieval, not after it.

Keyword retrieval turns it into a SQL ``WHERE`` over the documents table; dense retrieval
turns it into the set of allowed chunk ids that FAISS may return. Filtering inside retrieval
means a restrictive filter never starves the results. The same object carries the
visibility constraint (``groups``) that permissions use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any


@dataclass(frozen=True)
class ChunkFilter:
    """Constraints on the documents whose chunks a search may return.

    Values within one field are alternatives (any of them); fields combine with AND.
    """

    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()  # person ids or names (case-insensitive)
    tags: tuple[str, ...] = ()  # case-insensitive
    since: date | None = None  # updated (else created) on or after this day
    until: date | None = None  # updated (else created) on or before this day
    groups: tuple[str, ...] | None = None  # visible to any of these groups; None = no check
    exclude_docs: tuple[str, ...] = ()  # e.g. the document itself for "more like this"

    @property
    def is_empty(self) -> bool:
        return not (self.sources or self.kinds or self.authors or self.tags or self.since
                    or self.until or self.exclude_docs or self.groups is not None)

    @classmethod
    def build(cls, sources: list[str] | None = None, kinds: list[str] | None = None,
              authors: list[str] | None = None, tags: list[str] | None = None,
              since: date | None = None, until: date | None = None) -> ChunkFilter:
        """From user input (e.g. query parameters): blanks dropped, duplicates removed."""
        def clean(values: list[str] | None) -> tuple[str, ...]:
            return tuple(dict.fromkeys(v.strip() for v in values or [] if v and v.strip()))

        return cls(sources=clean(sources), kinds=clean(kinds), authors=clean(authors),
                   tags=clean(tags), since=since, until=until)

    def describe(self) -> dict[str, list[str]]:
        """The user-facing parts, for echoing the filter back (API, page)."""
        out = {"source": list(self.sources), "kind": list(self.kinds),
               "author": list(self.authors), "tag": list(self.tags),
               "since": [self.since.isoformat()] if self.since else [],
               "until": [self.until.isoformat()] if self.until else []}
        return {k: v for k, v in out.items() if v}


def filter_sql(f: ChunkFilter) -> tuple[str, list[Any]]:
    """A SQL condition over ``documents d`` for a filter, with its parameters."""
    conds: list[str] = []
    args: list[Any] = []

    def one_of(expr: str, values: tuple[str, ...] | list[str]) -> None:
        conds.append(f"{expr} IN ({','.join('?' * len(values))})")
        args.extend(values)

    if f.sources:
        one_of("d.source", f.sources)
    if f.kinds:
        one_of("d.kind", f.kinds)
    if f.authors:
        names = [a.lower() for a in f.authors]
        marks = ",".join("?" * len(names))
        conds.append("d.id IN (SELECT c2.doc_id FROM contributions c2 JOIN people p ON "
                     f"p.id = c2.person_id WHERE p.id IN ({marks}) OR lower(p.name) IN ({marks}))")
        args.extend([*f.authors, *names])
    if f.tags:
        marks = ",".join("?" * len(f.tags))
        conds.append(f"EXISTS (SELECT 1 FROM json_each(d.tags) t WHERE lower(t.value) IN ({marks}))")
        args.extend(t.lower() for t in f.tags)
    if f.since:
        conds.append("coalesce(d.updated_at, d.created_at) >= ?")
        args.append(f.since.isoformat())
    if f.until:  # inclusive: before the start of the next day
        conds.append("coalesce(d.updated_at, d.created_at) < ?")
        args.append((f.until + timedelta(days=1)).isoformat())
    if f.groups is not None:
        marks = ",".join("?" * len(f.groups)) or "NULL"
        conds.append(f"EXISTS (SELECT 1 FROM json_each(d.visible_to) g WHERE g.value IN ({marks}))")
        args.extend(f.groups)
    if f.exclude_docs:
        conds.append(f"d.id NOT IN ({','.join('?' * len(f.exclude_docs))})")
        args.extend(f.exclude_docs)
    return " AND ".join(conds) or "1", args
