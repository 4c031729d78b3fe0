"""Who knows what: topics with the people behind them, bus factors, permissions and consent."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.settings import AclRule, ExpertSettings, Settings, SourceSettings
from ingest.pipeline import run_ingest
from search.expertise import bus_factor
from web.app import create_app

from .conftest import write


@pytest.mark.parametrize("shares,expected", [
    ([5], 1), ([4, 1], 1), ([3, 3], 2), ([2, 1, 1], 2), ([1, 1, 1, 1], 3), ([], 0)])
def test_bus_factor_is_the_fewest_people_behind_more_than_half(shares, expected):
    assert bus_factor(shares) == expected


def page(root, name: str, tags: list[str], *authors: str) -> None:
    write(root / f"{name}.md", f"---\ntitle: {name}\nauthors: {list(authors)}\ntags: {tags}\n---\n"
                               f"# {name}\n\nNotes about {' and '.join(tags)} for {name}.\n")


@pytest.fixture
def topics_site(tmp_path, fake_embedder):
    wiki = tmp_path / "wiki"
    for i in range(3):
        page(wiki, f"payroll{i}", ["Payroll"], "Ada")  # only Ada writes about payroll
        page(wiki, f"travel{i}", ["travel"], ["Bob", "Cy", "Dee"][i], "Ada")
    page(wiki, "hr/salaries", ["payroll", "salaries"], "Hanna")  # HR only
    settings = Settings(home=tmp_path / "home", sources=[SourceSettings(
        name="wiki", kind="markdown", path=str(wiki), acl=[AclRule(path="hr/*", visible_to=["hr"])])])
    run_ingest(settings, fake_embedder)
    return settings


def test_topics_name_who_wrote_most_and_flag_the_ones_resting_on_one_person(topics_site, fake_embedder):
    c = TestClient(create_app(topics_site, embedder=fake_embedder))
    topics = {t["topic"]: t for t in c.get("/api/topics").json()["topics"]}
    payroll, travel = topics["payroll"], topics["travel"]  # tags are grouped case-insensitively
    assert (payroll["documents"], payroll["contributors"], payroll["bus_factor"], payroll["at_risk"]) == (4, 2, 1, True)
    assert [(e["person"]["name"], e["documents"]) for e in payroll["experts"]] == [("Ada", 3), ("Hanna", 1)]
    assert (travel["documents"], travel["contributors"], travel["bus_factor"], travel["at_risk"]) == (3, 4, 2, False)
    assert travel["experts"][0]["person"]["name"] == "Ada"
    assert topics["salaries"]["at_risk"] is False  # one page is a small topic, not a risk
    soup = BeautifulSoup(c.get("/topics").text, "html.parser")
    assert [a.get_text() for a in soup.select("#at-risk > li > a:first-child")] == ["payroll"]
    rows = {tr.td.get_text(): tr for tr in soup.select("#topics tbody tr")}
    assert rows["travel"].select("td")[3].get_text() == "2"
    link = rows["travel"].select_one("td a")["href"]
    assert link == "/topics/travel"  # the topic's page: its figures, its mentors, and its search
    topic = BeautifulSoup(c.get(link).text, "html.parser")
    search = topic.select_one("article.topic a")["href"]
    assert "tag=travel" in search and c.get(search).status_code == 200
    assert topic.select_one("#mentors") is not None


def test_topics_count_only_what_the_viewer_may_see_and_never_name_excluded_people(topics_site, fake_embedder):
    from index.settings import AuthSettings
    from index.tokens import TokenStore

    topics_site.auth = AuthSettings(mode="token")
    topics_site.experts = ExpertSettings(exclude=["Ada"])
    c = TestClient(create_app(topics_site, embedder=fake_embedder))
    tokens = TokenStore(topics_site.home / "state.sqlite")
    staff, hr = tokens.create("sam", ["eng"]), tokens.create("hanna", ["hr"])
    seen = {t["topic"]: t for t in c.get("/api/topics", headers={"Authorization": f"Bearer {staff}"}).json()["topics"]}
    assert "salaries" not in seen and seen["payroll"]["documents"] == 3
    assert seen["payroll"]["experts"] == [] and seen["payroll"]["contributors"] == 1  # Ada counted, not named
    assert "Ada" not in c.get("/topics", headers={"Authorization": f"Bearer {staff}"}).text
    hr_view = {t["topic"]: t for t in c.get("/api/topics", headers={"Authorization": f"Bearer {hr}"}).json()["topics"]}
    assert hr_view["salaries"]["experts"][0]["person"]["name"] == "Hanna"


def test_cli_lists_topics_like_the_api(topics_site, tmp_path, capsys):
    import json

    from web.cli import main

    cfg = tmp_path / "w.toml"
    cfg.write_text(f'home = "{topics_site.home}"\n[experts]\nexclude = ["Hanna"]\n')
    assert main(["people", "--topics", "--json", "--config", str(cfg)]) == 0
    topics = {t["topic"]: t for t in json.loads(capsys.readouterr().out)["topics"]}
    assert [e["person"]["name"] for e in topics["payroll"]["experts"]] == ["Ada"]  # Hanna is on the consent list
    assert main(["people", "--topics", "--limit", "1", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.split()[:2] == ["4", "payroll"]


def test_topics_are_computed_once_per_generation_and_audience(topics_site, fake_embedder, tmp_path):
    from index.generations import Home
    from search.expertise import TopicMap
    from search.permissions import LOCAL, Viewer

    topic_map, home = TopicMap(), Home(topics_site.home)
    reader = home.open_reader()
    first = topic_map.topics(reader, LOCAL)
    assert topic_map.topics(reader, LOCAL) is first  # a published generation never changes
    staff = topic_map.topics(reader, Viewer("sam", frozenset({"eng"})))
    assert staff is not first and "salaries" not in {t.topic for t in staff}
    page(tmp_path / "wiki", "payroll9", ["payroll"], "Bob")
    run_ingest(topics_site, fake_embedder)
    newer = home.open_reader()
    assert newer.generation != reader.generation
    assert {t.topic: t.documents for t in topic_map.topics(newer, LOCAL)}["payroll"] == 5
    reader.close()
    newer.close()
