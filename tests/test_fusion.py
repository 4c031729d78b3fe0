"""Fusion methods and evaluation metrics."""

from __future__ import annotations

import math

import pytest

from search.evaluation.metrics import Scores, mrr_at, ndcg_at, recall_at
from search.fusion import FUSERS

RUNS = {"keyword": {"a": 12.0, "b": 6.0, "c": 2.0}, "dense": {"b": 0.9, "c": 0.8, "d": 0.3}}


def ranked(scores):
    return sorted(scores, key=lambda d: -scores[d])


def test_minmax_weighted_sum():
    fused = FUSERS["minmax"](RUNS, {"keyword": 0.5, "dense": 0.5}, 60)
    # a: kw 1.0, dense missing -> floor 0.0; b: kw 0.4, dense 1.0
    assert fused["a"] == pytest.approx(0.5)
    assert fused["b"] == pytest.approx(0.5 * 0.4 + 0.5 * 1.0)
    assert ranked(fused)[0] == "b"
    only_kw = FUSERS["minmax"](RUNS, {"keyword": 1.0, "dense": 0.0}, 60)
    assert ranked(only_kw)[:2] == ["a", "b"]
    assert only_kw["c"] == only_kw["d"] == 0.0  # the run's lowest and a missing one tie


def test_zscore_and_rrf():
    z = FUSERS["zscore"](RUNS, {"keyword": 0.5, "dense": 0.5}, 60)
    assert ranked(z)[0] == "b"
    r = FUSERS["rrf"](RUNS, {"keyword": 1.0, "dense": 1.0}, 60)
    assert r["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert r["d"] == pytest.approx(1 / 63)


def test_empty_and_constant_runs():
    for fuse in FUSERS.values():
        assert fuse({"keyword": {}, "dense": {}}, {"keyword": 0.5, "dense": 0.5}, 60) == {}
        one = fuse({"keyword": {"a": 1.0}, "dense": {}}, {"keyword": 0.5, "dense": 0.5}, 60)
        assert list(one) == ["a"]


def test_metrics():
    rels = {"x": 1, "y": 1}
    assert ndcg_at(["x", "y"], rels) == pytest.approx(1.0)
    assert ndcg_at(["n", "x"], {"x": 1}) == pytest.approx(1 / math.log2(3))
    assert recall_at(["x", "n"], rels, 100) == 0.5
    assert mrr_at(["n", "n", "y"], rels) == pytest.approx(1 / 3)
    assert mrr_at(["n"] * 10 + ["x"], rels) == 0.0
    s = Scores.of({"q1": ["x"], "q2": []}, {"q1": {"x": 1}, "q2": {"z": 1}})
    assert (s.ndcg10, s.recall100, s.mrr10, s.queries) == (0.5, 0.5, 0.5, 2)


@pytest.mark.parametrize("method", sorted(FUSERS))
def test_equal_scores_keep_one_order_in_every_process(method):
    """A restarted server (another hash seed) ranks documents with equal fused scores alike."""
    import os
    import subprocess
    import sys

    code = ("from search.fusion import FUSERS\n"
            "runs = {'keyword': {f'doc/{i}': 1.0 for i in range(40)}, 'dense': {f'doc/{i}': 0.5 for i in range(40)}}\n"
            f"fused = FUSERS[{method!r}](runs, {{'keyword': 0.5, 'dense': 0.5}}, 60)\n"
            "print(sorted(fused, key=lambda d: -fused[d]))")
    orders = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(orders) == 1
