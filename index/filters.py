"""What a search may return: a typed filter applied inside retrieval, not after it.

Keyword retrieval turns it into a SQL ``WHERE`` over the documents table; dense retrieval
turns it into the set of allowed chunk ids that FAISS may return. Filtering inside retrieval
means a restrictive filter never starves the results. The same object carries the
visibility constraint (``groups``) that permissions use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


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
