"""``whoknows eval``: the evaluations (retrieval on a BEIR set, expert finding and answers on a
Stack Exchange dump, experts for the configured index's pages, building a BEIR set from a
dump), split from ``web/cli.py``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from index.settings import Settings

Verb = Callable[[str, Callable[[Settings, argparse.Namespace], int], str], argparse.ArgumentParser]


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from .cli import _embedder as embedder  # the one way the CLI loads the configured encoder

    if args.eval_verb == "experts":
        from search.evaluation.experts import evaluate_experts

        experts = evaluate_experts(Path(args.dump), settings, embedder(settings),
                                   Path(args.cache).expanduser(), args.sample, not args.quiet)
        print(json.dumps(experts.to_json(), indent=2) if args.json else experts.table())
        return 0
    if args.eval_verb == "page-authors":
        from search.evaluation import page_authors

        try:
            found = page_authors.evaluate_page_authors(settings, embedder(settings, query=True), args.min_share,
                                                       args.limit)
        except LookupError as e:  # nothing to evaluate: say so rather than print zeros
            print(f"whoknows: {e}", file=sys.stderr)
            return 1
        print(json.dumps(found, indent=2) if args.json else page_authors.report(found))
        return 0
    if args.eval_verb == "answers":
        from search.evaluation.answers import evaluate_answers

        answers = evaluate_answers(Path(args.dump), [Path(u) for u in args.unanswerable], settings,
                                   embedder(settings), Path(args.cache).expanduser(),
                                   Path(args.home) if args.home else None, args.sample, args.seed,
                                   not args.quiet, embedder(settings, query=True))
        print(json.dumps(answers.to_json(), indent=2) if args.json else answers.table())
        return 0
    if args.eval_verb == "make-se-beir":
        from search.evaluation.se_beir import make_se_beir

        n = make_se_beir(Path(args.dump), Path(args.out))
        print(f"{args.out}: {n} queries (split 'test'); evaluate with "
              f"`whoknows eval retrieval {args.out}`")
        return 0
    if args.eval_verb == "feedback":
        from search.evaluation.beir import load_beir
        from search.evaluation.feedback import evaluate_feedback

        data = load_beir(Path(args.dir), args.split, args.limit)
        fb = evaluate_feedback(data, settings, embedder(settings), Path(args.cache).expanduser(),
                               Path(args.home) if args.home else None,
                               tuple(float(x) for x in args.noise.split(",")), args.users, args.seed,
                               args.sweep, not args.quiet)
        print(json.dumps(fb.to_json(), indent=2) if args.json else fb.table())
        return 0
    from search.evaluation.beir import load_beir
    from search.evaluation.runner import evaluate

    data = load_beir(Path(args.dir), args.split, args.limit)
    report = evaluate(data, settings, embedder(settings), cache=Path(args.cache).expanduser(),
                      home=Path(args.home) if args.home else None, progress=not args.quiet)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.table())
    return 0


def _beir_arguments(ep: argparse.ArgumentParser, run: bool = True) -> None:
    """DIR, --split, --limit (and, with ``run``, the run options) of the BEIR evaluations."""
    ep.add_argument("dir", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
    ep.add_argument("--split", default="test", help="qrels split (default test)")
    ep.add_argument("--limit", type=int, help="only the first N judged queries")
    if run:
        _run_arguments(ep)


def _run_arguments(ep: argparse.ArgumentParser) -> None:
    ep.add_argument("--json", action="store_true", help="print the report as JSON")
    ep.add_argument("--quiet", action="store_true", help="no progress bars")
    ep.add_argument("--cache", default=str(Path.home() / ".cache/whoknows/embeddings.sqlite"),
                    help="embedding cache shared by runs (default ~/.cache/whoknows/embeddings.sqlite)")
    ep.add_argument("--home", help="index into this folder and keep it (default: a temporary one)")


def add_parser(verb: Verb, common: argparse.ArgumentParser) -> None:
    sp = verb("eval", cmd_eval, "evaluate retrieval (BEIR), expert finding or answers (Stack Exchange dump)")
    ev = sp.add_subparsers(dest="eval_verb", required=True, metavar="EVAL")
    ep = ev.add_parser("retrieval", parents=[common], help="nDCG@10, recall@100, MRR@10 per method",
                       description="Index DIR's corpus into a temporary home with the configured "
                       "chunking and model, then score keyword, dense, plain fusions and the "
                       "configured search on the judged queries, and the configured search's "
                       "difference from each with a 95% paired-bootstrap interval.")
    _beir_arguments(ep)
    ep = ev.add_parser("feedback", parents=[common], help="votes and opens: nDCG@10 with and without feedback",
                       description="Index DIR's corpus (as eval retrieval does), rank every judged query "
                       "with the configured search, let simulated users open and vote on the relevant "
                       "documents of half the queries (with a noise rate), then score nDCG@10 with and "
                       "without the feedback on those queries asked again, on unseen similar queries "
                       "and on all unseen ones.")
    _beir_arguments(ep, run=False)
    ep.add_argument("--noise", default="0,0.2", help="noise rates, comma-separated (default 0,0.2)")
    ep.add_argument("--users", type=int, default=3, help="simulated users a voted query (default 3)")
    ep.add_argument("--seed", type=int, default=13, help="seed of the split and the users (default 13)")
    ep.add_argument("--sweep", action="store_true", help="also the grid of [feedback] settings")
    _run_arguments(ep)
    ep = ev.add_parser("make-se-beir", parents=[common], help="build a BEIR set from a Stack Exchange dump",
                       description="Each question title becomes a query; its thread (body and "
                       "answers, without the title) is the one relevant document.")
    ep.add_argument("dump", help="dump folder with Posts.xml (or the Posts.xml file)")
    ep.add_argument("out", help="output folder")
    ep = ev.add_parser("experts", parents=[common], help="expert finding, time-split, on a Stack Exchange dump",
                       description="For each question whose accepted answer is by someone else, rank "
                       "people from what was posted before it; MRR, P@1, hits@5, hits@10 of the "
                       "accepted answerer for the configured model and baselines, and the model's MRR "
                       "minus each baseline's with a 95% paired-bootstrap interval.")
    ep.add_argument("dump", help="dump folder (Posts.xml, Users.xml optional)")
    ep.add_argument("--sample", type=int, default=0, help="a seeded sample of N questions (default all)")
    ep.add_argument("--json", action="store_true", help="print JSON")
    ep.add_argument("--quiet", action="store_true", help="no progress bars")
    ep.add_argument("--cache", default=str(Path.home() / ".cache/whoknows/embeddings.sqlite"),
                    help="embedding cache shared by runs (default ~/.cache/whoknows/embeddings.sqlite)")
    ep = ev.add_parser("page-authors", parents=[common], help="experts for each page's title: is its writer there?",
                       description="On the configured index, ask for every page with a main author by its "
                       "title; MRR, P@1, hits@5 of that author among the suggested experts, for the "
                       "configured model and without each of its cross-source choices.")
    ep.add_argument("--min-share", type=float, default=0.5,
                    help="a page's main author holds at least this share of it (default 0.5)")
    ep.add_argument("--limit", type=int, default=0, help="only the first N pages (default all)")
    ep.add_argument("--json", action="store_true", help="print JSON")
    ep = ev.add_parser("answers", parents=[common], help="answers: cited when answerable, refused when not",
                       description="Index the dump; ask its questions that have an accepted answer by "
                       "their body (correct = confident and citing their own thread) and questions from "
                       "other domains (correct = no confident answer); sweep [answers] min_confidence.")
    ep.add_argument("dump", help="Stack Exchange dump folder (Posts.xml)")
    ep.add_argument("--unanswerable", action="append", default=[], metavar="BEIR_DIR_OR_DUMP",
                    help="questions from another domain: a BEIR folder (queries.jsonl) or another "
                    "dump (question bodies); repeatable")
    ep.add_argument("--sample", type=int, default=0, help="a seeded sample of N questions per set (default all)")
    ep.add_argument("--seed", type=int, default=13, help="seed of the sample (default 13)")
    ep.add_argument("--json", action="store_true", help="print JSON")
    ep.add_argument("--quiet", action="store_true", help="no progress bars")
    ep.add_argument("--cache", default=str(Path.home() / ".cache/whoknows/embeddings.sqlite"),
                    help="embedding cache shared by runs (default ~/.cache/whoknows/embeddings.sqlite)")
    ep.add_argument("--home", help="index into this folder and keep it (default: a temporary one)")
