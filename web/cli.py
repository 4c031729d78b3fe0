"""The `whoknows` command line. Each verb parses its flags and calls one function."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from index.settings import ConfigError, Settings, load_settings

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
    record = run_ingest(settings, _embedder(settings), opts)
    if args.json:
        print(json.dumps(record.to_json(), indent=2))
    else:
        print(f"run {record.id}: {record.status} in {record.seconds:.1f}s, generation "
              f"{record.generation}, {record.chunks_embedded} chunks embedded")
        for name, s in record.sources.items():
            line = (f"  {name}: +{s.added} ~{s.updated} -{s.deleted} ={s.unchanged} "
                    f"failed {s.failed}, {s.chunks_embedded} chunks embedded")
            print(line + (f"  ERROR {s.error}" if s.error else ""))
    return 0 if record.status == "ok" else 1


def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    from index.generations import Home, LiveIndex
    from search.searcher import Searcher

    searcher = Searcher(LiveIndex(Home(settings.home)), _embedder(settings, query=True), settings.search)
    results = searcher.search(args.query, k=args.k, page=args.page)
    if args.json:
        print(json.dumps(results.to_json(), indent=2, ensure_ascii=False))
        return 0
    if not results.hits:
        print(f"no results for {results.query!r}")
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
    if st.last_run:
        r = st.last_run
        print(f"last run: #{r['id']} {r['status']} started {r['started_at']} "
              f"({r['seconds']}s){' ' + r['error'] if r['error'] else ''}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from web.app import create_app

    app = create_app(settings)
    uvicorn.run(app, host=args.host or settings.web.host, port=args.port or settings.web.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="config file (default: $WHOKNOWS_CONFIG or ./whoknows.toml)")
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
    sp.add_argument("--source", action="append", help="only this source (repeatable)")
    sp.add_argument("--full", action="store_true", help="rebuild from scratch")
    sp.add_argument("--allow-mass-delete", action="store_true",
                    help="apply a run that deletes more than half of a source")
    sp.add_argument("--json", action="store_true", help="print the run record as JSON")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp = verb("search", cmd_search, "search the index")
    sp.add_argument("query")
    sp.add_argument("--k", type=int, default=10, help="results per page (default 10)")
    sp.add_argument("--page", type=int, default=1, help="page of results (default 1)")
    sp.add_argument("--json", action="store_true", help="print JSON like /api/search")
    sp = verb("serve", cmd_serve, "serve the web UI and API")
    sp.add_argument("--host", help="address to bind (default from [web] host)")
    sp.add_argument("--port", type=int, help="port (default from [web] port)")
    sp = verb("status", cmd_status, "show counts, sources, failures and the last runs")
    sp.add_argument("--json", action="store_true", help="print JSON like /api/status")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
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
