"""What the index holds and what the last runs did: for `whoknows status` and /api/status."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from index.generations import Home, NoIndex
from index.runs import RunLog
from index.schedule import next_runs
from index.settings import Settings


@dataclass
class IndexStatus:
    home: str
    generation: str | None
    counts: dict[str, int] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    next_runs: list[dict[str, str]] = field(default_factory=list)

    @property
    def running(self) -> dict[str, Any] | None:
        """The run in progress, with its progress and ETA, if one is."""
        return next((r for r in self.runs if r["status"] == "running"), None)

    @property
    def last_run(self) -> dict[str, Any] | None:
        return self.runs[0] if self.runs else None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["last_run"] = self.last_run
        d["running"] = self.running
        return d


def index_status(settings: Settings, runs: int = 10) -> IndexStatus:
    home = Home(settings.home)
    status = IndexStatus(home=str(home.path), generation=home.current())
    try:
        reader = home.open_reader()
    except NoIndex:
        reader = None
    if reader is not None:
        try:
            status.counts = reader.store.counts()
            by_source = reader.store.counts_by_source()
            status.failures = [asdict(f) for f in reader.store.failures()[:500]]
        finally:
            reader.close()
    else:
        by_source = {}
    for s in settings.sources:
        status.sources[s.name] = {"kind": s.kind, "path": s.path,
                                  **by_source.get(s.name, {"documents": 0, "chunks": 0})}
    status.next_runs = [{"at": t.isoformat(timespec="minutes"), "sources": job.label, "cron": job.cron}
                        for t, job in next_runs(settings)]
    if (home.path / "state.sqlite").exists():
        log = RunLog(home.path / "state.sqlite")
        try:
            status.runs = [r.to_json() for r in log.last(runs)]
        finally:
            log.close()
    return status
