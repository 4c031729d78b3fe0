"""The `whoknows` command line. Each verb parses its flags and calls one function."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

from index.settings import ConfigError, Settings, load_settings

from . import cli_admin, cli_eval, cli_mentors, cli_recognition

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _embedder(settings: Settings, query: bool = False) -> Any:
    from index.embedding import load_embedder, load_query_embedder

    return load_query_embedder(settings.embedding) if query else load_embedder(settings.embedding)


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from ingest.pipeline import IngestOptions, run_ingest

    opts = IngestOptions(only=args.source or None, allow_mass_delete=args.allow_mass_delete,
                         full=args.full, progress=not args.json and not args.quiet)
    address = getattr(args, "ray", None) or settings.ray.address
    if address:  # before anything is loaded or written: a missing extra fails here
        from ingest.ray_executor import require_ray

        require_ray()
    embedder = _embedder(settings)
    if address:
        from ingest.ray_executor import encoder_factory, ray_embedder

        embedder = ray_embedder(embedder, encoder_factory(settings), settings.ray, address, settings)
        opts.embed_batch = max(opts.embed_batch, 4 * embedder.workers * settings.ray.batch_size)
    try:
        record = run_ingest(settings, embedder, opts)
    finally:
        if address:
            embedder.close()
    if args.json:
        print(json.dumps(record.to_json(), indent=2))
    else:
        kept = "" if record.changed else " kept (no changes)"
        print(f"run {record.id}: {record.status} in {record.seconds:.1f}s, generation "
              f"{record.generation}{kept}, {record.chunks_embedded} chunks embedded"
              + (f", {record.sentences_embedded} sentences" if record.sentences_embedded else ""))
        for name, s in record.sources.items():
            line = (f"  {name}: +{s.added} ~{s.updated} -{s.deleted} ={s.unchanged} "
                    f"failed {s.failed}, {s.chunks_embedded} chunks embedded")
            print(line + (f"  ERROR {s.error}" if s.error else ""))
    return 0 if record.status == "ok" else 1


def _filter(args: argparse.Namespace) -> Any:
    from index.filters import ChunkFilter

    return ChunkFilter.build(sources=args.source, kinds=args.kind, authors=args.author,
                             tags=args.tag, since=args.since, until=args.until)


def _searcher(settings: Settings) -> Any:
    from index.generations import Home, LiveIndex
    from search.experts import ExpertFinder
    from search.searcher import Searcher

    return Searcher(LiveIndex(Home(settings.home)), _embedder(settings, query=True), settings.search,
                    ExpertFinder(settings.experts, settings.people))


def _viewer(settings: Settings, args: argparse.Namespace) -> Any:
    """Everything for the local user; with --as USER, what USER's newest token may see."""
    from search.permissions import LOCAL, Viewer

    user = getattr(args, "as_user", None)
    if not user:
        return LOCAL
    from index.tokens import TokenStore

    owners = [t for t in TokenStore(settings.home / "state.sqlite").list() if t.user == user and not t.revoked]
    if not owners:
        raise SystemExit(f"whoknows: no active token for user {user!r} (whoknows token create --user ...)")
    groups = frozenset(owners[-1].groups)
    return Viewer(user, groups, admin=settings.auth.admin_group in groups)


def cmd_experts(settings: Settings, args: argparse.Namespace) -> int:
    from search.experts import NOBODY

    experts = _searcher(settings).experts(args.query, k=args.k, viewer=_viewer(settings, args))
    if args.json:
        print(json.dumps({"query": args.query, "experts": [e.to_json() for e in experts]},
                         indent=2, ensure_ascii=False))
        return 0
    if not experts:
        print(f"{NOBODY} (for {args.query!r}; nobody has a receipt on it). "
              f"Ask it instead: whoknows ask {shlex.quote(args.query)}")
    for i, e in enumerate(experts, 1):
        print(f"{i}. {e.person.name}  [{e.band} evidence, {e.strength:.2f}]  {e.reason}")
        for ev in e.evidence:
            when = f" {ev.at:%Y-%m-%d}" if ev.at else ""
            print(f"     - {ev.role}{when}: {ev.title}  {ev.url}")
    return 0


