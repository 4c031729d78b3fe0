"""Fair routing's trade-off across Stack Exchange dumps, for choosing the `[routing]` defaults.

    python benchmarks/routing_sweep.py DUMP [DUMP ...] [--sample N]

Each dump is embedded (through the shared cache) and its expert rankings computed once, with
the time-split protocol of `whoknows eval experts`; then every setting of a grid of
`load_penalty` x `rising_margin` x `rising_depth` routes the same questions
(search/evaluation/routing.py). Prints, per setting, the MRR lost against plain routing and the
relative cut of the busiest-10% share on each dump, and the worst case over the dumps: a
default must lose at most 0.01 MRR and cut the busiest-10% share by at least a quarter on all.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from index.embedding import load_embedder  # noqa: E402
from index.settings import RoutingSettings, load_settings  # noqa: E402
from search.evaluation.experts import prepare  # noqa: E402
from search.evaluation.routing import SUGGESTED, Policy, RisingTracker, RoutingFigures  # noqa: E402

GRID = {"load_penalty": [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0],
        "rising_margin": [0.0, 0.25, 0.5],
        "rising_depth": [3]}


def sweep(dump: Path, sample: int, cache: Path) -> dict[tuple, RoutingFigures]:
    settings = load_settings()
    ev = prepare(dump, settings, load_embedder(settings.embedding), cache)
    tests = ev.dump.tests
    if sample and sample < len(tests):
        import random
        tests = sorted(random.Random(13).sample(tests, sample))
    base = settings.routing
    keys = list(itertools.product(*GRID.values()))
    policies = {"plain": Policy("plain", None)}
    for key in keys:
        v = replace(base, **dict(zip(GRID, key, strict=True)))  # type: ignore[arg-type]
        policies[key] = Policy(str(key), v)  # type: ignore[index]
    rising = RisingTracker(ev.dump.contributions)
    people: set[str] = set()
    for qi, accepted, asker, t, before in ev.walk(tests):
        ranked = ev.evidence(settings.experts, qi, t, before).gated()
        people.update([pid for pid, _ in ranked if pid != asker][:SUGGESTED])
        for policy in policies.values():
            policy.route(ranked, t, rising, accepted, asker)
    return {k: p.figures(len(people)) for k, p in policies.items()}  # type: ignore[misc]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dumps", nargs="+")
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--cache", default=str(Path.home() / ".cache/whoknows/embeddings.sqlite"))
    args = ap.parse_args()
    results = {Path(d).name: sweep(Path(d), args.sample, Path(args.cache)) for d in args.dumps}
    names = list(results)
    print("plain: " + "  ".join(f"{n} MRR {r['plain'].mrr:.3f} top10% {r['plain'].busiest_10:.3f} "
                                f"Gini {r['plain'].gini:.3f}" for n, r in results.items()))
    print(f"{'load_penalty, rising_margin, rising_depth':44} " + " ".join(f"{n[:14]:>22}" for n in names)
          + f" {'worst dMRR':>10} {'worst cut':>9}")
    rows = []
    for key in itertools.product(*GRID.values()):
        cells, dmrr, cuts = [], [], []
        for n in names:
            plain, fair = results[n]["plain"], results[n][key]
            d = fair.mrr - plain.mrr
            cut = 1 - fair.busiest_10 / plain.busiest_10 if plain.busiest_10 else 0.0
            dmrr.append(d)
            cuts.append(cut)
            cells.append(f"{d:+.3f} {fair.busiest_10:.3f} {-cut:+.0%}")
        rows.append((key, cells, min(dmrr), min(cuts)))
    for key, cells, worst_d, worst_cut in rows:
        ok = " *" if worst_d >= -0.01 and worst_cut >= 0.25 else ""
        print(f"{str(key):44} " + " ".join(f"{c:>22}" for c in cells) + f" {worst_d:+10.3f} {-worst_cut:+9.0%}{ok}")
    print("cells: MRR change, busiest-10% share, its change relative to plain; * = within both bounds on every dump")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
