"""Receipt precision of the suggested experts on the configured index, for given queries.

    python benchmarks/experts_receipts.py [--config whoknows.toml] [QUERY ...]

For each query: the configured search's top-20 results, and the top 5 experts with their shown
receipts; a receipt is precise when its document is among those 20 results. Prints each
query's people and receipts (marked * when outside the top 20) and the precision over all
queries. Without queries, the handbook queries of issue 31's acceptance are used.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from index.embedding import load_query_embedder  # noqa: E402
from index.generations import Home, LiveIndex  # noqa: E402
from index.settings import load_settings  # noqa: E402
from search.experts import ExpertFinder  # noqa: E402
from search.searcher import Searcher  # noqa: E402

QUERIES = [
    "how do we run incident postmortems",
    "how do we do code review",
    "engineering onboarding process",
    "parental leave policy",
    "how do I submit expenses",
    "security incident response process",
    "sales team deal desk process",
    "how does the finance team process invoices and bills",
    "performance reviews and feedback",
    "how do we hire engineers",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("queries", nargs="*", default=QUERIES)
    ap.add_argument("--config", type=Path, default=Path("whoknows.toml"))
    args = ap.parse_args()
    settings = load_settings(args.config)
    searcher = Searcher(LiveIndex(Home(settings.home)), load_query_embedder(settings.embedding), settings.search,
                        ExpertFinder(settings.experts, settings.people))
    shown = precise = abstained = 0
    for q in args.queries:
        top20 = {h.doc_id for h in searcher.search(q, k=20).hits}
        experts = searcher.experts(q, k=5)
        abstained += not experts
        print(f"\n{q}: {len(experts)} people" + ("" if experts else " (abstained)"))
        for e in experts:
            marks = []
            for ev in e.evidence:
                shown += 1
                precise += ev.doc_id in top20
                marks.append(("" if ev.doc_id in top20 else "*") + ev.title)
            print(f"  {e.person.name} [{e.band} {e.strength:.2f}]: " + " | ".join(marks))
    print(f"\nreceipt precision of the top 5 people: {precise}/{shown} = {precise / (shown or 1):.3f} "
          f"over {len(args.queries)} queries; abstained on {abstained}")


if __name__ == "__main__":
    main()
