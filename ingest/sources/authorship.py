"""Who wrote a page, from its edit history: per-person amounts added and edit counts.

Shared by the sources that have a history (git commits, MediaWiki revisions). An edit's
``added`` is what the person put into the page: lines added for git, the positive byte-size
change of a revision for MediaWiki.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from index.models import Contribution, Person

# weight = ADDED_SHARE_WEIGHT * share of what was added + (1 - ADDED_SHARE_WEIGHT) * share of edits
ADDED_SHARE_WEIGHT = 0.9
# whoever added at least this share of a page (or created it) is one of its authors; others edited it
AUTHOR_SHARE = 0.2


@dataclass
class AuthorStats:
    name: str
    email: str = ""
    added: int = 0
    edits: int = 0
    first: datetime | None = None
    last: datetime | None = None


@dataclass
class PageHistory:
    authors: dict[str, AuthorStats] = field(default_factory=dict)  # by e-mail, else name
    created: datetime | None = None
    updated: datetime | None = None

    def add(self, name: str, email: str, at: datetime, added: int) -> None:
        key = (email or name).lower()
        a = self.authors.get(key)
        if a is None:
            a = self.authors[key] = AuthorStats(name, email.lower())
        a.added += max(added, 0)
        a.edits += 1
        a.first = at if a.first is None or at < a.first else a.first
        a.last = at if a.last is None or at > a.last else a.last
        self.created = at if self.created is None or at < self.created else self.created
        self.updated = at if self.updated is None or at > self.updated else self.updated

    def merge_older(self, older: PageHistory) -> None:
        """Add the stats of an earlier stretch of the page's history (names stay the newest)."""
        for key, o in older.authors.items():
            a = self.authors.get(key)
            if a is None:
                self.authors[key] = AuthorStats(o.name, o.email, o.added, o.edits, o.first, o.last)
                continue
            a.added += o.added
            a.edits += o.edits
            a.first = min(filter(None, (a.first, o.first)), default=None)
            a.last = max(filter(None, (a.last, o.last)), default=None)
        self._dates()

    def _dates(self) -> None:
        firsts = [a.first for a in self.authors.values() if a.first]
        lasts = [a.last for a in self.authors.values() if a.last]
        self.created = min(firsts) if firsts else None
        self.updated = max(lasts) if lasts else None

    def to_json(self) -> list[list[object]]:
        """A compact form for a source's saved state: one row per author."""
        return [[a.name, a.email, a.added, a.edits, _iso(a.first), _iso(a.last)] for a in self.authors.values()]

    @classmethod
    def from_json(cls, rows: list[list[object]]) -> PageHistory:
        h = cls()
        for name, email, added, edits, first, last in rows:
            a = AuthorStats(str(name), str(email), int(added), int(edits),  # type: ignore[call-overload]
                            _time(first), _time(last))
            h.authors[(a.email or a.name).lower()] = a
        h._dates()
        return h

    def weights(self) -> dict[str, float]:
        """Each author's share of the page: mostly what they added, a little how often they edited.

        What was added says how much of the text a person wrote: a one-line typo fix in a
        300-line page is ~0.3% of it. Edits count a little (10%) so that someone who kept a
        page up to date through many small edits is not ignored. One writer and one typo
        fixer (one edit each) come out at about 0.95 and 0.05.
        """
        total_added = sum(a.added for a in self.authors.values())
        total_edits = sum(a.edits for a in self.authors.values()) or 1
        out = {}
        for key, a in self.authors.items():
            added_share = a.added / total_added if total_added else a.edits / total_edits
            out[key] = ADDED_SHARE_WEIGHT * added_share + (1 - ADDED_SHARE_WEIGHT) * a.edits / total_edits
        return out

    def contributions(self, source: str) -> list[Contribution]:
        """One contribution per person, strongest first; ``at`` is their last edit."""
        weights = self.weights()
        total_added = sum(a.added for a in self.authors.values()) or 1
        out = []
        for key, a in self.authors.items():
            wrote = a.added / total_added >= AUTHOR_SHARE or a.first == self.created
            person = Person(name=a.name or a.email.split("@")[0], emails=[a.email] if a.email else [],
                            handles=[f"{source}:{key}"])
            out.append(Contribution(person=person, role="author" if wrote else "editor",
                                    weight=round(weights[key], 4), at=a.last))
        out.sort(key=lambda c: -c.weight)
        return out


def _iso(t: datetime | None) -> str:
    return t.isoformat() if t else ""


def _time(s: object) -> datetime | None:
    return datetime.fromisoformat(str(s)) if s else None
