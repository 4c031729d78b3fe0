"""``whoknows eval answers`` on the Stack Exchange fixtures: the question sets, what counts as
correct (confident AND citing the question's own thread), the sweep, and cheap re-runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.settings import Settings
from search.evaluation.answers import (
    Outcome,
    Question,
    SweepRow,
    answerable_questions,
    best_threshold,
    evaluate_answers,
    other_questions,
)
from web.cli import main

from .conftest import write

SE = Path(__file__).parent / "fixtures" / "stackexchange"


def test_question_sets_use_bodies_not_titles(tmp_path):
    asked = answerable_questions(SE / "cardano")
    assert len(asked) == 4 and all(q.thread == q.id and q.id.startswith("se/") for q in asked)
    for q in asked:
        assert "<p>" not in q.text and "Comment by" not in q.text
    beer = other_questions(SE / "beer")
    assert len(beer) == 3 and not any(q.thread for q in beer)
    claims = write(tmp_path / "claims" / "queries.jsonl",
                   '{"_id": "1", "text": "Aspirin lowers fever."}\n\n{"_id": "2", "text": " "}\n')
    assert [q.text for q in other_questions(claims.parent)] == ["Aspirin lowers fever."]
    with pytest.raises(FileNotFoundError):
        other_questions(tmp_path)


def test_confident_answer_citing_another_thread_is_wrong():
    q = Question("se/1", "body", thread="se/1")
    right = Outcome(q, asked_before="se/1", asked_before_sim=0.9, confidence=0.6, cited=["se/2"])
    assert right.correct(0.5, 0.75)  # asked before found the thread
    assert not right.correct(0.5, 0.75, use_asked_before=False)  # extractive cites another thread
    assert not right.correct(0.5, 0.95) and right.refused(0.7, 0.95)
    wrong = Outcome(q, asked_before="se/7", asked_before_sim=0.9, confidence=0.9, cited=["se/1"])
    assert not wrong.correct(0.5, 0.75) and wrong.correct(0.5, 0.95)
    assert best_threshold([SweepRow(0.4, 1.0, 0.9, 0.5), SweepRow(0.5, 1.0, 0.8, 0.7),
                           SweepRow(0.6, 1.0, 0.6, 0.8)]) == 0.5
    plateau = [SweepRow(t / 10, 1.0, 0.5, 1.0) for t in range(3, 8)]
    assert best_threshold([SweepRow(0.2, 1.0, 0.5, 0.2), *plateau, SweepRow(0.8, 1.0, 0.1, 1.0)]) == 0.5


def test_eval_answers_reports_both_sets_and_reruns_from_cache(tmp_path, fake_embedder):
    claims = write(tmp_path / "scifact" / "queries.jsonl",
                   '{"_id": "1", "text": "Aspirin lowers the risk of heart attacks in adults."}\n')
    settings = Settings(home=tmp_path / "unused")
    run = lambda: evaluate_answers(SE / "cardano", [SE / "beer", claims.parent], settings,  # noqa: E731
                                   fake_embedder, tmp_path / "cache.sqlite", progress=False)
    report = run()
    assert report.documents == 5 and report.answerable.n == 4
    assert [(u.name, u.n) for u in report.unanswerable] == [("beer", 3), ("scifact", 1)]
    assert report.answerable.asked_before >= 3  # its own question, word for word
    assert 0 <= report.answerable.hits <= 4 and 0 <= report.answerable.extractive_only <= 4
    assert len(report.sweep) == 21 and report.sweep[0].threshold == 0.3
    refused = [r.refused for r in report.sweep]
    assert refused == sorted(refused)  # a higher threshold never refuses less
    assert report.best_threshold in {r.threshold for r in report.sweep}
    assert "confident and citing their own thread" in report.table()
    fake_embedder.encoded.clear()
    assert run().to_json() == report.to_json()
    assert fake_embedder.encoded == []  # chunks, questions and sentences all from the cache


@pytest.mark.model
def test_eval_answers_cli_with_the_bundled_model(tmp_path, capsys):
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'home = "{tmp_path / "unused"}"\n')
    assert main(["eval", "answers", str(SE / "cardano"), "--unanswerable", str(SE / "beer"), "--json",
                 "--quiet", "--config", str(cfg), "--cache", str(tmp_path / "cache.sqlite")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["answerable"]["n"] == 4 and report["unanswerable"][0]["n"] == 3
    # every cardano question finds its own thread; no beer question is answered from cardano
    assert report["answerable"]["hits"] == 4
    assert report["unanswerable"][0]["hits"] == 3
