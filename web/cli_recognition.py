"""``whoknows recognition``: who shared useful knowledge in a period, rising contributors and
first contributions, as /api/recognition (split from ``web/cli.py``)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import TYPE_CHECKING

from index.settings import Settings

from .cli_eval import Verb

if TYPE_CHECKING:
    from search.recognition import RecognitionReport


def cmd_recognition(settings: Settings, args: argparse.Namespace) -> int:
    from index.feedback import FeedbackLog
    from index.generations import Home
    from search.experts import ExpertFinder
    from search.recognition import Recognition
    from search.recognition_period import PeriodError

    from .cli import _searcher, _viewer

    viewer = _viewer(settings, args)
    recognition = Recognition(settings.recognition, FeedbackLog(settings.home / "state.sqlite"),
                              ExpertFinder(settings.experts, settings.people).excluded)
    try:
        if args.topic:  # the topic's documents come from search: this loads the model
            report: RecognitionReport = recognition.for_search(_searcher(settings), viewer, args.since,
                                                               args.until, args.topic)
        else:
            reader = Home(settings.home).open_reader()
            try:
                report = recognition.report(reader, viewer, args.since, args.until)
            finally:
                reader.close()
    except PeriodError as e:
        print(f"whoknows: {e}", file=sys.stderr)
        return 2
    if args.csv:
        sys.stdout.write(report.to_csv())
    elif args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        _print(report, args.limit)
    return 0


def _print(report: RecognitionReport, limit: int) -> None:
    p = report.period
    print(f"{p.since} to {p.until} ({p.days} days{': ' + p.why if p.why else ''})"
          + (f", topic {report.topic!r} ({report.topic_documents} documents)" if report.topic else ""))
    print("\nWho shared the most useful knowledge (useful: accepted, voted answers; documents opened, opens, up votes)")
    for s in report.sharers[:limit]:
        print(f"{s.useful:5}  {s.person.name}  (accepted {s.accepted}, voted {s.voted}; "
              f"opened {s.documents_opened}, opens {s.opens}, up votes {s.up_votes})")
        for x in s.receipts[:3]:
            print(f"         - {x.title}  {x.url}")
    print("\nRising contributors (answers and pages in the period; in each earlier period)")
    for r in report.rising[:limit]:
        growth = "back after a pause" if r.growth is None else f"{r.growth:.1f}x"
        print(f"{r.contributions:5}  {r.person.name}  ({', '.join(map(str, r.earlier))}; {growth})")
    print("\nFirst contributions")
    for n in report.newcomers[:limit]:
        when = f"{n.first.at:%Y-%m-%d}" if n.first.at else ""
        print(f"  {when}  {n.person.name}: {n.first.role} in {n.first.title}")


def add_parser(verb: Verb) -> None:
    sp = verb("recognition", cmd_recognition, "who shared useful knowledge in a period, rising contributors "
              "and first contributions, as /api/recognition")
    sp.add_argument("--since", type=date.fromisoformat, help="first day, YYYY-MM-DD (default: see --until)")
    sp.add_argument("--until", type=date.fromisoformat,
                    help="last day, YYYY-MM-DD (default: the latest [recognition] period_days with activity)")
    sp.add_argument("--topic", default="", help="only contributions about this topic (loads the model)")
    sp.add_argument("--limit", type=int, default=20, help="people per list in the text output (default 20)")
    out = sp.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON like /api/recognition")
    out.add_argument("--csv", action="store_true", help="print CSV like /api/recognition.csv")
    sp.add_argument("--as", dest="as_user", metavar="USER",
                    help="see only what USER may see (groups of their newest token)")
