"""What the store hands back: typed rows, and the conversions between stored values and Python ones."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")
IN_BATCH = 500  # ids per ``IN (...)``: far below any SQLite build's cap on ``?`` marks (999 in old builds)


def iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def parse_time(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def julian_day(t: datetime) -> float:
    """The julian day of ``t``, as SQLite's julianday()."""
    return t.timestamp() / 86400 + 2440587.5


def in_batches(values: Sequence[T], size: int = IN_BATCH) -> Iterator[tuple[Sequence[T], str]]:
    """``values`` in parts small enough for one SQL ``IN (...)``, each with its ``?`` marks."""
    for start in range(0, len(values), size):
        part = values[start : start + size]
        yield part, ",".join("?" * len(part))


def blobs_by_chunk(db: sqlite3.Connection, table: str, column: str, chunk_ids: Sequence[int]) -> dict[int, bytes]:
    """``column`` of ``table``'s rows by chunk id (none when the store predates the table)."""
    out: dict[int, bytes] = {}
    try:
        for part, marks in in_batches(chunk_ids):
            out.update(db.execute(f"SELECT chunk_id, {column} FROM {table} WHERE chunk_id IN ({marks})",
                                  part).fetchall())
    except sqlite3.OperationalError as e:
        if "no such table" not in str(e):
            raise
    return out


def pace_table(paces: Mapping[str, float] | None) -> tuple[list[tuple[str | None, float | None]], str, list]:
    """A VALUES list of (source, half-life in days) for SQL; one NULL row when there are none."""
    pace: list[tuple[str | None, float | None]] = list((paces or {}).items()) or [(None, None)]
    return pace, ",".join("(?, ?)" for _ in pace), [x for row in pace for x in row]


def json_list(s: str) -> list[str]:
    """A stored JSON list (tags, groups): few distinct values, parsed once each."""
    return list(_parse_list(s))


@lru_cache(maxsize=4096)
def _parse_list(s: str) -> tuple[str, ...]:
    return tuple(json.loads(s))


@dataclass
class ChunkHit:
    """A stored chunk with the document fields search needs."""

    id: int
    doc_id: str
    position: int
    text: str
    heading: str
    anchor: str
    author_id: str
    title: str
    url: str
    source: str
    kind: str
    updated_at: datetime | None
    visible_to: list[str]
    section: int = 0
    tags: list[str] = field(default_factory=list)


@dataclass
class ContributionRow:
    """A stored contribution, as expert attribution reads it."""

    doc_id: str
    person_id: str
    role: str
    weight: float
    at: datetime | None
    section: int | None
    score: int | None
    visible_to: list[str] = field(default_factory=lambda: ["everyone"])
    source: str = ""


@dataclass
class PersonRow:
    id: str
    name: str
    profile_url: str = ""
    handles: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)


@dataclass
class ContributionCount:
    """How often a person played a role in one source's documents."""

    person_id: str
    source: str
    role: str
    count: int


@dataclass
class KnowledgeRow:
    """A contribution with its document's title and link (what recognition counts and cites)."""

    doc_id: str
    person_id: str
    role: str
    at: datetime | None
    section: int | None
    score: int | None
    title: str
    url: str
