"""Who is asking and what they may see. Every read in search/ takes a Viewer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from index.models import EVERYONE


@dataclass(frozen=True)
class Viewer:
    user: str
    groups: frozenset[str] = frozenset()
    sees_all: bool = False  # local mode: a single user who may see everything
    admin: bool = False

    def can_see(self, visible_to: Iterable[str]) -> bool:
        if self.sees_all:
            return True
        allowed = set(visible_to)
        return EVERYONE in allowed or bool(allowed & self.groups)

    @property
    def key(self) -> str:
        """Identifies what this viewer may see (for caches): same key, same visibility."""
        return "*" if self.sees_all else ",".join(sorted(self.groups | {EVERYONE}))


LOCAL = Viewer("local", sees_all=True, admin=True)
