"""When re-index runs are due, from ``[schedule] cron`` and each source's ``cron``.

Pure computation from the settings, shared by the scheduler (ingest/) and status (search/).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from croniter import croniter

from .settings import Settings


@dataclass
class Job:
    cron: str
    sources: list[str] | None  # None = every source without its own cron

    def next_after(self, t: datetime) -> datetime:
        return croniter(self.cron, t).get_next(datetime)  # type: ignore[no-any-return]

    @property
    def label(self) -> str:
        return ", ".join(self.sources) if self.sources else "all sources"


def jobs_for(settings: Settings) -> list[Job]:
    jobs: list[Job] = []
    own = [s for s in settings.sources if s.cron]
    if settings.schedule.cron:
        rest = [s.name for s in settings.sources if not s.cron]
        if rest:
            jobs.append(Job(settings.schedule.cron, rest if own else None))
    jobs += [Job(s.cron, [s.name]) for s in own]
    return jobs


def next_runs(settings: Settings, now: datetime | None = None) -> list[tuple[datetime, Job]]:
    now = now or datetime.now().astimezone()
    return sorted(((j.next_after(now), j) for j in jobs_for(settings)), key=lambda x: x[0])
