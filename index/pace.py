"""A source's pace, so that recency can count in its posts rather than in days.

Stack Exchange sites differ tenfold in pace, so a half-life in days tuned on one does not
transfer; a half-life in posts does. A source's pace (days per post) is measured over its
latest posts and turns a half-life in posts into days, which the stored activity sums and
SQL use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from .store import Store

POST_ROLES = ("asker", "answerer", "author")  # contributions that are posts: they set a source's pace


def decay(at: datetime | None, now: datetime, half_life_days: float) -> float:
    """0.5 ** (days from ``at`` to ``now`` / half-life); 1 when undated or the half-life is 0."""
    if at is None or half_life_days <= 0:
        return 1.0
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    days = max(0.0, (now - at).total_seconds() / 86400)
    return 0.5 ** (days / half_life_days)


@dataclass(frozen=True)
class Clock:
    """A source's pace: the time of its latest post and the days per post lately."""

    last: datetime
    days_per_post: float

    def decay(self, at: datetime | None, half_life_posts: float, until: datetime | None = None) -> float:
        """Decay of what happened ``at``, by the posts (at this pace) until ``until``, default the latest post."""
        return decay(at, until or self.last, half_life_posts * self.days_per_post)


Clocks = Mapping[str, Clock]  # source -> its clock


def make_clock(times: list[datetime]) -> Clock | None:
    """A source's clock from the times of its latest posts; None without two distinct times."""
    if len(times) < 2:
        return None
    times = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in times]
    first, last = min(times), max(times)
    days = (last - first).total_seconds() / 86400
    return Clock(last, days / (len(times) - 1)) if days > 0 else None


def source_clocks(store: Store, pace_posts: int) -> dict[str, Clock]:
    """Each source's clock over its latest ``pace_posts`` posts (whoever may see them: a pace
    reveals no post)."""
    times = store.post_times(POST_ROLES, max(2, pace_posts))
    return {src: c for src, ts in times.items() if (c := make_clock(ts)) is not None}


def activity_paces(clocks: Clocks, half_life_posts: float) -> dict[str, float]:
    """Each source's activity half-life in days: ``half_life_posts`` at its pace (none when 0)."""
    return {src: half_life_posts * c.days_per_post for src, c in clocks.items()} if half_life_posts > 0 else {}
