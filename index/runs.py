"""Run records: what each ingest did, and a running run's progress, in ``state.sqlite``.

Kept outside the generations so a failed or killed run is recorded too.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .migrations import connect_state


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class SourceRun:
    """What one run did to one source."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks_embedded: int = 0
    chunks_cached: int = 0
    seconds: float = 0.0
    error: str = ""


@dataclass
class RunRecord:
    id: int = 0
    started_at: str = ""
    finished_at: str = ""
    status: str = "running"  # running | ok | failed | killed
    generation: str = ""  # the one published, or the current one kept when nothing changed
    changed: bool = True  # False: the sources held nothing new and no generation was published
    sources: dict[str, SourceRun] = field(default_factory=dict)
    chunks_embedded: int = 0
    sentences_embedded: int = 0  # with [search] sentence_weight on (index/sentences.py)
    seconds: float = 0.0
    error: str = ""
    executor: str = "local"  # where chunks were encoded: local (this process) or ray
    workers: int = 1  # encoder workers (Ray actors) the run used
    workers_restarted: int = 0  # Ray actors restarted after their worker died (their work retried)
    progress: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        data = json.loads(row["record"] or "{}")
        sources = {k: SourceRun(**v) for k, v in data.get("sources", {}).items()}
        rec = cls(
            id=row["id"], started_at=row["started_at"], finished_at=row["finished_at"] or "",
            status=row["status"], generation=row["generation"] or "", sources=sources,
            chunks_embedded=data.get("chunks_embedded", 0),
            sentences_embedded=data.get("sentences_embedded", 0), seconds=data.get("seconds", 0.0),
            error=data.get("error", ""), progress=data.get("progress", {}), changed=data.get("changed", True),
            executor=data.get("executor", "local"), workers=data.get("workers", 1),
            workers_restarted=data.get("workers_restarted", 0),
        )
        if rec.status == "running" and row["pid"] and not _alive(row["pid"]):
            rec.status = "killed"
        return rec


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLog:
    def __init__(self, path: Path):
        self.db = connect_state(path, timeout=30)
        self.db.row_factory = sqlite3.Row

    def start(self) -> RunRecord:
        rec = RunRecord(started_at=now_iso())
        cur = self.db.execute(
            "INSERT INTO runs(started_at, status, pid, record) VALUES (?, 'running', ?, '{}')",
            (rec.started_at, os.getpid()),
        )
        rec.id = int(cur.lastrowid or 0)
        return rec

    def save(self, rec: RunRecord) -> None:
        payload = {k: v for k, v in rec.to_json().items()
                   if k not in ("id", "started_at", "finished_at", "status", "generation")}
        self.db.execute(
            "UPDATE runs SET finished_at=?, status=?, generation=?, record=? WHERE id=?",
            (rec.finished_at or None, rec.status, rec.generation or None, json.dumps(payload),
             rec.id),
        )

    def last(self, n: int = 10) -> list[RunRecord]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (n,))
        return [RunRecord.from_row(r) for r in rows]

    def close(self) -> None:
        self.db.close()