def _answerer(settings: Settings) -> Any:
    from index.gaps import GapLog
    from search.answers import Answerer
    from search.llm import ChatClient

    llm = ChatClient(settings.llm) if settings.llm.base_url else None
    return Answerer(_searcher(settings), settings.answers, GapLog(settings.home / "state.sqlite"), llm)


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    ans = _answerer(settings).ask(args.question, _viewer(settings, args))
    if args.json:
        print(json.dumps(ans.to_json(), indent=2, ensure_ascii=False))
        return 0
    if ans.asked_before:
        ab = ans.asked_before
        print(f"Asked before: {ab.title}  {ab.url}\n")
        print(ab.answer)
        print(f"\n  — {'accepted answer' if ab.accepted else 'top answer'} by {ab.author}"
              + (f", {ab.at:%Y-%m-%d}" if ab.at else ""))
    elif ans.confident:
        print(ans.answer)
    else:
        print("No confident answer." + (f" Closest: {ans.answer}" if ans.answer else ""))
    for c in ans.citations:
        print(f"  [{c.n}] {c.title}  {c.url}" + (f"  ({c.author})" if c.author else ""))
    if ans.experts:
        print("Who to ask: " + "; ".join(f"{e.person.name} ({e.reason})" for e in ans.experts[:3]))
    if ans.ask_link:
        print(f"Ask them: {ans.ask_link}")
    return 0


def cmd_feedback(settings: Settings, args: argparse.Namespace) -> int:
    from index.feedback import FeedbackLog
    from index.generations import Home, LiveIndex
    from search.feedback_report import feedback_report

    log = FeedbackLog(settings.home / "state.sqlite", settings.feedback.retention_days)
    report = feedback_report(log, LiveIndex(Home(settings.home)), limit=args.limit)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return 0
    if report.empty:
        print("no votes or opens recorded yet")
    if report.down_voted:
        print("Most down-voted documents and answers (candidates for going stale):")
    for d in report.down_voted:
        print(f"  {d.down:4} down {d.up:4} up  {d.kind:<6}  {d.title or '(no longer indexed)'}  [{d.doc_id}]")
    if report.opened_not_helped:
        print("Queries with many opens and no up votes:")
    for q in report.opened_not_helped:
        print(f"  {q.opens:4} opens by {q.viewers} viewer(s), {q.down} down  {q.query}")
    return 0


def cmd_gaps(settings: Settings, args: argparse.Namespace) -> int:
    from index.gaps import GapLog
    from search.gaps import gap_report

    report = gap_report(GapLog(settings.home / "state.sqlite"), _searcher(settings), args.limit)
    if args.json:
        print(json.dumps({"gaps": [r.to_json() for r in report]}, indent=2, ensure_ascii=False))
        return 0
    if not report:
        print("no knowledge gaps recorded yet")
    for r in report:
        who = ", ".join(e.person.name for e in r.experts) or "nobody yet"
        print(f"{r.gap.count:4}x  {r.gap.query}  [{r.gap.kind}, last {r.gap.last_seen}]  ask: {who}")
    return 0


def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    if not args.query and not args.like:
        print("whoknows search: give a query, or --like DOC_ID", file=sys.stderr)
        return 2
    searcher = _searcher(settings)
    viewer = _viewer(settings, args)
    if args.like:
        results = searcher.similar(args.like, k=args.k, flt=_filter(args), viewer=viewer)
    else:
        results = searcher.search(args.query, k=args.k, page=args.page, flt=_filter(args), viewer=viewer)
    if args.json:
        print(json.dumps(results.to_json(), indent=2, ensure_ascii=False))
        return 0
    if not results.hits:
        print(f"no results for {results.query or args.like!r}")
    for i, h in enumerate(results.hits, start=(results.page - 1) * args.k + 1):
        authors = ", ".join(a.name for a in h.authors[:3])
        print(f"{i:2}. {h.title}  [{h.source}]  {h.score:.3f}")
        print(f"    {h.url or h.doc_id}" + (f"  by {authors}" if authors else ""))
        print(f"    {h.snippet}")
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from search.status import index_status

    st = index_status(settings)
    if args.json:
        print(json.dumps(st.to_json(), indent=2, default=str))
        return 0
    print(f"home: {st.home}\ngeneration: {st.generation or '(none: run whoknows ingest)'}")
    for k, v in st.counts.items():
        print(f"{k}: {v}")
    for name, s in st.sources.items():
        print(f"source {name} ({s['kind']}): {s['documents']} documents, {s['chunks']} chunks, "
              f"{s.get('failures', 0)} failures")
    for f in st.failures[:20]:
        print(f"  failed {f['source']}/{f['item']}: {f['reason']}")
    for r in st.runs[:5]:
        print(f"run #{r['id']} {r['status']} started {r['started_at']} ({r['seconds']}s, "
              f"{r['chunks_embedded']} chunks embedded, {r.get('sentences_embedded', 0)} sentences, "
              f"executor {r.get('executor', 'local')} x{r.get('workers', 1)}"
              + (f", {n} worker{'s' * (n != 1)} restarted" if (n := r.get("workers_restarted", 0)) else "")
              + ")"
              f"{' ' + r['error'] if r['error'] else ''}")
        if r["status"] == "running" and r["progress"]:
            p = r["progress"]
            eta = f", ETA {p['eta_s']:.0f}s" if p.get("eta_s") is not None else ""
            print(f"  in progress: {p['source']}, {p['documents']} documents, "
                  f"{p['chunks_per_s']} chunks/s, {p.get('sentences_embedded', 0)} sentences encoded{eta}")
    for n in st.next_runs:
        print(f"next run: {n['at']} ({n['sources']}, cron {n['cron']})")
    return 0


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from index.tokens import TokenStore

    tokens = TokenStore(settings.home / "state.sqlite")
    if args.action == "create":
        if not args.user:
            print("whoknows: token create needs --user", file=sys.stderr)
            return 2
        groups = [g for g in (args.groups or "").split(",") if g.strip()]
        token = tokens.create(args.user, groups)
        # the token is shown once, as the last word, so scripts can take it with `| tail -c`
        print(f"token for {args.user} (groups: {', '.join(groups) or 'none'}); store it now, "
              f"it is not shown again: {token}")
    elif args.action == "list":
        for t in tokens.list():
            state = "revoked" if t.revoked else "active"
            print(f"{t.id}\t{t.user}\t{','.join(t.groups)}\t{t.created_at}\t{state}")
    else:
        if args.id is None or not tokens.revoke(args.id):
            print("whoknows: no such token id", file=sys.stderr)
            return 2
        print(f"token {args.id} revoked")
    return 0


