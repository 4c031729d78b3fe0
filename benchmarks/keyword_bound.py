"""Quality cost of ``[search] keyword_max_rows``: nDCG@10 of keyword search and of the
configured search with each bound, on a BEIR folder, in one run (one index).

    python benchmarks/keyword_bound.py /work/shared/data/scifact --split train [--bounds 0,5000,3000]
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from index.embedding import load_embedder  # noqa: E402
from index.settings import Settings, load_settings  # noqa: E402
from search.evaluation.beir import load_beir  # noqa: E402
from search.evaluation.runner import Method, evaluate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--bounds", default="0,5000,3000,2000,1000", help="keyword_max_rows values (0 = exact)")
    ap.add_argument("--config", default=None, help="config file (default: the built-in defaults)")
    args = ap.parse_args(argv)
    settings = load_settings(args.config) if args.config else Settings()
    methods = []
    for bound in (int(b) for b in args.bounds.split(",")):
        s = replace(settings.search, keyword_max_rows=bound)
        methods.append(Method(f"keyword, max_rows={bound}", replace(s, mode="keyword", rescore=False)))
        methods.append(Method(f"configured, max_rows={bound}", s))
    report = evaluate(load_beir(Path(args.folder), args.split), settings, load_embedder(settings.embedding),
                      methods, progress=False)
    print(report.table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
