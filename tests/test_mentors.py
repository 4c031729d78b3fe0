"""Mentors on a tiny forum: who knows a topic and has taught it, with receipts, respecting
profiles, the consent list and permissions (counts included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.settings import AclRule, AuthSettings, ExpertSettings, ProfileSettings, Settings, SourceSettings
from ingest.pipeline import run_ingest
from web.app import create_app

from .conftest import write

TOPIC = "sourdough starter bread"


def _row(i: int, kind: int, owner: int, when: str, body: str, title: str = "", parent: int = 0,
         accepted: int = 0) -> str:
    extra = (f' Title="{title}" Tags="&lt;sourdough&gt;"' if kind == 1 else f' ParentId="{parent}"')
    extra += f' AcceptedAnswerId="{accepted}"' if accepted else ""
    return (f'  <row Id="{i}" PostTypeId="{kind}" CreationDate="{when}T10:00:00.000" Score="3" '
            f'Body="&lt;p&gt;{body}&lt;/p&gt;" OwnerUserId="{owner}"{extra} />')


def _dump(root: Path, rows: list[str], users: dict[int, str]) -> Path:
    write(root / "Posts.xml", '<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(rows) + "\n</posts>\n")
    write(root / "Users.xml", '<?xml version="1.0" encoding="utf-8"?>\n<users>\n' + "\n".join(
        f'  <row Id="{u}" DisplayName="{n}" />' for u, n in users.items()) + "\n</users>\n")
    return root


USERS = {1: "Tess Teacher", 2: "Carl Consent", 3: "Alice Away", 10: "Nina Newcomer", 11: "Olga Old", 12: "Rita"}


@pytest.fixture
def forum(tmp_path: Path, fake_embedder):
    public = _dump(tmp_path / "pub", [
        _row(1, 1, 10, "2024-01-01", "How do I feed a sourdough starter for bread?", "Feeding a sourdough starter", accepted=2),
        _row(2, 2, 1, "2024-01-02", "Feed the sourdough starter flour and water daily for bread.", parent=1),
        _row(3, 2, 2, "2024-01-03", "Sourdough starter bread: feed it flour and water.", parent=1),
        _row(4, 2, 3, "2024-01-04", "A sourdough starter for bread wants flour and water.", parent=1),
        _row(5, 1, 11, "2024-02-01", "Why is my sourdough starter bread dense?", "Dense sourdough bread"),
        _row(6, 2, 1, "2024-02-02", "A weak sourdough starter makes dense bread; feed it more.", parent=5),
        _row(7, 2, 11, "2024-02-03", "Sourdough starter bread dense again.", parent=5),
    ], USERS)
    secret = _dump(tmp_path / "sec", [
        _row(1, 1, 12, "2024-03-01", "Sourdough starter bread for the secret menu?", "Secret sourdough menu", accepted=2),
        _row(2, 2, 1, "2024-03-02", "Our secret sourdough starter bread uses rye.", parent=1),
    ], USERS)
    settings = Settings(home=tmp_path / "home", sources=[
        SourceSettings(name="pub", kind="stackexchange", path=str(public), options={"site": "pub.example"}),
        SourceSettings(name="sec", kind="stackexchange", path=str(secret), options={"site": "sec.example"},
                       acl=[AclRule(path="**", visible_to=["kitchen"])])],
        people={"Tess Teacher": ["pub:1", "sec:1"]},
        experts=ExpertSettings(exclude=["Carl Consent"]), auth=AuthSettings(mode="token"))
    settings.profiles = {"pub:3": ProfileSettings(available=False),
                         "Tess Teacher": ProfileSettings(ask_me_about=["sourdough starter"])}
    run_ingest(settings, fake_embedder)
    client = TestClient(create_app(settings, embedder=fake_embedder))
    from index.tokens import TokenStore
    tokens = TokenStore(settings.home / "state.sqlite")
    return {"client": client, "kitchen": tokens.create("kim", ["kitchen"]), "staff": tokens.create("sam", ["eng"])}


def _get(forum, who: str, path: str, **params):
    return forum["client"].get(path, params=params, headers={"Authorization": f"Bearer {forum[who]}"})


def test_mentors_have_taught_with_receipts_and_respect_consent_and_availability(forum):
    mentors = _get(forum, "kitchen", "/api/mentors", q=TOPIC).json()["mentors"]
    names = [m["person"]["name"] for m in mentors]
    assert names and names[0] == "Tess Teacher"
    assert "Carl Consent" not in names  # on the consent list: in no mentor list
    assert "Alice Away" not in names  # not taking questions
    tess = mentors[0]
    assert tess["accepted_answers_to_newcomers"] >= 1 and tess["asks_to_be_asked"] is True
    assert {r["kind"] for r in tess["receipts"]} <= {"answered", "newcomer", "built-on"} and tess["receipts"]
    assert "Olga Old" not in names  # answered only her own question: no teaching
    assert _get(forum, "kitchen", "/api/mentors", topic="sourdough").json()["mentors"][0]["person"]["name"] == "Tess Teacher"


def test_restricted_documents_do_not_shape_mentors_outside_their_group(forum):
    inside = _get(forum, "kitchen", "/api/mentors", q=TOPIC).json()["mentors"][0]
    outside = _get(forum, "staff", "/api/mentors", q=TOPIC).json()["mentors"][0]
    assert inside["person"]["name"] == outside["person"]["name"] == "Tess Teacher"
    teach = lambda m: m["answers_to_others"] + m["accepted_answers_to_newcomers"] + m["pages_built_on"]  # noqa: E731
    assert teach(inside) == teach(outside) + 1  # the secret thread counts only for its group
    text = _get(forum, "staff", "/api/mentors", q=TOPIC).text
    assert "Secret" not in text and "secret" not in text and "Rita" not in text
    page = _get(forum, "staff", "/topics/sourdough").text
    assert "Secret" not in page and "Rita" not in page


def test_the_learn_this_from_box_is_on_the_topic_and_person_pages(forum):
    soup = BeautifulSoup(_get(forum, "kitchen", "/topics/sourdough").text, "html.parser")
    box = soup.select_one("#mentors")
    assert [a.text for a in box.select(".mentor-name")][0] == "Tess Teacher"
    assert box.select(".receipts a")
    tess = _get(forum, "kitchen", "/api/mentors", q=TOPIC).json()["mentors"][0]["person"]["id"]
    page = BeautifulSoup(_get(forum, "kitchen", f"/people/{tess}").text, "html.parser")
    assert "Ask me about" in page.select_one("#ask-me-about").text
    assert "to newcomers" in page.select_one("#teaching").text
    assert page.select_one("#mentors") is not None  # others who teach their topic (maybe nobody)
    assert "Tess Teacher" not in [a.text for a in page.select("#mentors .mentor-name")]