def cmd_people(settings: Settings, args: argparse.Namespace) -> int:
    from search.people import list_people

    if args.topics:
        return _print_topics(settings, args)
    people = list_people(settings, source=args.source, viewer=_viewer(settings, args))
    if args.limit:
        people = people[: args.limit]
    if args.json:
        print(json.dumps([p.to_json() for p in people], indent=2, ensure_ascii=False))
        return 0
    for p in people:
        roles = "; ".join(f"{src}: " + ", ".join(f"{role} {n}" for role, n in sorted(by_role.items()))
                          for src, by_role in sorted(p.by_source.items()))
        print(f"{p.contributions:6}  {p.name}  ({roles})")
    return 0


def _print_topics(settings: Settings, args: argparse.Namespace) -> int:
    from index.generations import Home
    from search.expertise import topic_coverage
    from search.experts import ExpertFinder

    reader = Home(settings.home).open_reader()
    try:
        excluded = ExpertFinder(settings.experts, settings.people).excluded
        topics = topic_coverage(reader.store, _viewer(settings, args), excluded=excluded)[: args.limit or None]
    finally:
        reader.close()
    if args.json:
        print(json.dumps({"topics": [t.to_json() for t in topics]}, indent=2, ensure_ascii=False))
        return 0
    for t in topics:
        who = ", ".join(f"{e.person.name} {e.documents}" for e in t.experts)
        print(f"{t.documents:6}  {t.topic}  (bus factor {t.bus_factor}{', at risk' if t.at_risk else ''}: {who})")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from ingest.schedule import Scheduler
    from web.app import create_app

    app = create_app(settings, scheduler=Scheduler(settings))
    uvicorn.run(app, host=args.host or settings.web.host, port=args.port or settings.web.port)
    return 0


