"""Plain search latency at a million synthetic chunks: main's code against this tree's, one run.

    python benchmarks/feedback_latency.py --main-tree DIR [--work /work/bench] [--rounds 3]
                                          [--queries 100] [--votes 20000]

Builds (once, under ``flock WORK/syn1m.lock``) or reuses the synthetic 1M home of
``benchmarks/synthetic.py`` in ``WORK``, then alternates child processes: one runs
``Searcher.search`` (hybrid, no experts, the server's query encoder) from ``--main-tree``
(an export of main, e.g. ``git archive main | tar -x -C DIR``), the next from this tree with
the feedback stage attached to a state database holding ``--votes`` votes and clicks on
other queries (with their query vectors, so the similar-query lookup runs in full). Each
child answers the sample's 100 queries once to warm up, then once timed; the figure is the
median over all rounds of each side, and their ratio.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import REPO

SIZE = 1_000_000


def build_or_reuse(work: Path, backend: str) -> Path:
    """The synthetic 1M home in ``work`` (built with this tree's benchmarks/synthetic.py)."""
    from sample import Sample
    from synthetic import build_synthetic

    from index.settings import VectorSettings

    work.mkdir(parents=True, exist_ok=True)
    with open(work / "syn1m.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sample = Sample(work=work, cache_dir=work / "models")
        emb = sample.embedder(backend)
        syn = build_synthetic(work, SIZE, emb.encode(sample.texts()), sample.texts(), emb.model_id,
                              VectorSettings())
        (work / "queries.json").write_text(json.dumps(sample.queries(100)))
    return syn.home


def child(home: Path, backend: str, queries: list[str], votes: int, models: Path) -> list[float]:
    """Milliseconds of each timed search of ``queries`` in this process's code."""
    sys.path.insert(0, str(Path.cwd()))
    from index.embedding import load_query_embedder
    from index.generations import Home, LiveIndex
    from index.settings import EmbeddingSettings, SearchSettings
    from search.searcher import Searcher

    embedder = load_query_embedder(EmbeddingSettings(backend=backend, cache_dir=str(models)))
    import search.searcher as code

    print(f"code from {Path(code.__file__).parent.parent}", file=sys.stderr)
    searcher = Searcher(LiveIndex(Home(home)), embedder, SearchSettings())
    if votes:
        attach_feedback(searcher, home.parent / f"feedback-state-{votes}.sqlite", votes, embedder)
    for q in queries:
        searcher.search(q)
    took = []
    for q in queries:
        t0 = time.perf_counter()
        searcher.search(q)
        took.append((time.perf_counter() - t0) * 1000)
    return took


def attach_feedback(searcher: Any, state: Path, votes: int, embedder: Any) -> None:
    """The feedback stage as the server sets it up, over ``votes`` votes and as many opens on
    other queries (a fifth as many distinct queries, random vectors of the model, documents
    of the synthetic index), filled once in bulk (this tree only: main has no feedback)."""
    import numpy as np

    from index.feedback import FeedbackLog
    from index.migrations import connect_state
    from index.settings import FeedbackSettings
    from search.feedback import Feedback

    if not state.exists():
        rng = np.random.default_rng(7)
        db = connect_state(state)
        n_queries, docs = max(1, votes // 5), SIZE // 10
        vecs = rng.standard_normal((n_queries, embedder.dim)).astype("float32")
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        now = time.time()
        with db:
            db.executemany("INSERT INTO feedback_queries VALUES (?,?,?,?,?)",
                           [(f"other query {i}", f"other query {i}", embedder.model_id, vecs[i].tobytes(), now)
                            for i in range(n_queries)])
            picks = zip(rng.integers(0, n_queries, votes), rng.integers(0, docs, votes),
                        rng.integers(0, 500, votes), rng.choice([1, -1], votes), strict=True)
            db.executemany("INSERT OR REPLACE INTO feedback VALUES ('result',?,?,?,?,?)",
                           [(f"other query {q}", f"syn/{d}", f"user{u}", int(v), now) for q, d, u, v in picks])
            opens = zip(rng.integers(0, n_queries, votes), rng.integers(0, docs, votes),
                        rng.integers(0, 500, votes), strict=True)
            db.executemany("INSERT INTO clicks VALUES (?,?,?,1,?)",
                           [(f"user{u}", f"other query {q}", f"syn/{d}", now) for q, d, u in opens])
        db.close()
    settings = FeedbackSettings()
    searcher.attach_feedback(Feedback(FeedbackLog(state, settings.retention_days), settings,
                                      embedder.model_id, embedder.dim))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--main-tree", help="an export of main's code to compare with")
    p.add_argument("--work", default="/work/bench")
    p.add_argument("--backend", default="onnx-int8")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--votes", type=int, default=20000)
    p.add_argument("--build-only", action="store_true")
    p.add_argument("--child", nargs=2, metavar=("HOME", "VOTES"), help=argparse.SUPPRESS)
    a = p.parse_args()
    work = Path(a.work)
    if a.child:
        queries = json.loads((work / "queries.json").read_text())
        print(json.dumps(child(Path(a.child[0]), a.backend, queries, int(a.child[1]), work / "models")))
        return
    home = build_or_reuse(work, a.backend)
    if a.build_only or not a.main_tree:
        print(f"synthetic home: {home}")
        return
    sides = {"main": (Path(a.main_tree), 0), "branch": (REPO, a.votes)}
    times: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(a.rounds):
        for name, (tree, votes) in sides.items():
            out = subprocess.run([sys.executable, __file__,
                                  "--work", str(work), "--backend", a.backend,
                                  "--child", str(home), str(votes)],
                                 cwd=tree, check=True, capture_output=True, text=True)
            ms = json.loads(out.stdout.strip().splitlines()[-1])
            times[name] += ms
            print(f"round {r + 1} {name}: median {statistics.median(ms):.2f} ms", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({"chunks": SIZE, "rounds": a.rounds, "queries": len(times["main"]) // a.rounds,
                      "votes": a.votes, "main_median_ms": round(med["main"], 2),
                      "branch_median_ms": round(med["branch"], 2),
                      "branch_over_main": round(med["branch"] / med["main"], 3)}, indent=2))


if __name__ == "__main__":
    main()
