"""How far re-weighting the expert model's evidence could go on a Stack Exchange dump.

    python benchmarks/experts_bound.py DUMP [--config whoknows.toml] [--json]

Runs the time-split protocol of ``whoknows eval experts`` once (embeddings from its cache) and
keeps, for every question, each ranked person's features: the model's score, its topical
evidence and activity, activity at four more half-lives (10 to 1,000 posts), hours since
their last answer, answers, accepted answers and contributions so far, acceptance rate, and
whether they have answered at all. Then prints:

- where the accepted answerers land under the model: no earlier contribution (no method can
  rank them), earlier contributions but no topical evidence (unranked), rank 1, 2-5, 6-20, >20;
- a conditional logit (a softmax over each question's people) over those features, fitted on
  the first half of the questions and scored on the second, beside the model on that half;
- the same fit on all the questions, scored on them (in-sample), and the **hindsight bound**:
  from that fit, coordinate ascent on the MRR of the very questions it is scored on.

The last two see the answers they are scored on. They are not methods: they bound what any
weighting of these features could reach on this dump.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from index.embedding import load_embedder  # noqa: E402
from index.rows import ContributionRow  # noqa: E402
from index.settings import ExpertSettings, load_settings  # noqa: E402
from search.evaluation.experts import Evaluation, prepare  # noqa: E402
from search.evaluation.runner import DEFAULT_CACHE  # noqa: E402
from search.experts import activity  # noqa: E402

HALF_LIVES = (10, 30, 300, 1000)  # posts, beside the model's own activity half-life
FEATURES = ["model score", "log topical", "log(1+activity)", *(f"log(1+activity, {h} posts)" for h in HALF_LIVES),
            "log(1+hours since last answer)", "log(1+days since last answer)", "log(1+answers)",
            "log(1+accepted)", "log acceptance rate", "never answered", "log(1+contributions)"]
Question = tuple[np.ndarray, int]  # one row of FEATURES per ranked person, and the accepted answerer's row


def collect(ev: Evaluation, p: ExpertSettings) -> tuple[list[Question | None], Counter[str]]:
    """Each question's feature rows (None when its accepted answerer is not ranked) and where
    the accepted answerers land under the model."""
    out: list[Question | None] = []
    where: Counter[str] = Counter()
    for qi, accepted, asker, t, before in ev.walk(ev.dump.tests):
        seen_before = accepted in ev.seen
        e = ev.evidence(p, qi, t, before)
        ranked = [(pid, s) for pid, s in e.ranked if pid != asker]
        people = [pid for pid, _ in ranked]
        if accepted not in people:
            where["no earlier contribution" if not seen_before else "not ranked (no topical evidence)"] += 1
            out.append(None)
            continue
        r = people.index(accepted) + 1
        where["rank 1" if r == 1 else "rank 2-5" if r <= 5 else "rank 6-20" if r <= 20 else "rank > 20"] += 1
        out.append((features(ev, p, t, before, ranked, e.topical, e.activity), r - 1))
    return out, where


def features(ev: Evaluation, p: ExpertSettings, t: datetime, before: list[ContributionRow],
             ranked: list[tuple[str, float]], top: dict[str, float], act: dict[str, float]) -> np.ndarray:
    clocks = ev.clocks(p)
    acts = [activity(before, replace(p, activity_half_life_posts=h), t, clocks) for h in HALF_LIVES]
    last: dict[str, datetime] = {}
    answers: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    contributions: Counter[str] = Counter()
    for c in before:
        contributions[c.person_id] += 1
        if c.role == "answerer" and c.at is not None:
            answers[c.person_id] += 1
            last[c.person_id] = c.at
        accepted[c.person_id] += c.role == "accepted-answerer"
    rows = []
    for pid, score in ranked:
        hours = (t - last[pid]).total_seconds() / 3600 if pid in last else 24 * 365.0
        rows.append([score, math.log(top[pid]), math.log1p(act.get(pid, 0.0)),
                     *(math.log1p(a.get(pid, 0.0)) for a in acts), math.log1p(hours), math.log1p(hours / 24),
                     math.log1p(answers[pid]), math.log1p(accepted[pid]),
                     math.log((accepted[pid] + 1) / (answers[pid] + 2)), float(pid not in last),
                     math.log1p(contributions[pid])])
    return np.asarray(rows, dtype="float64")


def mrr(w: np.ndarray, questions: list[Question | None]) -> float:
    """Reciprocal rank of the accepted answerer by ``X @ w`` (ties counted against it); 0
    for questions where it is not ranked."""
    total = 0.0
    for q in questions:
        if q is not None:
            s = q[0] @ w
            total += 1 / int((s >= s[q[1]]).sum())
    return total / max(len(questions), 1)


def neg_log_likelihood(w: np.ndarray, questions: list[Question | None], l2: float = 1e-3) -> tuple[float, np.ndarray]:
    loss, grad = l2 * float(w @ w), 2 * l2 * w
    for q in questions:
        if q is None:
            continue
        x, y = q
        s = x @ w
        e = np.exp(s - s.max())
        prob = e / e.sum()
        loss -= float(np.log(prob[y]))
        grad = grad - (x[y] - prob @ x)
    return loss, grad


def fit(questions: list[Question | None], start: np.ndarray) -> np.ndarray:
    return minimize(neg_log_likelihood, start, args=(questions,), jac=True, method="L-BFGS-B").x


def hindsight(questions: list[Question | None], w: np.ndarray) -> float:
    """Coordinate ascent on these questions' own MRR, from ``w``."""
    best = mrr(w, questions)
    for step in (1.0, 0.5, 0.25, 0.1, 0.05):
        for _ in range(3):
            for j in range(len(w)):
                for sign in (-1, 1):
                    w2 = w.copy()
                    w2[j] += sign * step * (abs(w[j]) + 0.2)
                    m = mrr(w2, questions)
                    if m > best:
                        best, w = m, w2
    return best


def run(dump_dir: Path, config: Path) -> dict:
    settings = load_settings(config)
    ev = prepare(dump_dir, settings, load_embedder(settings.embedding), DEFAULT_CACHE)
    questions, where = collect(ev, settings.experts)
    rows = np.vstack([q[0] for q in questions if q is not None])
    mean, sd = rows.mean(axis=0), rows.std(axis=0) + 1e-9  # standardised, so one step size fits all
    questions = [((q[0] - mean) / sd, q[1]) if q is not None else None for q in questions]
    model = np.zeros(len(FEATURES))
    model[0] = 1.0
    half = len(questions) // 2
    first, second = questions[:half], questions[half:]
    fitted = fit(questions, model)
    return {"dump": dump_dir.name, "questions": len(questions), "where": dict(where),
            "model": mrr(model, questions), "model, second half": mrr(model, second),
            "logit fitted on the first half, second half": mrr(fit(first, model), second),
            "logit in-sample": mrr(fitted, questions), "hindsight bound": hindsight(questions, fitted),
            "features": FEATURES}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump", type=Path, help="a Stack Exchange dump folder (Posts.xml, ...)")
    ap.add_argument("--config", type=Path, default=Path("whoknows.toml"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = run(args.dump, args.config)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    n = r["questions"]
    print(f"{r['dump']}: {n} questions; where the accepted answerer lands under the model:")
    for k, v in sorted(r["where"].items()):
        print(f"  {k:<34} {v:4d} ({v / n:.1%})")
    for k in ("model", "model, second half", "logit fitted on the first half, second half",
              "logit in-sample", "hindsight bound"):
        print(f"{k:<46} MRR {r[k]:.4f}")


if __name__ == "__main__":
    main()
