"""The retrieval evaluation: BEIR reading, the SE converter, the runner, and a quality floor
with the real bundled model on a small judged set (tests/fixtures/handbook-judged)."""

from __future__ import annotations

import json
from pathlib import Path

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
