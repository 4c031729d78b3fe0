"""Identity resolution: one stable id per person across sources.

Ids are derived from the strongest key known for a person (an alias-table entry, then an
e-mail, then a source handle, then the name), so they are stable across runs and across
generations without a lookup table.
"""

from __future__ import annotations

import hashlib

from .models import Person


def _key_id(key: str) -> str:
    return "p" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:11]


def _variants(key: str) -> tuple[str, ...]:
    """A key and, for a "source:native" handle, its native part alone: an alias may name a
    username without its source. Numeric user ids are not unique across sources, so those
    match only with the source prefix ("cardano:17", never "17")."""
    native = key.split(":", 1)[-1]
    if native == key or native.strip().isdigit():
        return (key,)
    return (key, native)


class PeopleResolver:
    """Assigns ``Person.id`` using the configured alias table ``{display name: [keys]}``."""

    def __init__(self, aliases: dict[str, list[str]] | None = None):
        self._alias: dict[str, str] = {}
        for display, keys in (aliases or {}).items():
            for k in [display, *keys]:
                self._alias[k.strip().lower()] = display

    def canonical(self, person: Person) -> tuple[str, str]:
        """(key, display name) for a person."""
        candidates = [*person.emails, *person.handles, person.name]
        for c in candidates:
            for variant in _variants(c):
                display = self._alias.get(variant.strip().lower())
                if display:
                    return f"alias:{display.lower()}", display
        if person.emails:
            return f"email:{person.emails[0].strip().lower()}", person.name
        if person.handles:
            return f"handle:{person.handles[0]}", person.name
        return f"name:{person.name.strip().lower()}", person.name

    def resolve(self, person: Person) -> Person:
        key, display = self.canonical(person)
        person.id = _key_id(key)
        person.name = display or person.name or "unknown"
        return person
