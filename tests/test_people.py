"""People across sources: the alias table merges identities; `whoknows people` lists them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from defusedxml.ElementTree import parse

from index.generations import NoIndex
from index.settings import Settings, SourceSettings
from ingest.pipeline import run_ingest
from search.people import list_people
from web.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
ALIASES = {
    "Ada Lovelace": ["ada@corp.example", "cardano:17"],
    "Bob Builder": ["forum:bob"],
}


def three_sources(tmp_path: Path, wiki: Path, people: dict[str, list[str]]) -> Settings:
    return Settings(home=tmp_path / "home", people=people, sources=[
        SourceSettings(name="wiki", kind="markdown", path=str(wiki)),
        SourceSettings(name="cardano", kind="stackexchange", path=str(FIXTURES / "stackexchange/cardano"),
                       options={"site": "cardano.stackexchange.com"}),
        SourceSettings(name="forum", kind="discourse", path=str(FIXTURES / "discourse"),
                       options={"base_url": "https://forum.example"}),
    ])


def owned_by(user_id: str, post_type: str) -> int:
    posts = parse(FIXTURES / "stackexchange/cardano/Posts.xml").getroot().iter("row")
    return sum(1 for p in posts if p.get("OwnerUserId") == user_id and p.get("PostTypeId") == post_type)


def test_alias_table_merges_a_wiki_author_and_forum_users(tmp_path, wiki, fake_embedder):
    settings = three_sources(tmp_path, wiki, ALIASES)
    assert run_ingest(settings, fake_embedder).status == "ok"
    people = {p.name: p for p in list_people(settings)}
    ada = people["Ada Lovelace"]
    assert ada.by_source["wiki"] == {"author": 1}
    assert ada.by_source["cardano"]["asker"] == owned_by("17", "1")
    assert ada.by_source["cardano"]["answerer"] == owned_by("17", "2")
    assert "cardano:17" in ada.handles and "ada@corp.example" in ada.emails
    assert "FelikZ" not in people  # user 17's own display name is now Ada's
    bob = people["Bob Builder"]
    assert set(bob.by_source) == {"wiki", "forum"}
    assert bob.contributions == sum(sum(r.values()) for r in bob.by_source.values())


def test_without_aliases_the_same_people_stay_apart(tmp_path, wiki, fake_embedder):
    settings = three_sources(tmp_path, wiki, {})
    run_ingest(settings, fake_embedder)
    people = {p.name: p for p in list_people(settings)}
    assert set(people["Ada Lovelace"].by_source) == {"wiki"}
    assert set(people["FelikZ"].by_source) == {"cardano"}
    assert set(people["bob"].by_source) == {"forum"}


def test_people_are_ordered_by_contributions_and_filtered_by_source(tmp_path, wiki, fake_embedder):
    settings = three_sources(tmp_path, wiki, ALIASES)
    run_ingest(settings, fake_embedder)
    people = list_people(settings)
    counts = [p.contributions for p in people]
    assert counts == sorted(counts, reverse=True)
    only_forum = list_people(settings, source="forum")
    assert only_forum and all("forum" in p.by_source for p in only_forum)
    assert len(only_forum) < len(people)


def test_people_before_any_ingest_is_a_clear_error(tmp_path):
    with pytest.raises(NoIndex):
        list_people(Settings(home=tmp_path / "home"))


def test_cli_people_json_shows_merged_identities(tmp_path, wiki, fake_embedder, capsys):
    config = tmp_path / "whoknows.toml"
    config.write_text(f"""home = "{tmp_path / 'home'}"
[people]
"Ada Lovelace" = ["ada@corp.example", "cardano:17"]

[[sources]]
name = "wiki"
kind = "markdown"
path = "{wiki}"

[[sources]]
name = "cardano"
kind = "stackexchange"
path = "{FIXTURES / 'stackexchange/cardano'}"
options = {{ site = "cardano.stackexchange.com" }}
""", encoding="utf-8")
    from index.settings import load_settings

    run_ingest(load_settings(config), fake_embedder)
    assert main(["people", "--json", "--config", str(config)]) == 0
    listed = json.loads(capsys.readouterr().out)
    ada = next(p for p in listed if p["name"] == "Ada Lovelace")
    assert set(ada["by_source"]) == {"wiki", "cardano"}
    assert ada["by_source"]["wiki"]["author"] == 1
    assert main(["people", "--limit", "2", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "cardano: " in "\n".join(lines)


def test_an_alias_names_a_username_alone_but_a_user_id_only_with_its_source():
    from index.models import Person
    from index.people import PeopleResolver

    resolver = PeopleResolver({"Ada Lovelace": ["ada", "cardano:17"]})
    forum_ada = resolver.resolve(Person(id="", name="ada", handles=["forum:ada"]))
    se_17 = resolver.resolve(Person(id="", name="FelikZ", handles=["cardano:17"]))
    other_17 = resolver.resolve(Person(id="", name="Somebody", handles=["forum:17"]))
    assert forum_ada.name == se_17.name == "Ada Lovelace" and forum_ada.id == se_17.id
    bare = PeopleResolver({"Ada Lovelace": ["17"]})
    assert bare.resolve(Person(id="", name="Somebody", handles=["forum:17"])).name == "Somebody"
    assert other_17.name == "Somebody" and other_17.id != se_17.id


def test_store_reads_more_ids_than_one_sql_statement_takes(tmp_path):
    """SQLite builds cap the ``?`` marks of one statement (999 before 3.32, 32,766 since; this
    machine's build 250,000), and a large site has more contributors than that: reads by id
    go in batches instead of failing with "too many SQL variables"."""
    import sqlite3

    from index.models import Chunk, Contribution, Document, Person, Section
    from index.store import Store
    s = Store.open_write(tmp_path / "store.sqlite")
    s.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    people = [Person(f"P{i}", emails=[f"p{i}@corp.example"], id=f"p{i}") for i in range(2_000)]
    s.begin()
    for p in people:
        s.upsert_person(p)
    doc = Document(id="d/1", source="s", kind="wiki", title="t", sections=[Section("x")],
                   contributions=[Contribution(people[-1], "author")])
    s.put_document(doc, [Chunk(doc_id=doc.id, position=0, text="x")])
    s.commit()
    ids = [p.id for p in people]
    assert len(s.people_by_ids(ids)) == 2_000
    emails = s.emails_of(ids)
    assert len(emails) == 2_000 and emails["p1999"] == ["p1999@corp.example"]
    missing = [f"no/{i}" for i in range(2_000)]
    assert [r[:2] for r in s.author_rows([*missing, "d/1"])] == [("d/1", "p1999")]
    assert s.authors_of([*missing, "d/1"])["d/1"] == s.people_by_ids(["p1999"])
    assert [c.person_id for c in s.contributions_to([*missing, "d/1"])] == ["p1999"]
    assert s.chunk_ids_of([*missing, "d/1"])["d/1"] == list(s.chunk_hashes())
    s.close()