def _ingest_flags(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--source", action="append", help="only this source (repeatable)")
    sp.add_argument("--full", action="store_true", help="rebuild from scratch")
    sp.add_argument("--allow-mass-delete", action="store_true",
                    help="apply a run that deletes more than half of a source")
    sp.add_argument("--json", action="store_true", help="print the run record as JSON")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.add_argument("--ray", metavar="ADDRESS", help="read and encode on Ray: local, auto or ray://host:10001 "
                    "(overrides [ray] address; needs pip install -e '.[ray]')")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a verb's --config must not reset one given before the verb (`whoknows --config X ingest`)
    common.add_argument("--config", default=argparse.SUPPRESS,
                        help="config file (default: $WHOKNOWS_CONFIG or ./whoknows.toml)")
    p = argparse.ArgumentParser(prog="whoknows", description="Search your organisation's "
                                "knowledge and find who knows.", parents=[common])
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs: dict[str, Callable[[Settings, argparse.Namespace], int]] = {}

    def verb(name: str, fn: Callable[[Settings, argparse.Namespace], int], help: str
             ) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help, parents=[common])
        sp.set_defaults(fn=fn)
        verbs[name] = fn
        return sp

    sp = verb("ingest", cmd_ingest, "index the configured sources into a new generation")
    _ingest_flags(sp)
    sp = verb("reindex", cmd_ingest, "one re-index run, for system cron or a systemd timer "
              "(same as ingest; exits 3 if a run is already going)")
    _ingest_flags(sp)
    sp = verb("search", cmd_search, "search the index")
    sp.add_argument("query", nargs="?", default="")
    sp.add_argument("--k", type=int, default=10, help="results per page (default 10)")
    sp.add_argument("--page", type=int, default=1, help="page of results (default 1)")
    sp.add_argument("--json", action="store_true", help="print JSON like /api/search")
    sp.add_argument("--like", metavar="DOC_ID", help="more like this document instead of a query")
    for flag, what in (("source", "source name"), ("kind", "document kind (wiki, forum, document)"),
                       ("author", "person id or name"), ("tag", "tag")):
        sp.add_argument(f"--{flag}", action="append", help=f"only this {what} (repeatable)")
    sp.add_argument("--since", type=date.fromisoformat, help="updated on or after YYYY-MM-DD")
    sp.add_argument("--until", type=date.fromisoformat, help="updated on or before YYYY-MM-DD")
    sp.add_argument("--as", dest="as_user", metavar="USER",
                    help="see only what USER may see (groups of their newest token)")
    sp = verb("experts", cmd_experts, "who knows about a topic, with the receipts")
    sp.add_argument("query")
    sp.add_argument("--k", type=int, default=5, help="people to suggest (default 5)")
    sp.add_argument("--json", action="store_true", help="print JSON like /api/experts")
    sp.add_argument("--as", dest="as_user", metavar="USER",
                    help="see only what USER may see (groups of their newest token)")
    sp = verb("ask", cmd_ask, "answer a question with citations, or say who to ask")
    sp.add_argument("question")
    sp.add_argument("--json", action="store_true", help="print JSON like /api/ask")
    sp.add_argument("--as", dest="as_user", metavar="USER",
                    help="see only what USER may see (groups of their newest token)")
    sp = verb("gaps", cmd_gaps, "knowledge gaps: unanswered searches and questions, with who could answer")
    sp.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    sp.add_argument("--json", action="store_true", help="print JSON like /api/gaps")
    sp = verb("feedback", cmd_feedback, "votes and opens: most down-voted documents and answers, "
              "queries opened without up votes")
    sp.add_argument("--limit", type=int, default=20, help="how many of each (default 20)")
    sp.add_argument("--json", action="store_true", help="print JSON")
    sp = verb("people", cmd_people, "list people with their contributions per source and role")
    sp.add_argument("--source", help="only people who contributed to this source")
    sp.add_argument("--limit", type=int, default=0, help="at most this many people (default all)")
    sp.add_argument("--topics", action="store_true",
                    help="instead: each topic (tag) with who knows most about it and its bus factor, as /api/topics")
    sp.add_argument("--json", action="store_true", help="print JSON")
    sp.add_argument("--as", dest="as_user", metavar="USER",
                    help="see only what USER may see (groups of their newest token)")
    sp = verb("serve", cmd_serve, "serve the web UI and API")
    sp.add_argument("--host", help="address to bind (default from [web] host)")
    sp.add_argument("--port", type=int, help="port (default from [web] port)")
    sp = verb("token", cmd_token, "API tokens for [auth] mode = 'token': create, list, revoke")
    sp.add_argument("action", choices=["create", "list", "revoke"])
    sp.add_argument("--user", help="create: who the token belongs to")
    sp.add_argument("--groups", help="create: comma-separated groups, e.g. hr,admins")
    sp.add_argument("--id", type=int, help="revoke: the token's id (see token list)")
    sp = verb("status", cmd_status, "show counts, sources, failures and the last runs")
    sp.add_argument("--json", action="store_true", help="print JSON like /api/status")
    cli_eval.add_parser(verb, common)
    cli_admin.add_parser(verb)
    cli_mentors.add_parser(verb)
    cli_recognition.add_parser(verb)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # init and check read no config first: one is not written yet, the other is being judged
        settings = load_settings(getattr(args, "config", None)) if getattr(args, "reads_config", True) else Settings()
        return int(args.fn(settings, args))
    except ConfigError as e:
        print(f"whoknows: config error: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        from index.generations import NoIndex, RunInProgress

        if isinstance(e, NoIndex | RunInProgress):
            print(f"whoknows: {e}", file=sys.stderr)
            return 3
        raise


if __name__ == "__main__":
    sys.exit(main())
