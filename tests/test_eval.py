"""The retrieval evaluation: BEIR reading, the SE converter, the runner, and a quality floor
with the real bundled model on a small judged set (tests/fixtures/handbook-judged)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.settings import Settings
from search.evaluation.beir import BeirError, load_beir
from search.evaluation.runner import evaluate
from search.evaluation.se_beir import make_se_beir
from web.cli import main

from .conftest import write

JUDGED = Path(__file__).parent / "fixtures" / "handbook-judged"

POSTS = """<?xml version="1.0" encoding="utf-8"?>
<posts>
  <row Id="1" PostTypeId="1" Title="How cold should lager be served?"
       Body="&lt;p&gt;I keep my &lt;b&gt;lager&lt;/b&gt; in the fridge.&lt;/p&gt;" Score="3" />
  <row Id="2" PostTypeId="2" ParentId="1" Body="&lt;p&gt;Around 4 degrees.&lt;/p&gt;" Score="5" />
  <row Id="3" PostTypeId="2" ParentId="1" Body="&lt;p&gt;Colder is fine.&lt;/p&gt;" Score="9" />
  <row Id="4" PostTypeId="1" Title="What is a stout?" Body="&lt;p&gt;Dark beer question.&lt;/p&gt;" />
  <row Id="5" PostTypeId="2" ParentId="99" Body="orphan answer" />
  <row Id="6" PostTypeId="1" Title="" Body="no title: not a query" />
</posts>
"""


def test_make_se_beir_thread_without_title(tmp_path):
    dump = write(tmp_path / "dump" / "Posts.xml", POSTS).parent
    out = tmp_path / "beir"
    assert make_se_beir(dump, out) == 2
    corpus = [json.loads(line) for line in (out / "corpus.jsonl").read_text().splitlines()]
    assert corpus[0] == {"_id": "t1", "title": "",
                         "text": "I keep my lager in the fridge.\n\nColder is fine.\n\nAround 4 degrees."}
    data = load_beir(out, "test")
    assert data.queries == {"q1": "How cold should lager be served?", "q4": "What is a stout?"}
    assert data.qrels == {"q1": {"t1": 1}, "q4": {"t4": 1}}


def test_load_beir_errors_and_limit(tmp_path):
    with pytest.raises(BeirError, match="corpus.jsonl"):
        load_beir(tmp_path, "test")
    data = load_beir(JUDGED, "test", limit=3)
    assert len(data.queries) == len(data.qrels) == 3


def test_runner_reports_every_method(tmp_path, fake_embedder):
    settings = Settings(home=tmp_path / "unused")
    report = evaluate(load_beir(JUDGED, "test"), settings, fake_embedder,
                      cache=tmp_path / "cache.sqlite", progress=False)
    names = [r.method for r in report.results]
    assert names[:4] == ["keyword (BM25)", "dense", "fusion rrf k=60", "fusion minmax 0.5/0.5"]
    assert report.documents == 36 and report.results[0].scores.queries == 20
    for r in report.results:
        assert 0.0 <= r.scores.ndcg10 <= 1.0 and 0.0 <= r.scores.recall100 <= 1.0
    assert report.results[0].scores.ndcg10 > 0.3  # BM25 finds pages by their words
    assert "nDCG@10" in report.table()
    # the configured search against each other method, with a bootstrap interval around it
    diffs = report.differences()
    assert [d.b for d in diffs] == names[:-1] and all(d.a == names[-1] for d in diffs)
    last = report.results[-1].scores.ndcg10
    for d, r in zip(diffs, report.results, strict=False):
        assert d.mean == pytest.approx(last - r.scores.ndcg10) and d.low <= d.mean <= d.high
    assert "paired bootstrap over the 20 queries" in report.table()
    js = report.to_json()
    assert len(js["differences"]) == len(names) - 1
    assert all("ndcg10_per_query" not in r["scores"] for r in js["results"])
    # the second run encodes nothing: corpus and queries come from the cache
    fake_embedder.encoded.clear()
    evaluate(load_beir(JUDGED, "test"), settings, fake_embedder, cache=tmp_path / "cache.sqlite",
             progress=False)
    assert fake_embedder.encoded == []


@pytest.mark.model
def test_quality_floor_with_the_bundled_model(tmp_path, capsys):
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'home = "{tmp_path / "unused"}"\n')
    assert main(["eval", "retrieval", str(JUDGED), "--json", "--quiet", "--config", str(cfg),
                 "--cache", str(tmp_path / "cache.sqlite")]) == 0
    report = json.loads(capsys.readouterr().out)
    by = {r["method"]: r["scores"] for r in report["results"]}
    final = by["configured (+ second stage)"]
    # measured 0.975 (keyword 0.910, dense 0.938): hybrid must stay well above either alone
    assert final["ndcg10"] >= 0.95
    assert final["recall100"] == 1.0
    assert final["ndcg10"] > max(by["keyword (BM25)"]["ndcg10"], by["dense"]["ndcg10"])


def test_paired_difference_interval():
    from search.evaluation.metrics import paired_difference
    same = paired_difference("a", [0.2, 0.9, 0.5], "b", [0.2, 0.9, 0.5])
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0)
    shifted = paired_difference("a", [0.3, 1.0, 0.6], "b", [0.2, 0.9, 0.5])
    assert shifted.mean == pytest.approx(0.1) and shifted.low == pytest.approx(0.1) == pytest.approx(shifted.high)
    # one query of 100 gains 1.0: the mean is +0.01, and the interval reaches down to 0
    a = [1.0] + [0.0] * 99
    one = paired_difference("a", a, "b", [0.0] * 100)
    assert one.mean == pytest.approx(0.01) and one.low == 0.0 < one.high
    # many queries that each gain a little: the interval excludes 0
    rng = np.random.default_rng(1)
    b = rng.random(800)
    wide = paired_difference("a", b + rng.normal(0.02, 0.1, 800), "b", b)
    assert 0 < wide.low < wide.mean < wide.high and wide.queries == 800
    assert paired_difference("a", a, "b", [0.0] * 100) == one  # seeded: the same interval each run
    assert paired_difference("a", [], "b", []).queries == 0


def test_feedback_evaluation_teaches_the_repeats(tmp_path, fake_embedder):
    from search.evaluation.feedback import evaluate_feedback

    report = evaluate_feedback(load_beir(JUDGED, "test"), Settings(home=tmp_path / "unused"), fake_embedder,
                               cache=tmp_path / "cache.sqlite", noises=(0.0, 0.2), progress=False)
    clean, noisy = ({s.name: s for s in r.sets} for r in report.results)
    assert clean["repeats"].queries == 10 and clean["unseen"].queries == 10
    assert clean["repeats"].with_feedback > clean["repeats"].without
    assert clean["repeats"].with_feedback >= noisy["repeats"].with_feedback
    assert report.results[0].votes > 0 and report.results[1].opens > 0
    assert "noise 20%" in report.table()
