"""Who is asking and what they may see. Every read in search/ takes a Viewer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from index.filters import ChunkFilter
from index.models import EVERYONE, USER_PREFIX, user_entry


@dataclass(frozen=True)
class Viewer:
    user: str
    groups: frozenset[str] = frozenset()
    sees_all: bool = False  # local mode: a single user who may see everything
    admin: bool = False

    @property
    def audience(self) -> frozenset[str]:
        """The ``visible_to`` entries that admit this viewer: everyone, their groups, and
        ``user:<their user name>`` (documents shared with named people, e.g. a private chat
        channel's members). A group that merely looks like a user entry admits no one."""
        groups = {g for g in self.groups if not g.startswith(USER_PREFIX)}
        return frozenset(groups | {EVERYONE, user_entry(self.user)})

    def can_see(self, visible_to: Iterable[str]) -> bool:
        if self.sees_all:
            return True
        return bool(set(visible_to) & self.audience)

    def restrict(self, flt: ChunkFilter | None = None) -> ChunkFilter:
        """``flt`` limited to what this viewer may see (inside retrieval, not afterwards)."""
        flt = flt or ChunkFilter()
        if self.sees_all:
            return flt
        return replace(flt, groups=tuple(sorted(self.audience)))

    @property
    def key(self) -> str:
        """Identifies what this viewer may see (for caches): same key, same visibility."""
        return "*" if self.sees_all else ",".join(sorted(self.audience))


LOCAL = Viewer("local", sees_all=True, admin=True)
