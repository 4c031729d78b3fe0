"""``whoknows mentors``: who to learn a topic from, with the receipts (like /api/mentors)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from index.settings import Settings

Verb = Callable[[str, Callable[[Settings, argparse.Namespace], int], str], argparse.ArgumentParser]


def cmd_mentors(settings: Settings, args: argparse.Namespace) -> int:
    from search.asking import Profiles
    from search.mentors import MentorFinder, for_topic

    from .cli import _searcher, _viewer

    finder = MentorFinder(_searcher(settings), Profiles(settings.profiles, settings.people))
    viewer = _viewer(settings, args)
    found = for_topic(finder, args.query, viewer, args.k) if args.topic else finder.find(args.query, viewer, args.k)
    if args.json:
        print(json.dumps({"query": args.query, "mentors": [m.to_json() for m in found]}, indent=2, ensure_ascii=False))
        return 0
    if not found:
        print(f"Nobody who knows {args.query!r} has shown they teach it yet "
              "(answers to others' questions, pages others built on, accepted answers to newcomers).")
    for i, m in enumerate(found, 1):
        lift = "; asks to be asked about this" if m.asks_to_be_asked else ""
        print(f"{i}. {m.expert.person.name}  [{m.expert.band} evidence]  {m.summary()}{lift}")
        for r in m.receipts:
            when = f" {r.at:%Y-%m-%d}" if r.at else ""
            print(f"     - {r.label}{when}: {r.title}  {r.url}")
    return 0


def add_parser(verb: Verb) -> None:
    sp = verb("mentors", cmd_mentors, "who to learn a topic from: people who know it and have taught it, "
              "with the receipts")
    sp.add_argument("query", help="a query, or with --topic a document tag")
    sp.add_argument("--topic", action="store_true", help="QUERY is a topic (document tag), as /api/mentors?topic=")
    sp.add_argument("--k", type=int, default=5, help="mentors to suggest (default 5)")
    sp.add_argument("--json", action="store_true", help="print JSON like /api/mentors")
    sp.add_argument("--as", dest="as_user", metavar="USER",
                    help="see only what USER may see (groups of their newest token)")
