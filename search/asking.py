"""Whom to ask, live: the expert ranking re-ordered by fair routing (``search/routing.py``).

"Who knows" (the expert ranking) stays as it is; wherever whoknows suggests whom to *ask* (the
ask page's "who to ask" and its "Ask them" link, the knowledge-gap report, the "ask" links under
the experts panel and in the bookmarklet window) the same people are re-ordered: someone whose
profile says they are not taking questions (``available = false``) or who reached their
``weekly_cap`` is left out, each person's score is lowered by the questions routed to them in
the last week (``index/routed.py``: each "ask" link followed), and a qualified rising
contributor may come first. Profiles are ``[people.<who>]`` tables (``index/settings.py``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from index.models import Person
from index.people import PeopleResolver
from index.routed import RoutedLog
from index.rows import PersonRow
from index.settings import ProfileSettings, RoutingSettings
from index.store import Store

from .experts import Expert
from .permissions import LOCAL, Viewer
from .routing import RISING_ROLES, Availability, fair_order, is_rising

SUGGESTED = 3  # whoknows names three people to ask

ROUTING_NOTE = ("Whom to ask is spread fairly: people not taking questions, or asked as often as they "
                "allow this week, are left out, the ones asked less come first, and a rising contributor "
                "with nearly as much evidence may be suggested before the most established one. "
                "“Who knows” keeps the order of the evidence.")


class Profiles:
    """The configured ``[people.<who>]`` profiles, matched to the people of a store: ``<who>``
    is a person id, an e-mail, a handle (``source:user``, or the user alone) or a name, as the
    consent list (``[experts] exclude``) names people. Resolved once per generation."""

    def __init__(self, profiles: dict[str, ProfileSettings], aliases: dict[str, list[str]] | None = None):
        self.profiles = profiles
        self._resolver = PeopleResolver(aliases)
        self._cache: tuple[str, dict[str, ProfileSettings]] | None = None
        self._lock = threading.Lock()

    def by_person(self, store: Store) -> dict[str, ProfileSettings]:
        """Person id → profile for everyone in ``store`` a profile names."""
        if not self.profiles:
            return {}
        key = f"{store.path}:{store.path.stat().st_mtime_ns if store.path.exists() else 0}"
        with self._lock:
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
        found = self._match(store.all_people())
        with self._lock:
            self._cache = (key, found)
        return found

    def of(self, store: Store, person_id: str) -> ProfileSettings | None:
        return self.by_person(store).get(person_id)

    def _match(self, people: list[PersonRow]) -> dict[str, ProfileSettings]:
        by_key: dict[str, list[str]] = {}
        for p in people:
            names = {p.id, p.name, *p.emails, *p.handles,
                     *(h.split(":", 1)[1] for h in p.handles if ":" in h and not h.split(":", 1)[1].isdigit())}
            for n in names:
                by_key.setdefault(n.strip().lower(), []).append(p.id)
        out: dict[str, ProfileSettings] = {}
        for who, prof in self.profiles.items():
            person = Person(name=who, emails=[who] if "@" in who else [],
                            handles=[who] if ":" in who and "@" not in who else [])
            ids = [*by_key.get(who.lower(), []), self._resolver.resolve(person).id]
            for pid in ids:
                out.setdefault(pid, prof)
        return out


@dataclass
class AskSuggestion:
    """Someone to ask, and how: an e-mail with the question when their address is known, else
    their profile at the source, else their page here."""

    expert: Expert
    link: str
    asked_this_week: int = 0
    rising: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"person": self.expert.to_json()["person"], "link": self.link, "band": self.expert.band,
                "asked_this_week": self.asked_this_week, "rising": self.rising}


class AskRouter:
    """Fair routing over the people the expert model found."""

    def __init__(self, settings: RoutingSettings, profiles: Profiles, log: RoutedLog | None = None):
        self.settings, self.profiles, self.log = settings, profiles, log

    def availability(self, store: Store) -> Availability:
        """Who is not taking questions, who reached their weekly cap, and everyone's load."""
        profiles = self.profiles.by_person(store)
        load = self.log.loads() if self.log else {}
        capped = {pid for pid, p in profiles.items() if p.weekly_cap and load.get(pid, 0) >= p.weekly_cap}
        return Availability(frozenset(pid for pid, p in profiles.items() if not p.available),
                            frozenset(capped), {k: float(v) for k, v in load.items()})

    def rising(self, store: Store, person_ids: list[str], viewer: Viewer, now: datetime) -> set[str]:
        """Rising contributors among ``person_ids``, from the answers and pages ``viewer`` may see."""
        since = now - timedelta(days=self.settings.rising_days)
        recent: dict[str, int] = dict.fromkeys(person_ids, 0)
        total = dict(recent)
        for c in store.contributions_of(person_ids):
            if c.role in RISING_ROLES and c.at is not None and viewer.can_see(c.visible_to):
                total[c.person_id] += 1
                recent[c.person_id] += since <= c.at <= now
        return {pid for pid in person_ids if is_rising(recent[pid], total[pid], self.settings)}

    def whom_to_ask(self, store: Store, experts: list[Expert], query: str, viewer: Viewer = LOCAL,
                    n: int = SUGGESTED, now: datetime | None = None) -> list[AskSuggestion]:
        """``experts`` (the expert ranking, best first) re-ordered for asking, the first ``n``."""
        if not experts:
            return []
        now = now or datetime.now(UTC)
        avail = self.availability(store)
        by_id = {e.person.id: e for e in experts}
        top = [e.person.id for e in experts if not avail.excluded(e.person.id)][: self.settings.rising_depth]
        rising = self.rising(store, top, viewer, now) if self.settings.rising_margin > 0 else set()
        order = fair_order([(e.person.id, e.score) for e in experts], self.settings, avail, rising)[:n]
        links = ask_links(store, [pid for pid, _ in order], query)
        load = avail.load or {}
        return [AskSuggestion(by_id[pid], links[pid], int(load.get(pid, 0)), pid in rising) for pid, _ in order]

    def record(self, store: Store, person_ids: list[str], query: str, viewer_key: str) -> int:
        """A viewer followed "ask" links: each person is counted as asked, unless they are not
        taking questions (they are never suggested; a forged request does not count)."""
        unavailable = self.availability(store).unavailable
        known = {p.id for p in store.people_by_ids(person_ids)}
        wanted = [pid for pid in person_ids if pid in known and pid not in unavailable]
        if len(wanted) != len(person_ids):
            raise ValueError("only people whoknows suggested asking can be recorded as asked")
        return self.log.record(wanted, query, viewer_key) if self.log else 0


