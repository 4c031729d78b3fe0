"""Who is in the index: people (merged across sources) with what they contributed where."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from index.generations import Home
from index.rows import PersonRow
from index.settings import Settings

from .permissions import LOCAL, Viewer


@dataclass
class PersonSummary(PersonRow):
    """One person (id, name, profile link, handles, e-mails) with contribution counts per
    source and role."""

    contributions: int = 0
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)  # source → role → count

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def sources(self) -> list[str]:
        return sorted(self.by_source)


def list_people(settings: Settings, source: str | None = None, viewer: Viewer = LOCAL) -> list[PersonSummary]:
    """Everyone in the live index, most contributions first. Raises ``NoIndex`` before the first ingest.

    Args:
        source: only people who contributed to this source (their other sources are still listed).
        viewer: count only contributions to documents they may see; someone with none is not listed.
    """
    reader = Home(settings.home).open_reader()
    try:
        people = {p.id: PersonSummary(p.id, p.name, p.profile_url, p.handles, p.emails)
                  for p in reader.store.all_people()}
        for c in reader.store.contribution_counts(viewer.restrict().groups):
            person = people.get(c.person_id)
            if person is None:
                continue
            person.by_source.setdefault(c.source, {})[c.role] = c.count
            person.contributions += c.count
    finally:
        reader.close()
    found = [p for p in people.values() if p.contributions and (source is None or source in p.by_source)]
    return sorted(found, key=lambda p: (-p.contributions, p.name.lower(), p.id))
