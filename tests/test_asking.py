"""Profiles ([people.<who>]) and fair routing applied live: whom whoknows suggests asking."""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.settings import ConfigError, ProfileSettings, Settings, load_settings
from ingest.pipeline import run_ingest
from web.app import create_app

from .conftest import write

QUERY = "expense a desk and chair for the home office"


def _client(settings: Settings, fake_embedder, profiles: dict[str, ProfileSettings]) -> TestClient:
    settings.profiles = profiles
    run_ingest(settings, fake_embedder)
    return TestClient(create_app(settings, embedder=fake_embedder))


def _names(items: list[dict]) -> list[str]:
    return [x["person"]["name"] for x in items]


def _csrf(client: TestClient) -> str:
    page = client.get("/search", params={"q": QUERY})
    return BeautifulSoup(page.text, "html.parser").find("meta", attrs={"name": "whoknows-csrf"})["content"]


def test_profiles_are_read_from_people_tables_beside_the_aliases(tmp_path: Path):
    cfg = write(tmp_path / "whoknows.toml", """
[people]
"Ada Lovelace" = ["ada@corp.example", "wiki:ada"]

[people."ada@corp.example"]
ask_me_about = ["expenses", "home office"]
weekly_cap = 3

[people."Bob Builder"]
available = false
""")
    s = load_settings(cfg)
    assert s.people == {"Ada Lovelace": ["ada@corp.example", "wiki:ada"]}
    assert s.profiles["ada@corp.example"] == ProfileSettings(["expenses", "home office"], True, 3)
    assert s.profiles["Bob Builder"].available is False


@pytest.mark.parametrize("body, message", [
    ("weekly_cap = -1", "weekly_cap must be 0"),
    ('available = "no"', "expected bool"),
    ("ask_me_about = [\"\"]", "a topic is empty"),
    ("ask_me_about = \"expenses\"", "expected a list"),
    ("asks = 1", "unknown setting"),
])
def test_a_bad_profile_is_a_clear_config_error(tmp_path: Path, body: str, message: str):
    cfg = write(tmp_path / "whoknows.toml", f'[people."ada@corp.example"]\n{body}\n')
    with pytest.raises(ConfigError, match=message) as e:
        load_settings(cfg)
    assert "people.ada@corp.example" in str(e.value)


def test_the_profile_is_shown_on_the_persons_page(settings, fake_embedder):
    client = _client(settings, fake_embedder, {
        "ada@corp.example": ProfileSettings(["expenses", "home office"], weekly_cap=2),
        "Bob Builder": ProfileSettings(available=False)})
    ada = next(e for e in client.get("/api/experts", params={"q": QUERY}).json()["experts"]
               if e["person"]["name"] == "Ada Lovelace")["person"]["id"]
    soup = BeautifulSoup(client.get(f"/people/{ada}").text, "html.parser")
    assert [a.text for a in soup.select("#ask-me-about a")] == ["expenses", "home office"]
    assert "2 routed questions a week" in soup.select_one("#weekly-cap").text
    assert soup.select_one("#not-available") is None
    assert client.get(f"/api/people/{ada}").json()["profile"]["ask_me_about"] == ["expenses", "home office"]
    bob = next(e for e in client.get("/api/experts", params={"q": QUERY}).json()["experts"]
               if e["person"]["name"] == "Bob Builder")["person"]["id"]
    soup = BeautifulSoup(client.get(f"/people/{bob}").text, "html.parser")
    assert "Not taking questions right now" in soup.select_one("#not-available").text


def test_an_unavailable_person_is_never_routed_but_still_shown_as_knowing(settings, fake_embedder):
    client = _client(settings, fake_embedder, {"ada@corp.example": ProfileSettings(available=False)})
    experts = client.get("/api/experts", params={"q": QUERY}).json()
    assert "Ada Lovelace" in _names(experts["experts"])  # who knows: the evidence, honestly
    assert "Ada Lovelace" not in _names(experts["ask"]) and _names(experts["ask"])
    ask = client.get("/api/ask", params={"q": QUERY}).json()
    assert "Ada Lovelace" not in _names(ask["ask"])
    assert "ada@corp.example" not in ask["ask_link"]
    for path in ("/search", "/ask", "/popup"):
        soup = BeautifulSoup(client.get(path, params={"q": QUERY}).text, "html.parser")
        asked = [a.text for a in soup.select("a.ask-person")]
        assert asked and "Ask Ada Lovelace" not in asked, path
    search = BeautifulSoup(client.get("/search", params={"q": QUERY}).text, "html.parser")
    assert "Ada Lovelace" in [a.text for a in search.select("aside.experts .expert-name")]
    assert "spread fairly" in search.select_one(".routing-note").text
    client.get("/ask", params={"q": "zebra migration patterns"})  # a gap
    gaps = client.get("/api/gaps").json()["gaps"]
    assert gaps and all("Ada Lovelace" not in _names(g["ask"]) for g in gaps)
    ada = next(e["person"]["id"] for e in experts["experts"] if e["person"]["name"] == "Ada Lovelace")
    r = client.post("/api/asked", json={"query": QUERY, "person_ids": [ada]}, headers={"X-CSRF-Token": _csrf(client)})
    assert r.status_code == 422  # a forged "ask" of someone not taking questions is not counted


def test_the_weekly_cap_is_respected(settings, fake_embedder):
    client = _client(settings, fake_embedder, {"Bob Builder": ProfileSettings(weekly_cap=2)})
    csrf = _csrf(client)
    bob = next(e["person"]["id"] for e in client.get("/api/experts", params={"q": QUERY}).json()["experts"]
               if e["person"]["name"] == "Bob Builder")
    def asked(question: str) -> int:
        r = client.post("/api/asked", json={"query": question, "person_ids": [bob]}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200
        return r.json()["recorded"]

    assert "Bob Builder" in _names(client.get("/api/experts", params={"q": QUERY}).json()["ask"])
    assert asked(QUERY) == 1
    assert asked(QUERY) == 0  # the same question again within the hour is not a second one
    assert "Bob Builder" in _names(client.get("/api/experts", params={"q": QUERY}).json()["ask"])  # 1 of 2
    assert asked("home office chair") == 1
    assert "Bob Builder" not in _names(client.get("/api/experts", params={"q": QUERY}).json()["ask"])
    assert "Bob Builder" in _names(client.get("/api/experts", params={"q": QUERY}).json()["experts"])
    assert client.post("/api/asked", json={"query": QUERY, "person_ids": [bob]}).status_code == 403  # no token


def test_loads_spread_whom_to_ask_first(settings, fake_embedder):
    client = _client(settings, fake_embedder, {})
    csrf = _csrf(client)
    first = client.get("/api/experts", params={"q": QUERY}).json()["ask"][0]["person"]
    for i in range(8):
        client.post("/api/asked", json={"query": f"{QUERY} {i}", "person_ids": [first["id"]]},
                    headers={"X-CSRF-Token": csrf})
    ask = client.get("/api/experts", params={"q": QUERY}).json()["ask"]
    assert ask[0]["person"]["id"] != first["id"]  # asked eight times this week: a near tie goes to the other
    assert first["id"] in [a["person"]["id"] for a in ask]
