"""The period recognition counts over: asked for (since, until) or chosen from the activity
the viewer may see, so an old dump still shows its last busy stretch instead of an empty page."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from index.settings import RecognitionSettings


class PeriodError(ValueError):
    """A period that cannot be, e.g. one that ends before it starts."""


def aware(t: datetime) -> datetime:
    """``t`` with a time zone (a source that gave none meant UTC)."""
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    since: date
    until: date  # inclusive
    why: str = ""  # how it was chosen when it was not asked for

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(), UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the period (the day after ``until``)."""
        return datetime.combine(self.until + timedelta(days=1), time(), UTC)

    def holds(self, t: datetime | None) -> bool:
        return t is not None and self.start <= aware(t) < self.end

    def earlier(self, n: int) -> Period:
        """The ``n``-th period of the same length before this one."""
        shift = timedelta(days=self.days * n)
        return Period(self.since - shift, self.until - shift)

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "days": self.days,
                "why": self.why}


def choose_period(since: date | None, until: date | None, today: date, activity: Iterable[datetime],
                  p: RecognitionSettings) -> Period:
    """The period asked for, completed to ``p.period_days`` when one end is missing; with
    neither, the latest ``period_days`` holding at least ``p.busy_min`` of ``activity``
    (what the viewer may see: accepted or voted answers, opens and votes, or any contribution
    when those are too few), ending today when the last days do."""
    span = timedelta(days=max(1, p.period_days) - 1)
    if since and until:
        if since > until:
            raise PeriodError(f"since ({since}) is after until ({until})")
        return Period(since, until)
    if since:
        return Period(since, max(since, today))
    if until:
        return Period(until - span, until)
    days = sorted(aware(t).date() for t in activity)
    recent = Period(today - span, today, f"the last {p.period_days} days")
    if not days or bisect_right(days, today) - bisect_left(days, today - span) >= p.busy_min:
        return recent
    for end in sorted(set(days), reverse=True):
        if end <= today and bisect_right(days, end) - bisect_left(days, end - span) >= p.busy_min:
            return Period(end - span, end, f"the latest {p.period_days} days with at least {p.busy_min} "
                          f"accepted or voted answers, opens or votes: fewer fell in the last {p.period_days} days")
    end = min(days[-1], today)
    return Period(end - span, end, f"the {p.period_days} days up to the latest activity: fewer than "
                  f"{p.busy_min} accepted or voted answers, opens or votes fell in any {p.period_days} days")
