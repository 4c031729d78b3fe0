"""Expert attribution: roles, recency, votes and consent change who is suggested, as intended."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.generations import Home, LiveIndex
from index.models import Contribution, Document, Person, Section
from index.pace import activity_paces, make_clock
from index.rows import ContributionRow
from index.settings import ExpertSettings, Settings, SourceSettings
from ingest.pipeline import run_ingest
from search.experts import ExpertFinder, Passage, activity, combine, topical
from search.searcher import Searcher
from web.app import create_app

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def row(person: str, doc: str, role: str, days_ago: float = 0, section: int | None = None,
        score: int | None = None, weight: float = 1.0) -> ContributionRow:
    return ContributionRow(doc, person, role, weight, NOW - timedelta(days=days_ago), section, score)


def rank(passages, contributions, p=None):
    p = p or ExpertSettings()
    top, why = topical(passages, contributions, p, NOW)
    return [pid for pid, _ in combine(top, activity(contributions, p, NOW), p, why=why)]


def test_accepted_answer_beats_plain_answer_beats_question():
    passages = [Passage("t1", 0, 0.8), Passage("t1", 1, 0.8), Passage("t1", 2, 0.8)]
    rows = [row("asker", "t1", "asker", section=0), row("ans", "t1", "answerer", section=1),
            row("acc", "t1", "accepted-answerer", section=2)]
    assert rank(passages, rows) == ["acc", "ans", "asker"]


def test_the_author_of_the_matching_passage_beats_the_thread():
    # both answered the relevant thread, but only b's own answer matched the query
    passages = [Passage("t1", 0, 0.80), Passage("t1", 2, 0.78), Passage("t1", 1, 0.40)]
    rows = [row("a", "t1", "answerer", section=1), row("b", "t1", "answerer", section=2)]
    assert rank(passages, rows) == ["b", "a"]


def test_recency_half_life_prefers_recent_contributors():
    passages = [Passage("old", 0, 0.8), Passage("new", 0, 0.8)]
    rows = [row("veteran", "old", "author", days_ago=1500), row("fresh", "new", "author", days_ago=10)]
    assert rank(passages, rows) == ["fresh", "veteran"]
    no_decay = ExpertSettings(half_life_days=0)
    assert set(rank(passages, rows, no_decay)) == {"fresh", "veteran"}


def test_main_writer_outweighs_typo_fixer():
    passages = [Passage("page", 0, 0.8)]
    rows = [row("writer", "page", "author", weight=0.95), row("typo", "page", "author", weight=0.01)]
    assert rank(passages, rows) == ["writer", "typo"]


def test_votes_break_ties_between_answers():
    passages = [Passage("t", 1, 0.8), Passage("t", 2, 0.8)]
    rows = [row("low", "t", "answerer", section=1, score=0), row("high", "t", "answerer", section=2, score=40)]
    assert rank(passages, rows) == ["high", "low"]


def test_a_wiki_and_a_forum_compare_fairly():
    # a wiki page by two authors, and a less relevant thread answered by a busy forum regular:
    # the page's authors come first; neither the accepted answer's role weight (3 + 1) nor the
    # regular's answers elsewhere (the activity prior) lift the weaker match above them
    passages = [Passage("page", 0, 0.80), Passage("thread", 1, 0.70)]
    wiki = [replace(r, source="wiki") for r in (row("writer", "page", "author", weight=0.6),
                                                  row("co-writer", "page", "author", weight=0.4))]
    forum = [replace(r, source="forum") for r in (
        row("asker", "thread", "asker", section=0), row("regular", "thread", "answerer", section=1),
        row("regular", "thread", "accepted-answerer", section=1),
        *[row("regular", f"other{i}", "answerer", days_ago=i) for i in range(10)])]
    rows = wiki + forum
    assert rank(passages, rows)[:3] == ["writer", "co-writer", "regular"]
    whole_weights = ExpertSettings(credit_split=0.0, prior_within_source=False)
    assert rank(passages, rows, whole_weights)[0] == "regular"
    assert rank(passages, rows, replace(ExpertSettings(), prior_within_source=False))[0] == "regular"
    # within the forum the prior still counts: the regular outranks an equally relevant newcomer
    forum2 = forum + [replace(row("newcomer", "thread2", "answerer", section=1), source="forum")]
    both = [*passages, Passage("thread2", 1, 0.70)]
    assert rank(both, wiki + forum2).index("regular") < rank(both, wiki + forum2).index("newcomer")
    # with votes and recency neutral, one document's credits add up to its relevance
    top, _ = topical([Passage("page", 0, 0.8)], rows[:2], ExpertSettings(half_life_days=0), NOW)
    assert sum(top.values()) == pytest.approx(1.0)


def test_a_pages_writer_ages_with_the_page_not_with_their_own_edit():
    # "guide" was written years ago by its main author and touched up yesterday; "note", a little
    # less relevant, was written last month: the page is current, so its writer still knows it
    passages = [Passage("guide", 0, 0.80), Passage("note", 0, 0.78)]
    rows = [row("writer", "guide", "author", days_ago=1500, weight=0.9),
            row("fixer", "guide", "editor", days_ago=1, weight=0.1),
            row("recent", "note", "author", days_ago=30)]
    assert rank(passages, rows)[0] == "writer"
    assert rank(passages, rows, ExpertSettings(page_age_from_last_change=False))[0] == "recent"
    # the receipt keeps the writer's own date
    _, why = topical(passages, rows, ExpertSettings(), NOW)
    assert why["writer"][0][1].at == NOW - timedelta(days=1500)


def test_irrelevant_documents_give_no_expertise():
    passages = [Passage("t1", 0, 0.9), Passage("t2", 0, 0.2)]
    rows = [row("on-topic", "t1", "answerer"), row("off-topic", "t2", "accepted-answerer", score=100)]
    assert rank(passages, rows) == ["on-topic", "off-topic"]


@pytest.fixture
def forum_settings(tmp_path):
    return Settings(home=tmp_path / "home", sources=[SourceSettings(name="wiki", path=str(tmp_path / "w"))])


def _threads() -> list[Document]:
    ada = Person("Ada", handles=["f:1"])
    bob = Person("Bob", handles=["f:2"])
    eve = Person("Eve", handles=["f:3"])
    t = datetime(2024, 1, 1, tzinfo=UTC)
    docs = []
    qa = [("How do I rotate the database password?", "Use the vault CLI to rotate the database password."),
          ("Where is the database backup stored?", "Backups of the database go to the cold storage bucket.")]
    for i, (q, a) in enumerate(qa):
        docs.append(Document(
            id=f"forum/{i}", source="forum", kind="forum", title=q, url=f"https://forum.example/t/{i}",
            sections=[Section(q, author=eve), Section(a, anchor=f"p{i}", author=ada if i == 0 else bob)],
            contributions=[Contribution(eve, "asker", at=t, section=0),
                           Contribution(ada if i == 0 else bob, "accepted-answerer", at=t, section=1, score=5)],
            updated_at=t, tags=["database"]))
    return docs


def _ingest_docs(settings, embedder, docs):
    from ingest import sources

    class Listed:
        name = "forum"

        def iter_documents(self):
            yield from docs

    settings.sources = [SourceSettings(name="forum", kind="listed", path="")]
    sources.SOURCE_KINDS["listed"] = lambda cfg, s: Listed()
    try:
        run_ingest(settings, embedder)
    finally:
        del sources.SOURCE_KINDS["listed"]


def test_finder_gives_receipts_that_exist_and_respects_consent(forum_settings, fake_embedder):
    _ingest_docs(forum_settings, fake_embedder, _threads())
    live = LiveIndex(Home(forum_settings.home))
    s = Searcher(live, fake_embedder, forum_settings.search, ExpertFinder(ExpertSettings()))
    experts = s.experts("rotate the database password vault")
    assert experts[0].person.name == "Ada"
    ev = experts[0].evidence[0]
    assert ev.role == "accepted-answerer" and ev.url == "https://forum.example/t/0#p0"
    store = live.get().store
    for e in experts:
        for ev in e.evidence:
            assert store.document(ev.doc_id) is not None
    assert "accepted answer" in experts[0].reason and "2024-01" in experts[0].reason

    shy = Searcher(live, fake_embedder, forum_settings.search, ExpertFinder(ExpertSettings(exclude=["ada"])))
    assert "Ada" not in [e.person.name for e in shy.experts("rotate the database password vault")]
    # still shown as the author of her answer
    assert "Ada" in [a.name for h in shy.search("rotate database password").hits for a in h.authors]


def test_experts_api_and_person_page(forum_settings, fake_embedder):
    _ingest_docs(forum_settings, fake_embedder, _threads())
    c = TestClient(create_app(forum_settings, embedder=fake_embedder))
    body = c.get("/api/experts", params={"q": "database backup storage", "k": 2}).json()
    top = body["experts"][0]
    assert top["person"]["name"] == "Bob"
    assert set(top) == {"person", "strength", "band", "reason", "evidence"}  # no raw log score
    assert 0 < top["strength"] <= 1 and top["band"] in ("strong", "some", "little")
    assert set(top["evidence"][0]) == {"doc_id", "title", "url", "role", "at", "snippet"}
    assert c.get("/api/search", params={"q": "database backup"}).json()["experts"]
    person = c.get(top["person"]["profile_url"].replace("/people/", "/api/people/")).json()
    assert person["counts"] == {"accepted-answerer": 1}
    assert person["topics"] == [{"tag": "database", "count": 1}]
    soup = BeautifulSoup(c.get(top["person"]["profile_url"]).text, "html.parser")
    assert soup.h1.get_text() == "Bob"
    assert [(dt.get_text(), dd.get_text()) for dt, dd in zip(soup.select("#counts dt"), soup.select("#counts dd"),
                                                              strict=True)] == [("accepted answer", "1")]
    assert "whoknows suggests people from what they have written" in soup.select_one("#how-inferred").get_text()
    page = BeautifulSoup(c.get("/search", params={"q": "database backup"}).text, "html.parser")
    assert page.select_one("aside.experts .expert-name").get_text() == "Bob"
    assert c.get("/people/nobody").status_code == 404


def test_person_page_names_the_strongest_role_on_each_document(forum_settings, fake_embedder):
    docs = _threads()
    bob = next(c.person for c in docs[1].contributions if c.person.name == "Bob")
    t = docs[1].contributions[1].at
    # as a Stack Exchange dump gives them: "answerer" and, for the accepted answer, "accepted-answerer" too
    docs[1].contributions.insert(1, Contribution(bob, "answerer", at=t, section=1, score=5))
    _ingest_docs(forum_settings, fake_embedder, docs)
    c = TestClient(create_app(forum_settings, embedder=fake_embedder))
    pid = c.get("/api/experts", params={"q": "database backup storage"}).json()["experts"][0]["person"]["id"]
    person = c.get(f"/api/people/{pid}").json()
    assert person["counts"] == {"answerer": 1, "accepted-answerer": 1}
    assert [d["role"] for d in person["top_documents"]] == ["accepted-answerer"]
    soup = BeautifulSoup(c.get(f"/people/{pid}").text, "html.parser")
    assert soup.select_one("#top-docs .meta").get_text().startswith("accepted answer ·")


def test_time_split_evaluation_uses_only_earlier_posts(fake_embedder, tmp_path):
    from pathlib import Path

    from index.settings import Settings
    from search.evaluation.experts import Evaluation, embed_posts, evaluate_experts, load_dump

    dump_dir = Path(__file__).parent / "fixtures/stackexchange/cardano"
    dump = load_dump(dump_dir)
    assert dump.tests, "the fixture has accepted answers by someone other than the asker"
    times = [p.t for p in dump.posts]
    assert times == sorted(times)
    from index.embedding import EmbeddingCache

    ev = Evaluation(dump, embed_posts(dump, fake_embedder, EmbeddingCache(tmp_path / "c.sqlite")))
    for qi, _, _ in dump.tests:  # candidates for a question are strictly earlier posts
        assert all(i < qi for i, _ in ev.dense(qi))
    report = evaluate_experts(dump_dir, Settings(), fake_embedder, tmp_path / "c.sqlite", progress=False)
    res = report.results
    assert set(res) == {"most-active answerer", "activity, 7-day half-life", "BM25 document-centric",
                        "MiniLM document-centric", "model without the evidence gate", "whoknows model"}
    for r in res.values():
        assert r["n"] == len(dump.tests) and 0.0 <= r["mrr"] <= 1.0
    # the model against each baseline, with a bootstrap interval around the difference
    assert [d.b for d in report.differences] == list(res)[:-1]
    for d in report.differences:
        assert d.a == "whoknows model" and d.queries == len(dump.tests)
        assert d.mean == pytest.approx(res["whoknows model"]["mrr"] - res[d.b]["mrr"]) and d.low <= d.mean <= d.high
    assert "paired bootstrap over the" in report.table() and len(report.to_json()["differences"]) == 5
    # receipt precision and abstention of the model's top people
    r = report.receipts
    assert 0 <= r["receipt precision (top-20 results)"] <= 1 and 0 <= r["abstention rate"] <= 1
    assert "share a tag with it" in report.table()


def test_evaluation_counts_accepted_answers_no_method_could_rank():
    import numpy as np

    from search.evaluation.experts import Dump, Evaluation, ExpertReport, Post

    def thread(doc: str, day: int, asker: str, answerer: str) -> tuple[list[Post], list[ContributionRow]]:
        q, a = NOW + timedelta(days=day), NOW + timedelta(days=day, hours=1)
        return ([Post(q, doc, 0, asker, True, f"{doc} question"), Post(a, doc, 1, answerer, False, "answer")],
                [ContributionRow(doc, asker, "asker", 1.0, q, 0, None),
                 ContributionRow(doc, answerer, "answerer", 1.0, a, 1, None),
                 ContributionRow(doc, answerer, "accepted-answerer", 1.0, a, 1, None)])

    # t2's answerer (bob) answered t1 first; t3's (carol) had never contributed before her answer
    parts = [thread("t1", 0, "ann", "bob"), thread("t2", 1, "dan", "bob"), thread("t3", 2, "eve", "carol")]
    posts = [p for ps, _ in parts for p in ps]
    dump = Dump(posts, [c for _, cs in parts for c in cs], [(0, "bob", "ann"), (2, "bob", "dan"), (4, "carol", "eve")])
    ev = Evaluation(dump, np.eye(len(posts), dtype="float32"))
    scores = ev.scores({"most-active answerer": ev.most_active()}, progress=False)
    # t1: bob had not contributed yet either; only t2's answerer could be ranked
    assert ev.first_posts == 2 and scores["most-active answerer"].ranks == [math.inf, 1.0, math.inf]
    report = ExpertReport({k: v.summary() for k, v in scores.items()}, [], ev.first_posts)
    assert report.best_possible_mrr == pytest.approx(1 / 3)
    assert "2 of 3 accepted answers came from someone with no earlier contribution" in report.table()
    assert report.to_json()["first_posts"] == 2


def test_keyword_evidence_lifts_the_passage_that_names_the_query_terms():
    passages = [Passage("t1", 1, 0.6), Passage("t2", 1, 0.6, keyword=1.0)]
    rows = [row("dense-only", "t1", "answerer", section=1), row("both", "t2", "answerer", section=1)]
    assert rank(passages, rows)[0] == "both"
    assert set(rank(passages, rows, ExpertSettings(keyword=0.0))) == {"dense-only", "both"}


def test_activity_summed_in_sql_matches_the_contributions(forum_settings, fake_embedder):
    _ingest_docs(forum_settings, fake_embedder, _threads())
    store = LiveIndex(Home(forum_settings.home)).get().store
    people = [p.id for p in store.all_people()]
    p = ExpertSettings()
    expected = activity(store.contributions_of(people), p, NOW)
    got: dict[str, float] = {}
    for pid, role, _, n in store.activity_of(people, p.activity_half_life_days, NOW):
        if role in p.activity_roles:
            got[pid] = got.get(pid, 0.0) + p.role_weights.get(role, 0.5) * n
    assert got.keys() == expected.keys()
    for pid, value in expected.items():
        assert got[pid] == pytest.approx(value, rel=1e-6)


def test_recency_counts_in_posts_of_the_source_not_days():
    # the same 100 days are 100 posts back on a busy site, one post back on a quiet one
    busy = make_clock([NOW - timedelta(days=d) for d in range(101)])
    quiet = make_clock([NOW - timedelta(days=d) for d in (0, 100, 200, 300)])
    assert busy and quiet and busy.days_per_post == pytest.approx(1.0) and quiet.days_per_post == pytest.approx(100)
    passages = [Passage("b", 1, 0.8), Passage("q", 1, 0.8)]
    rows = [row("busy-veteran", "b", "answerer", days_ago=100, section=1),
            replace(row("quiet-regular", "q", "answerer", days_ago=100, section=1), source="quiet")]
    rows[0] = replace(rows[0], source="busy")
    p = ExpertSettings(half_life_posts=10, activity_half_life_posts=10)
    clocks = {"busy": busy, "quiet": quiet}
    top, _ = topical(passages, rows, p, NOW, clocks)
    assert top["quiet-regular"] > 5 * top["busy-veteran"]
    act = activity(rows, p, NOW, clocks)
    assert act["quiet-regular"] > 5 * act["busy-veteran"]
    in_days = ExpertSettings(half_life_posts=0, activity_half_life_posts=0)  # the same age in days: a tie
    top, _ = topical(passages, rows, in_days, NOW, clocks)
    assert top["quiet-regular"] == pytest.approx(top["busy-veteran"])


def test_activity_paced_in_sql_matches_the_contributions(forum_settings, fake_embedder):
    ada, bob = Person("Ada", handles=["f:1"]), Person("Bob", handles=["f:2"])
    docs = []
    for i in range(12):  # a thread every 3 days; Ada answered the early ones, Bob the late ones
        t = NOW - timedelta(days=3 * (12 - i))
        who = ada if i < 6 else bob
        docs.append(Document(
            id=f"forum/{i}", source="forum", kind="forum", title=f"Question {i}", url=f"https://f/t/{i}",
            sections=[Section(f"question {i}", author=who), Section(f"answer {i}", author=who)],
            contributions=[Contribution(who, "asker", at=t, section=0),
                           Contribution(who, "answerer", at=t + timedelta(hours=1), section=1)]))
    _ingest_docs(forum_settings, fake_embedder, docs)
    store = LiveIndex(Home(forum_settings.home)).get().store
    finder = ExpertFinder(ExpertSettings(activity_half_life_posts=4))
    clocks = finder.clocks(store)
    assert set(clocks) == {"forum"} and clocks["forum"].last == NOW - timedelta(days=3, hours=-1)
    p = finder.settings
    expected = activity(store.contributions_of([ada.id, bob.id]), p, NOW, clocks)
    paces = activity_paces(clocks, p.activity_half_life_posts)
    got: dict[str, float] = {}
    for pid, role, _, n in store.activity_of([ada.id, bob.id], p.activity_half_life_days, NOW, paces):
        if role in p.activity_roles:
            got[pid] = got.get(pid, 0.0) + p.role_weights.get(role, 0.5) * n
    assert got == pytest.approx(expected) and got[bob.id] > 4 * got[ada.id]
    # with the defaults the per-source sums stored at ingest are scaled, not recomputed: the same figures
    p = ExpertSettings()
    paces = activity_paces(clocks, p.activity_half_life_posts)
    assert store.meta("activity")["paces"] == paces
    later = datetime.now(UTC) + timedelta(days=30)
    expected = activity(store.contributions_of([ada.id, bob.id]), p, later, clocks)
    got = {}
    for pid, role, _, n in store.activity_of([ada.id, bob.id], p.activity_half_life_days, later, paces):
        if role in p.activity_roles:
            got[pid] = got.get(pid, 0.0) + p.role_weights.get(role, 0.5) * n
    assert got == pytest.approx(expected, rel=1e-6)


def test_an_archived_forum_gives_no_activity_prior_but_keeps_its_topical_evidence():
    archive = {"old": make_clock([NOW - timedelta(days=1000 + d) for d in range(101)])}  # silent for 1000 days
    last = replace(row("regular", "t", "answerer", days_ago=1000, section=1), source="old")
    p = ExpertSettings(half_life_posts=10, activity_half_life_posts=10)
    top, _ = topical([Passage("t", 1, 0.8)], [last], p, NOW, archive)
    assert top["regular"] == pytest.approx(p.role_weights["answerer"])  # the archive's latest post: full weight
    assert activity([last], p, NOW, archive)["regular"] < 1e-6  # but nobody there is answering now


@pytest.mark.parametrize("half_life", [7.0, 3.0])  # 7: precomputed at ingest; 3: summed per search
def test_activity_is_right_long_after_the_generation_was_made(forum_settings, fake_embedder, half_life):
    _ingest_docs(forum_settings, fake_embedder, _threads())
    store = LiveIndex(Home(forum_settings.home)).get().store
    assert store.meta("activity")["half_life_days"] == ExpertSettings().activity_half_life_days
    people = [p.id for p in store.all_people()]
    p = ExpertSettings(activity_half_life_days=half_life)
    later = datetime.now(UTC) + timedelta(days=45)
    expected = activity(store.contributions_of(people), p, later)
    got: dict[str, float] = {}
    for pid, role, _, n in store.activity_of(people, half_life, later):
        if role in p.activity_roles:
            got[pid] = got.get(pid, 0.0) + p.role_weights.get(role, 0.5) * n
    assert got.keys() == expected.keys()
    for pid, value in expected.items():
        assert got[pid] == pytest.approx(value, rel=1e-6)


def _pages() -> list[Document]:
    t = datetime(2024, 1, 1, tzinfo=UTC)
    pages = [("Rotating the database password", "Run the vault CLI to rotate the database password.", "Ada"),
             ("Restoring a database backup", "Backups live in the cold storage bucket; restore with the tool.", "Bob"),
             ("Expense reports", "File expenses within 60 days with receipts attached.", "Eve")]
    return [Document(id=f"forum/w{i}", source="forum", kind="wiki", title=title, url=f"https://wiki.example/{i}",
                     sections=[Section(text)], updated_at=t,
                     contributions=[Contribution(Person(who), "author", at=t, weight=0.8),
                                    Contribution(Person("Typo Fixer"), "editor", at=t, weight=0.2)])
            for i, (title, text, who) in enumerate(pages)]


def test_page_authors_evaluation_finds_each_pages_writer(forum_settings, fake_embedder):
    from search.evaluation.page_authors import evaluate_page_authors, report

    _ingest_docs(forum_settings, fake_embedder, _pages())
    encoded: list[str] = []
    encode = fake_embedder.encode
    fake_embedder.encode = lambda texts: (encoded.extend(texts), encode(texts))[1]
    results = evaluate_page_authors(forum_settings, fake_embedder)
    assert sorted(encoded) == sorted(d.title for d in _pages())  # once each, for all four variants
    model = results["whoknows model"]
    assert model["n"] == 3  # the three pages with a main author, not the editor's share
    assert model["mrr"] == 1.0 and model["p@1"] == 1.0
    assert set(results) >= {"credit not split", "evidence dated by each writer's edits"}
    assert "3 pages asked for by title" in report(results)
    with pytest.raises(LookupError, match="main author"):
        evaluate_page_authors(forum_settings, fake_embedder, min_share=0.9)
