"""The store's reads of people and their contributions: who contributed to what, in which role,
when, and how active each person has been lately (the expert finder's evidence and prior)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from .filters import ChunkFilter, filter_sql
from .rows import (
    ContributionCount,
    ContributionRow,
    KnowledgeRow,
    PersonRow,
    in_batches,
    json_list,
    julian_day,
    pace_table,
    parse_time,
)

# a document's audience (visible_to) and source, None for a document not in the index
DocumentFacts = Callable[[str], tuple[list[str], str] | None]


class PeopleReads:
    """Mixed into ``Store``, which gives it a connection (``db``), transactions and meta values."""

    @property
    def db(self) -> sqlite3.Connection:
        raise NotImplementedError

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def set_meta(self, key: str, value: Any) -> None:
        raise NotImplementedError

    def meta(self, key: str, default: Any = None) -> Any:
        raise NotImplementedError

    def contributions_to(self, doc_ids: list[str], documents: DocumentFacts | None = None
                         ) -> list[ContributionRow]:
        """The contributions to ``doc_ids``. ``documents``: each document's audience and
        source when the caller holds them in memory (the generation's ``DocMap``), so the
        rows are read without joining ``documents`` (half the time at a million chunks); a
        row of a document it does not know is left out, as the join would leave it."""
        return self._contributions("doc_id", doc_ids, documents)

    def contributions_of(self, person_ids: list[str]) -> list[ContributionRow]:
        return self._contributions("person_id", person_ids)

    def _contributions(self, column: str, values: list[str], documents: DocumentFacts | None = None
                       ) -> list[ContributionRow]:
        fields = "c.doc_id, c.person_id, c.role, c.weight, c.at, c.section, c.score"
        sql = (f"SELECT {fields}, d.visible_to, d.source FROM contributions c JOIN documents d ON d.id = c.doc_id"
               if documents is None else f"SELECT {fields} FROM contributions c")
        out: list[ContributionRow] = []
        for part, marks in in_batches(values):
            for r in self.db.execute(f"{sql} WHERE c.{column} IN ({marks})", part):
                facts = (json_list(r[7]), r[8]) if documents is None else documents(r[0])
                if facts is not None:
                    out.append(ContributionRow(r[0], r[1], r[2], r[3], parse_time(r[4]), r[5], r[6], *facts))
        return out

    def post_times(self, roles: tuple[str, ...], limit: int) -> dict[str, list[datetime]]:
        """The times of each source's latest ``limit`` dated contributions in ``roles``, newest first."""
        out: dict[str, list[datetime]] = {}
        rows = self.db.execute(
            "SELECT source, at FROM (SELECT d.source AS source, c.at AS at, ROW_NUMBER() OVER "
            "(PARTITION BY d.source ORDER BY julianday(c.at) DESC) AS n FROM contributions c "
            f"JOIN documents d ON d.id = c.doc_id WHERE c.at IS NOT NULL AND c.role IN ({','.join('?' * len(roles))})) "
            "WHERE n <= ? ORDER BY source, n", [*roles, limit])
        for source, at in rows:
            out.setdefault(source, []).append(datetime.fromisoformat(at))
        return out

    def refresh_activity(self, half_life_days: float, now: datetime, paces: Mapping[str, float] | None = None
                         ) -> None:
        """Precompute ``activity_of`` for every person as of ``now`` (once per generation), per source.

        Decay is a common factor: a sum of 0.5 ** (age / half-life) as of ``now`` times
        0.5 ** (time since / half-life) is the sum at a later moment, so a search only scales
        the stored sums (each source's by its own half-life, ``paces``). Undated contributions,
        and those dated after ``now``, count 1.
        """
        pace, _, args = pace_table(paces)
        values = ",".join(f"(?{3 + 2 * i}, ?{4 + 2 * i})" for i in range(len(pace)))  # after ?1 and ?2
        self.begin()
        self.db.execute("DELETE FROM person_source_activity")
        jd = julian_day(now)
        self.db.execute(
            f"WITH pace(source, hl) AS (VALUES {values}) "
            "INSERT INTO person_source_activity(person_id, role, visible_to, source, dated, flat) "
            "SELECT c.person_id, c.role, d.visible_to, d.source, total(CASE WHEN julianday(c.at) <= ?1 "
            "THEN pow(0.5, (?1 - julianday(c.at)) / coalesce(p.hl, ?2)) END), "
            "total(CASE WHEN c.at IS NULL OR NOT julianday(c.at) <= ?1 THEN 1.0 END) "
            "FROM contributions c JOIN documents d ON d.id = c.doc_id LEFT JOIN pace p ON p.source = d.source "
            "WHERE coalesce(p.hl, ?2) > 0 GROUP BY c.person_id, c.role, d.visible_to, d.source",
            [jd, half_life_days, *args])
        self.set_meta("activity", {"half_life_days": half_life_days, "julian_day": jd,
                                   "paces": dict(paces or {}), "by_source": True})
        self.commit()

    def activity_current(self, half_life_days: float, paces: Mapping[str, float] | None = None) -> bool:
        """Whether the stored activity sums (``refresh_activity``) were made with these
        half-lives and still hold: no contribution is dated after the moment they were
        computed for (until then such a one counts 1, not its decayed weight)."""
        saved = self.meta("activity", None)
        if not (isinstance(saved, dict) and saved.get("by_source") and saved.get("half_life_days") == half_life_days
                and saved.get("paces") == dict(paces or {})):
            return False
        later = self.db.execute("SELECT 1 FROM contributions WHERE julianday(at) > ? LIMIT 1",
                                (float(saved["julian_day"]),)).fetchone()
        return later is None

    def activity_of(self, person_ids: list[str], half_life_days: float, now: datetime,
                    paces: Mapping[str, float] | None = None) -> list[tuple[str, str, list[str], float]]:
        """(person, role, visible_to, recency-weighted count) per person, role and audience: a
        contribution counts 0.5 ** (age in days / half-life); undated ones (or half-life 0)
        count 1. ``paces`` gives a source its own half-life in days. From ``person_source_activity``
        when it was made with these half-lives, else summed here."""
        saved = self.meta("activity", None)
        paces = dict(paces or {})
        if not (isinstance(saved, dict) and saved.get("by_source") and half_life_days > 0
                and saved.get("half_life_days") == half_life_days and saved.get("paces") == paces):
            return self._activity_now(person_ids, half_life_days, now, paces)
        since = julian_day(now) - float(saved["julian_day"])
        sums: dict[tuple[str, str, str], float] = {}
        for part, marks in in_batches(person_ids):
            for pid, role, visible_to, source, dated, flat in self.db.execute(
                "SELECT person_id, role, visible_to, source, dated, flat FROM person_source_activity "
                f"WHERE person_id IN ({marks})", part):
                key = (pid, role, visible_to)
                scale = 0.5 ** (since / paces.get(source, half_life_days))
                sums[key] = sums.get(key, 0.0) + float(dated) * scale + float(flat)
        return [(pid, role, json_list(vis), n) for (pid, role, vis), n in sums.items()]

    def _activity_now(self, person_ids: list[str], half_life_days: float, now: datetime,
                      paces: Mapping[str, float]) -> list[tuple[str, str, list[str], float]]:
        out: list[tuple[str, str, list[str], float]] = []
        _, values, args = pace_table(paces)
        for part, marks in in_batches(person_ids):
            rows = self.db.execute(
                f"WITH pace(source, hl) AS (VALUES {values}) "
                "SELECT c.person_id, c.role, d.visible_to, sum(CASE WHEN c.at IS NULL OR coalesce(p.hl, ?) <= 0 "
                "THEN 1.0 ELSE pow(0.5, max(0.0, ? - julianday(c.at)) / coalesce(p.hl, ?)) END) "
                "FROM contributions c JOIN documents d ON d.id = c.doc_id LEFT JOIN pace p ON p.source = d.source "
                f"WHERE c.person_id IN ({marks}) GROUP BY c.person_id, c.role, d.visible_to",
                [*args, half_life_days, julian_day(now), half_life_days or 1.0, *part])
            out.extend((r[0], r[1], json_list(r[2]), float(r[3])) for r in rows)
        return out

    def authors_of(self, doc_ids: list[str]) -> dict[str, list[PersonRow]]:
        """People per document, strongest contributors first."""
        out: dict[str, list[PersonRow]] = {d: [] for d in doc_ids}
        if doc_ids:
            for doc_id, pid, name, url in self.author_rows(doc_ids):
                out[doc_id].append(PersonRow(pid, name, url))
        return out

    def author_rows(self, doc_ids: list[str] | None = None) -> list[tuple[str, str, str, str]]:
        """(document, person id, name, profile URL) of ``doc_ids`` (None: every document),
        grouped per document, its strongest contributors first."""
        cur = self.db.cursor()
        cur.row_factory = None  # plain tuples: every contribution when doc_ids is None
        sql = ("SELECT c.doc_id, p.id, p.name, p.profile_url, sum(c.weight) AS w FROM contributions c "
               "JOIN people p ON p.id = c.person_id {where}GROUP BY c.doc_id, p.id ORDER BY c.doc_id, w DESC, p.name")
        if doc_ids is None:
            return [r[:4] for r in cur.execute(sql.format(where=""))]
        return [r[:4] for part, marks in in_batches(doc_ids)
                for r in cur.execute(sql.format(where=f"WHERE c.doc_id IN ({marks}) "), part)]

    def emails_of(self, ids: list[str]) -> dict[str, list[str]]:
        return {r[0]: json.loads(r[1]) for part, marks in in_batches(ids) for r in self.db.execute(
            f"SELECT id, emails FROM people WHERE id IN ({marks})", part)}

    def people_by_ids(self, ids: list[str]) -> list[PersonRow]:
        return [PersonRow(r["id"], r["name"], r["profile_url"]) for part, marks in in_batches(ids)
                for r in self.db.execute(f"SELECT id, name, profile_url FROM people WHERE id IN ({marks})", part)]

    def all_people(self) -> list[PersonRow]:
        """Everyone with their handles and e-mails."""
        return [PersonRow(r["id"], r["name"], r["profile_url"], json.loads(r["handles"]), json.loads(r["emails"]))
                for r in self.db.execute("SELECT * FROM people ORDER BY name, id")]

    def contribution_counts(self, groups: tuple[str, ...] | None = None) -> list[ContributionCount]:
        """Contributions per person, source and role, to documents visible to any of ``groups``
        (None: all documents)."""
        where, args = filter_sql(ChunkFilter(groups=groups))
        return [ContributionCount(*r) for r in self.db.execute(
            "SELECT c.person_id, d.source, c.role, count(*) FROM contributions c "
            f"JOIN documents d ON d.id = c.doc_id WHERE {where} GROUP BY c.person_id, d.source, c.role", args)]

    def topic_contributions(self, groups: tuple[str, ...] | None, roles: tuple[str, ...]
                            ) -> list[tuple[str, str, int]]:
        """(topic, person, documents) per document tag (lower case) and person: how many
        documents with that tag, visible to any of ``groups`` (None: all), the person
        contributed to in one of ``roles``."""
        where, args = filter_sql(ChunkFilter(groups=groups))
        return [(r[0], r[1], int(r[2])) for r in self.db.execute(
            "SELECT lower(t.value), c.person_id, count(DISTINCT c.doc_id) FROM contributions c "
            "JOIN documents d ON d.id = c.doc_id, json_each(d.tags) t "
            f"WHERE {where} AND c.role IN ({','.join('?' * len(roles))}) GROUP BY 1, 2",
            [*args, *roles])]

    def topic_documents(self, groups: tuple[str, ...] | None) -> list[tuple[str, int]]:
        """(topic, documents) per document tag (lower case), most documents first."""
        where, args = filter_sql(ChunkFilter(groups=groups))
        return [(r[0], int(r[1])) for r in self.db.execute(
            "SELECT lower(t.value), count(DISTINCT d.id) FROM documents d, json_each(d.tags) t "
            f"WHERE {where} GROUP BY 1 ORDER BY 2 DESC, 1", args)]

    def knowledge_rows(self, groups: tuple[str, ...] | None, roles: tuple[str, ...]) -> list[KnowledgeRow]:
        """Every contribution in ``roles`` to documents visible to any of ``groups`` (None:
        all), with the document's title and link: what recognition counts."""
        where, args = filter_sql(ChunkFilter(groups=groups))
        cur = self.db.cursor()
        cur.row_factory = None
        rows = cur.execute(
            "SELECT c.doc_id, c.person_id, c.role, c.at, c.section, c.score, d.title, d.url FROM contributions c "
            f"JOIN documents d ON d.id = c.doc_id WHERE {where} AND c.role IN ({','.join('?' * len(roles))})",
            [*args, *roles])
        return [KnowledgeRow(r[0], r[1], r[2], parse_time(r[3]), r[4], r[5], r[6], r[7]) for r in rows]
