"""A person's page: what they contribute to, where, and lately."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from index.rows import parse_time
from index.store import Store

from .experts import ROLE_LABELS
from .permissions import LOCAL, Viewer

HOW_INFERRED = (
    "whoknows suggests people from what they have written: pages they authored or edited "
    "(weighted by how much of the page is theirs), forum answers (accepted answers count "
    "most), questions and comments, with votes and recency. Nothing else about a person is "
    "used. People can ask an administrator to be left out of suggestions."
)


@dataclass
class ProfileContribution:
    doc_id: str
    title: str
    url: str
    source: str
    role: str
    at: datetime | None


@dataclass
class PersonProfile:
    id: str
    name: str
    profile_url: str
    counts: dict[str, int] = field(default_factory=dict)  # by role
    sources: dict[str, int] = field(default_factory=dict)  # contributions per source
    topics: list[tuple[str, int]] = field(default_factory=list)  # tags, most frequent first
    top_documents: list[ProfileContribution] = field(default_factory=list)
    recent: list[ProfileContribution] = field(default_factory=list)
    how_inferred: str = HOW_INFERRED

    def to_json(self) -> dict[str, Any]:
        def c(x: ProfileContribution) -> dict[str, Any]:
            return {"doc_id": x.doc_id, "title": x.title, "url": x.url, "source": x.source,
                    "role": x.role, "at": x.at.isoformat() if x.at else None}
        return {"id": self.id, "name": self.name, "profile_url": self.profile_url,
                "counts": self.counts, "sources": self.sources,
                "topics": [{"tag": t, "count": n} for t, n in self.topics],
                "top_documents": [c(x) for x in self.top_documents],
                "recent": [c(x) for x in self.recent], "how_inferred": self.how_inferred}


_ROLE_ORDER = {role: i for i, role in enumerate(ROLE_LABELS)}  # the strongest role first


def person_profile(store: Store, person_id: str, viewer: Viewer = LOCAL, limit: int = 10
                   ) -> PersonProfile | None:
    """A person's page from the contributions ``viewer`` may see; None when there are none
    (so a person known only from restricted documents is not revealed)."""
    row = store.db.execute("SELECT id, name, profile_url FROM people WHERE id = ?",
                           (person_id,)).fetchone()
    if row is None:
        return None
    prof = PersonProfile(row["id"], row["name"], row["profile_url"])
    rows = store.db.execute(
        "SELECT c.role, c.weight, c.at, d.id AS doc_id, d.title, d.url, d.source, d.tags, d.visible_to "
        "FROM contributions c JOIN documents d ON d.id = c.doc_id WHERE c.person_id = ?",
        (person_id,),
    ).fetchall()
    rows = [r for r in rows if viewer.can_see(json.loads(r["visible_to"]))]
    if not rows:
        return None
    roles: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    per_doc: dict[str, tuple[tuple[float, int], ProfileContribution]] = {}
    for r in rows:
        roles[r["role"]] += 1
        sources[r["source"]] += 1
        tags.update(json.loads(r["tags"]))
        pc = ProfileContribution(r["doc_id"], r["title"], r["url"], r["source"], r["role"],
                                 parse_time(r["at"]))
        strength = (r["weight"], -_ROLE_ORDER.get(r["role"], len(_ROLE_ORDER)))  # ties: accepted answer first
        if r["doc_id"] not in per_doc or strength > per_doc[r["doc_id"]][0]:
            per_doc[r["doc_id"]] = (strength, pc)
    prof.counts, prof.sources = dict(roles), dict(sources)
    prof.topics = tags.most_common(limit)
    docs = [pc for _, pc in per_doc.values()]
    prof.top_documents = [pc for _, pc in sorted(per_doc.values(), key=lambda x: x[0], reverse=True)][:limit]
    prof.recent = sorted((d for d in docs if d.at), key=lambda d: d.at, reverse=True)[:limit]  # type: ignore[arg-type, return-value]
    return prof