def ask_links(store: Store, person_ids: list[str], query: str) -> dict[str, str]:
    """Per person: a mailto: link with the question, else their profile at the source, else /people/<id>."""
    emails = store.emails_of(person_ids)
    urls = {p.id: p.profile_url for p in store.people_by_ids(person_ids)}
    subject = quote("Question: " + query[:120])
    out = {}
    for pid in person_ids:
        mail = next((e for e in emails.get(pid, []) if not e.endswith(".invalid")), "")
        url = urls.get(pid, "")
        out[pid] = (f"mailto:{mail}?subject={subject}&body={quote(query)}" if mail else
                    url if url.startswith(("https://", "http://")) else f"/people/{pid}")
    return out


def mailto_all(suggestions: list[AskSuggestion]) -> str:
    """One mailto: link to everyone suggested whose address is known ("Ask them"), else ''."""
    to = [s.link.split("?", 1) for s in suggestions if s.link.startswith("mailto:")]
    if not to:
        return ""
    return "mailto:" + ",".join(a[len("mailto:"):] for a, _ in to) + "?" + to[0][1]


def profile_json(p: ProfileSettings | None) -> dict[str, Any] | None:
    """A person's own profile as the API shows it (None: they have not set one)."""
    if p is None:
        return None
    return {"ask_me_about": p.ask_me_about, "available": p.available, "weekly_cap": p.weekly_cap}
