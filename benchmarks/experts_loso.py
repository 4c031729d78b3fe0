"""Leave-one-site-out choice of the expert model's evidence gate, and the strength's fit.

    python benchmarks/experts_loso.py DUMP DUMP ... [--config whoknows.toml] [--saved DIR] [--json]

Runs the time-split protocol of ``whoknows eval experts`` once per dump (embeddings from its
cache) and keeps, for every question, the model's ungated ranking with each person's receipts
(the relevance of each contribution's own passage), the query's best passage, its top-20 search
results, the question's tags, who answered it, and the baselines' reciprocal ranks. ``--saved``
keeps these per dump (a pickle) so a re-run only re-scores.

Then, for each dump held out in turn, the gate (``[experts] min_relevance`` x ``relevance_gap``)
is chosen on the other dumps alone. Allowed are the gates whose MRR on every training dump is at
least that dump's ungated MRR minus 0.005; of those, the mildest (fewest suggestions removed) whose
mean receipt precision (shown receipts among the top-20 search results) is within one standard
error of the best allowed gate's. The held-out dump is scored with it: MRR, the difference from
the best baseline and from today's model (no gate) with 95% paired-bootstrap intervals, receipt
precision, abstention. The strength (search/strength.py) is fitted the same way: a logistic
regression on the training dumps' suggested people (did they answer the question well: accepted,
or an answer with a positive score?), its calibration reported on the held-out dump.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from index.embedding import load_embedder  # noqa: E402
from index.settings import load_settings  # noqa: E402
from search.evaluation.experts import (  # noqa: E402
    BASELINES,
    prepare,
    rank_of,
    standard_methods,
)
from search.evaluation.metrics import paired_difference  # noqa: E402
from search.evaluation.runner import DEFAULT_CACHE  # noqa: E402

FLOORS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
GAPS = (0.0, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1)
PEOPLE, SHOWN = 5, 3


@dataclass
class Question:
    accepted: str
    asker: str
    best: float  # the query's best passage relevance
    ranked: list[str]  # ungated, by the model's score
    receipts: dict[str, list[tuple[float, str]]]  # person -> (own passage relevance, doc id), best first
    results: set[str]
    tags: set[str]
    answered_well: set[str]
    baselines: dict[str, float] = field(default_factory=dict)  # reciprocal ranks


@dataclass
class Site:
    name: str
    questions: list[Question]
    tags: dict[str, list[str]]


def collect(dump_dir: Path, config: Path) -> Site:
    settings = load_settings(config)
    p = replace(settings.experts, min_relevance=-9.0, relevance_gap=0.0)  # every receipt, judged later
    ev = prepare(dump_dir, settings, load_embedder(settings.embedding), DEFAULT_CACHE)
    dump = ev.dump
    baselines = {name: m for name, m in standard_methods(ev, p).items() if name in BASELINES}
    well: dict[str, set[str]] = {}
    for c in dump.contributions:
        if c.role == "accepted-answerer" or (c.role == "answerer" and (c.score or 0) > 0):
            well.setdefault(c.doc_id, set()).add(c.person_id)
    out = []
    for qi, accepted, asker, t, before in ev.walk(dump.tests):
        e = ev.evidence(p, qi, t, before)
        doc = dump.posts[qi].doc_id
        best = max((r for rs in e.receipts.values() for r, _ in rs[:1]), default=-9.0)
        q = Question(accepted, asker, best, [pid for pid, _ in e.ranked],
                     {pid: [(r, c.doc_id) for r, c in rs[:10]] for pid, rs in e.receipts.items()},
                     set(e.results), set(dump.tags.get(doc, [])), well.get(doc, set()))
        for name, method in baselines.items():
            rank = rank_of(method(qi, t, before), accepted, asker)
            q.baselines[name] = 1 / rank if rank < math.inf else 0.0
        out.append(q)
    return Site(dump_dir.name, out, dump.tags)


def floor_of(q: Question, gate: tuple[float, float]) -> float:
    low, gap = gate
    return max(low, q.best - gap) if gap > 0 else low


def suggested(q: Question, gate: tuple[float, float] | None) -> list[str]:
    if gate is None:
        return q.ranked
    f = floor_of(q, gate)
    return [pid for pid in q.ranked if q.receipts.get(pid) and q.receipts[pid][0][0] >= f]


def score(site: Site, gate: tuple[float, float] | None) -> dict:
    rr, shown, in_results, tagged, share_tag, abstained, kept = [], 0, 0, 0, 0, 0, 0
    for q in site.questions:
        people = suggested(q, gate)
        kept += len(people)
        rank = rank_of(people, q.accepted, q.asker)
        rr.append(1 / rank if rank < math.inf else 0.0)
        top = [pid for pid in people if pid != q.asker][:PEOPLE]
        abstained += not top
        f = floor_of(q, gate) if gate else -9.0
        for pid in top:
            for r, doc in q.receipts.get(pid, [])[:SHOWN]:
                if r < f:
                    break
                shown += 1
                in_results += doc in q.results
                if q.tags:
                    tagged += 1
                    share_tag += bool(q.tags & set(site.tags.get(doc, [])))
    # kept: the suggestions the gate let through (how mild it is)
    return {"rr": rr, "mrr": float(np.mean(rr)) if rr else 0.0, "shown": shown, "kept": kept,
            "precision": in_results / (shown or 1),
            "tag precision": share_tag / (tagged or 1), "abstention": abstained / (len(rr) or 1)}


def choose(train: list[Site]) -> tuple[float, float]:
    """Among the gates that cost no training site over 0.005 MRR, the mildest (fewest suggestions
    removed) whose mean receipt precision is within one standard error of the best one's: the
    one-standard-error rule, so a stricter gate must earn its MRR cost by more than noise."""
    today = {s.name: score(s, None)["mrr"] for s in train}
    allowed = []
    for low in FLOORS:
        for gap in GAPS:
            runs = [score(s, (low, gap)) for s in train]
            if any(r["mrr"] < today[s.name] - 0.005 for r, s in zip(runs, train, strict=True)):
                continue
            allowed.append(((low, gap), runs))
    if not allowed:
        return (FLOORS[0], 0.0)

    def precision(runs: list[dict]) -> float:
        return float(np.mean([r["precision"] for r in runs]))

    _, best_runs = max(allowed, key=lambda a: precision(a[1]))
    # the standard error of a mean of per-site binomial proportions
    se = math.sqrt(sum(r["precision"] * (1 - r["precision"]) / max(r["shown"], 1) for r in best_runs)) / len(train)
    near = [(gate, runs) for gate, runs in allowed if precision(runs) >= precision(best_runs) - se]
    # the mildest: the most suggestions kept (the fewest removed), ties to the lowest gate
    return min(near, key=lambda a: (-sum(r["kept"] for r in a[1]), a[0]))[0]


def strength_rows(sites: list[Site], gate: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = [], []
    for site in sites:
        for q in site.questions:
            f = floor_of(q, gate)
            for pid in [p for p in suggested(q, gate) if p != q.asker][:PEOPLE]:
                rs = [r for r, _ in q.receipts[pid] if r >= f]
                x.append([rs[0], math.log1p(len(rs))])
                y.append(pid in q.answered_well)
    return np.asarray(x), np.asarray(y, dtype=int)


def fit_strength(sites: list[Site], gate: tuple[float, float]) -> list[float]:
    from sklearn.linear_model import LogisticRegression

    x, y = strength_rows(sites, gate)
    m = LogisticRegression(C=10.0).fit(x, y)
    return [float(m.intercept_[0]), *map(float, m.coef_[0])]


def calibration(sites: list[Site], gate: tuple[float, float], coef: list[float]) -> dict:
    from search.strength import evidence_band, evidence_strength

    x, y = strength_rows(sites, gate)
    p = np.array([evidence_strength(r, round(math.expm1(n)), coef) for r, n in x])
    bands: dict[str, list[int]] = {}
    for pi, yi in zip(p, y, strict=True):
        bands.setdefault(evidence_band(float(pi)), []).append(int(yi))
    return {"brier": float(np.mean((p - y) ** 2)), "base rate": float(y.mean()), "mean strength": float(p.mean()),
            "bands": {b: {"people": len(v), "answered well": float(np.mean(v))} for b, v in bands.items()}}


def loso(sites: list[Site]) -> list[dict]:
    out = []
    for held in sites:
        train = [s for s in sites if s is not held]
        gate = choose(train)
        coef = fit_strength(train, gate)
        gated, today = score(held, gate), score(held, None)
        base = {name: float(np.mean([q.baselines[name] for q in held.questions])) for name in BASELINES}
        best = max(base, key=lambda n: base[n])
        vs_base = paired_difference("gated", gated["rr"], best, [q.baselines[best] for q in held.questions])
        vs_today = paired_difference("gated", gated["rr"], "today", today["rr"])
        out.append({"site": held.name, "questions": len(held.questions), "gate": gate, "strength": coef,
                    "mrr": gated["mrr"], "today": today["mrr"], "best baseline": best,
                    "baseline mrr": base[best], "vs baseline": [vs_base.mean, vs_base.low, vs_base.high],
                    "vs today": [vs_today.mean, vs_today.low, vs_today.high],
                    "precision": gated["precision"], "precision today": today["precision"],
                    "tag precision": gated["tag precision"], "tag precision today": today["tag precision"],
                    "abstention": gated["abstention"], "calibration": calibration([held], gate, coef)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dumps", type=Path, nargs="+", help="Stack Exchange dump folders (Posts.xml, ...)")
    ap.add_argument("--config", type=Path, default=Path("whoknows.toml"))
    ap.add_argument("--saved", type=Path, help="keep each dump's collected evidence here")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sites = []
    for d in args.dumps:
        path = args.saved / f"{d.name}.pkl" if args.saved else None
        if path and path.exists():
            sites.append(pickle.loads(path.read_bytes()))
            continue
        sites.append(collect(d, args.config))
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(sites[-1]))
    rows = loso(sites)
    gates = {tuple(r["gate"]) for r in rows}
    final = {"gate (all dumps)": choose(sites)}
    final["strength (all dumps)"] = fit_strength(sites, final["gate (all dumps)"])
    if args.json:
        print(json.dumps({"held out": rows, **final}, indent=2))
        return
    print("| held-out site | gate chosen on the others (floor, gap) | MRR | today's model | best baseline "
          "| vs best baseline (95%) | vs today (95%) | receipt precision (today) | shares a tag (today) "
          "| abstained |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        vb, vt = r["vs baseline"], r["vs today"]
        print(f"| {r['site']} ({r['questions']} q) | {r['gate'][0]:g}, {r['gate'][1]:g} | {r['mrr']:.4f} "
              f"| {r['today']:.4f} | {r['best baseline']} {r['baseline mrr']:.3f} "
              f"| {vb[0]:+.3f} ({vb[1]:+.3f} to {vb[2]:+.3f}) | {vt[0]:+.3f} ({vt[1]:+.3f} to {vt[2]:+.3f}) "
              f"| {r['precision']:.3f} ({r['precision today']:.3f}) "
              f"| {r['tag precision']:.3f} ({r['tag precision today']:.3f}) | {r['abstention']:.3f} |")
    for r in rows:
        print(r["site"], "strength fit on the others:", [round(c, 3) for c in r["strength"]],
              "calibration on it:", json.dumps(r["calibration"]))
    print(f"{len(gates)} distinct gate(s) across the folds; on all dumps:", final)


if __name__ == "__main__":
    main()
