"""The evidence gate: people are suggested only with a receipt relevant to the query; when
nobody has one, whoknows says so (CLI, API, pages) instead of listing the most active."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.rows import ContributionRow
from index.settings import ExpertSettings, Settings, SourceSettings
from search.experts import NOBODY, Passage, combine, relevance_floor, relevant_receipts, topical
from search.strength import evidence_band, evidence_strength
from web.app import create_app

from .conftest import write
from .test_experts import _ingest_docs, _threads

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _row(person: str, doc: str, role: str, section: int | None) -> ContributionRow:
    return ContributionRow(doc, person, role, 1.0, datetime(2024, 1, 1, tzinfo=UTC), section, 0, source="f")


def _suggested(passages: list[Passage], rows: list[ContributionRow], p: ExpertSettings) -> list[str]:
    top, why = topical(passages, rows, p, NOW)
    found = relevant_receipts(passages, why, p, relevance_floor(passages, p))
    return [pid for pid, _ in combine(top, {"busy": 50.0}, p, why=why) if found.get(pid)]


def test_a_thread_answer_whose_own_post_did_not_match_qualifies_nobody():
    # the thread's question matched; busy answered it, but his own post is not among the passages
    p = ExpertSettings(min_relevance=0.2, relevance_gap=0.0)
    passages = [Passage("t1", 0, 0.8), Passage("t2", 1, 0.6)]
    rows = [_row("asker", "t1", "asker", 0), _row("busy", "t1", "accepted-answerer", 1),
            _row("quiet", "t2", "answerer", 1)]
    top, _ = topical(passages, rows, p, NOW)
    assert top["busy"] > 0  # topical evidence, and a big activity prior ...
    assert sorted(_suggested(passages, rows, p)) == ["asker", "quiet"]  # ... but no receipt: not suggested


def test_the_floor_and_the_gap_both_bound_a_receipt():
    rows = [_row("a", "p1", "author", None), _row("b", "p2", "author", None)]
    passages = [Passage("p1", 0, 0.7), Passage("p2", 0, 0.3)]
    assert _suggested(passages, rows, ExpertSettings(min_relevance=0.2, relevance_gap=0.0)) == ["a", "b"]
    assert _suggested(passages, rows, ExpertSettings(min_relevance=0.2, relevance_gap=0.3)) == ["a"]
    assert _suggested(passages, rows, ExpertSettings(min_relevance=0.8, relevance_gap=0.0)) == []


def test_receipts_are_the_most_relevant_contributions_not_the_latest():
    p = ExpertSettings(min_relevance=0.0, relevance_gap=0.0)
    late = ContributionRow("p2", "a", "author", 1.0, datetime(2024, 5, 1, tzinfo=UTC), None, 0, source="f")
    rows = [_row("a", "p1", "author", None), late]
    passages = [Passage("p1", 0, 0.9), Passage("p2", 0, 0.4)]
    _, why = topical(passages, rows, p, NOW)
    assert [c.doc_id for _, c in relevant_receipts(passages, why, p, 0.0)["a"]] == ["p1", "p2"]


def test_strength_is_a_probability_and_grows_with_the_evidence():
    assert evidence_strength(0.3, 0) == 0.0
    weak, strong = evidence_strength(0.2, 1), evidence_strength(0.9, 20)
    assert 0 < weak < strong < 1
    assert evidence_band(strong) == "strong" and evidence_band(0.0) == "little"


@pytest.fixture
def gated(tmp_path, fake_embedder):
    settings = Settings(home=tmp_path / "home", sources=[SourceSettings(name="wiki", path=str(tmp_path / "w"))])
    _ingest_docs(settings, fake_embedder, _threads())
    return settings


def test_api_and_pages_say_nobody_has_written_on_it(gated, fake_embedder):
    strict = replace(gated, experts=replace(gated.experts, min_relevance=1.5))  # no passage is that relevant
    c = TestClient(create_app(strict, embedder=fake_embedder))
    body = c.get("/api/experts", params={"q": "database backup"}).json()
    assert body["experts"] == [] and body["abstained"]["message"] == NOBODY
    assert body["abstained"]["ask"] == "/ask"
    assert c.get("/api/search", params={"q": "database backup"}).json()["abstained"]["message"] == NOBODY
    assert c.get("/api/search", params={"q": "database backup", "experts": "false"}).json()["abstained"] is None
    for path in ("/search", "/popup"):
        soup = BeautifulSoup(c.get(path, params={"q": "database backup"}).text, "html.parser")
        assert soup.select_one("#nobody").get_text().startswith(NOBODY), path
        assert soup.select_one("#ask-instead")["href"] == "/ask?q=database%20backup"
        assert not soup.select(".expert-name")
    ask = BeautifulSoup(c.get("/ask", params={"q": "where do database backups go"}).text, "html.parser")
    assert ask.select_one("#nobody").get_text() == NOBODY and not ask.select(".expert-name")
    gaps = c.get("/api/gaps").json()["gaps"]
    assert {"database backup": "nobody-has-written-on-it"}.items() <= {g["query"]: g["kind"] for g in gaps}.items()

    normal = TestClient(create_app(gated, embedder=fake_embedder))
    body = normal.get("/api/experts", params={"q": "database backup"}).json()
    assert body["experts"] and body["abstained"] is None
    soup = BeautifulSoup(normal.get("/search", params={"q": "database backup"}).text, "html.parser")
    assert not soup.select("#nobody") and soup.select_one(".expert .strength").get_text().endswith(" evidence")


@pytest.mark.model
def test_the_specialist_is_suggested_and_the_prolific_unrelated_writer_is_not(tmp_path, capsys):
    """One person wrote twelve baking pages, another the one postmortem page (the real model)."""
    from web.cli import main

    wiki = tmp_path / "wiki"
    cakes = ["sourdough starter", "lemon drizzle cake", "croissant lamination", "brioche buns",
             "shortbread biscuits", "chocolate ganache", "pizza dough", "rye bread", "carrot cake",
             "pie crust", "banana bread", "macarons"]
    for i, cake in enumerate(cakes):
        write(wiki / f"bake-{i}.md", f"---\nauthor: Bea Baker <bea@corp.example>\n---\n# Baking: {cake}\n\n"
              f"How we bake {cake} for the office kitchen: weigh the flour, butter and sugar, mix, "
              f"rest the dough, bake in a hot oven and let it cool before serving.\n")
    write(wiki / "postmortems.md", "---\nauthor: Sam Reliability <sam@corp.example>\n---\n"
          "# Incident postmortems\n\nAfter every incident the on-call engineer writes a blameless "
          "postmortem within two days: the timeline, the root cause, what went well, and the action "
          "items, reviewed in the weekly incident review.\n")
    cfg = tmp_path / "whoknows.toml"
    cfg.write_text(f'home = "{tmp_path / "var"}"\n[[sources]]\nname = "wiki"\nkind = "markdown"\npath = "wiki"\n')
    assert main(["ingest", "--config", str(cfg), "--json"]) == 0
    capsys.readouterr()
    assert main(["experts", "how do we run incident postmortems", "--json", "--config", str(cfg)]) == 0
    names = [e["person"]["name"] for e in json.loads(capsys.readouterr().out)["experts"]]
    assert names == ["Sam Reliability"]  # first, and the baker not suggested at all
    assert main(["experts", "how do we bake sourdough bread", "--json", "--config", str(cfg)]) == 0
    found = json.loads(capsys.readouterr().out)["experts"]
    assert found[0]["person"]["name"] == "Bea Baker" and "score" not in found[0]
    assert found[0]["evidence"][0]["title"].startswith("Baking: sourdough")  # her most relevant page first
    # the CLI's abstention: with a floor no passage reaches (the chosen floor, 0.1, rarely abstains)
    cfg.write_text(cfg.read_text() + "[experts]\nmin_relevance = 0.95\n")
    assert main(["experts", "how do we run incident postmortems", "--config", str(cfg)]) == 0
    assert NOBODY in capsys.readouterr().out
