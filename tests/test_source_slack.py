"""The slack source over a hand-written export (tests/fixtures/slack), as a folder and as a zip."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from index.generations import Home
from index.models import Document
from index.settings import AuthSettings, Settings, SourceSettings
from ingest.pipeline import run_ingest
from ingest.sources.slack import SlackSource, looks_like_slack_export
from search.permissions import Viewer
from web.app import create_app

from .conftest import source_items, write

FIXTURE = Path(__file__).parent / "fixtures" / "slack"
VPN = "chat/C01GEN/1709283600.000100"
OOM = "chat/C02ENG/1709290800.000100"
FALCON = "chat/G01FAL/1709542800.000100"


def source(path: Path, tmp_path: Path, **options: Any) -> SlackSource:
    options.setdefault("workspace_url", "https://corp.slack.com")
    cfg = SourceSettings(name="chat", kind="slack", path=str(path), options=options)
    return SlackSource(cfg, Settings(home=tmp_path / "home"))


def read(src: SlackSource) -> tuple[dict[str, Document], dict[str, str], list[str]]:
    return source_items(src.iter_documents())


def zipped(folder: Path, dest: Path, top: str = "") -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*.json")):
            zf.write(p, top + p.relative_to(folder).as_posix())
    return dest


def test_a_thread_is_one_document_with_each_replys_author(tmp_path):
    docs, _, _ = read(source(FIXTURE, tmp_path))
    doc = docs[VPN]  # the replies span two day files
    assert doc.kind == "forum"
    assert doc.title.startswith("#general: How do I rotate the VPN certificate")
    assert [s.author.name for s in doc.sections] == ["Bob Builder", "Ada Lovelace", "Carol Chen", "Bob Builder",
                                                     "Dan Dev"]
    assert [s.anchor for s in doc.sections][:2] == ["p1709283600000100", "p1709283700000200"]
    assert doc.sections[1].heading == "Ada Lovelace, 2024-03-01 09:01"
    assert doc.url == "https://corp.slack.com/archives/C01GEN/p1709283600000100"
    assert doc.sections[1].author.emails == ["ada@corp.example"]
    assert doc.sections[1].author.profile_url == "https://corp.slack.com/team/U01ADA"
    assert doc.visible_to == ["everyone"] and doc.tags == ["general"]


def test_roles_and_the_thanked_person_is_the_answerer(tmp_path):
    docs, _, _ = read(source(FIXTURE, tmp_path))
    roles = [(c.person.name, c.role, c.section, c.score) for c in docs[VPN].contributions]
    assert roles == [
        ("Bob Builder", "asker", 0, 1),
        ("Ada Lovelace", "answerer", 1, 2),
        ("Ada Lovelace", "accepted-answerer", 1, 2),  # "thanks @Ada": wins over Dan's 3 reactions
        ("Carol Chen", "answerer", 2, 0),
        ("Bob Builder", "commenter", 3, 0),
        ("Dan Dev", "answerer", 4, 3),
    ]


def test_reactions_are_votes_and_without_thanks_the_most_reacted_reply_answers(tmp_path):
    docs, _, _ = read(source(FIXTURE, tmp_path))
    roles = [(c.person.name, c.role, c.score) for c in docs[OOM].contributions]
    # Dan's reply: tada x3 and +1 x2, one of them his own: 4 votes
    assert roles == [("Carol Chen", "asker", 0), ("Dan Dev", "answerer", 4), ("Dan Dev", "accepted-answerer", 4),
                     ("Bob Builder", "answerer", 1)]
    # in the private channel the asker's check-mark reaction credits the reply
    assert [c.role for c in docs[FALCON].contributions] == ["asker", "answerer", "accepted-answerer"]


def test_markup_becomes_readable_text_with_names(tmp_path):
    docs, _, _ = read(source(FIXTURE, tmp_path))
    vpn = docs[VPN]
    assert vpn.sections[0].text.endswith("@Ada Lovelace any idea?")
    assert "see [the VPN page](https://wiki.corp.example/vpn). Certificates & keys" in vpn.sections[1].text
    assert vpn.sections[2].text == "I think the runbook is pinned in #engineering"
    assert "\n```\nexport GRADLE_OPTS=-Xmx2g\n```\n" in docs[OOM].sections[1].text
    gone = docs["chat/C02ENG/1709295000.000400"]
    assert gone.sections[0].text == "@here the staging database moved to db2; questions to dba@corp.example"


def test_unthreaded_messages_form_runs_split_by_the_quiet_gap(tmp_path):
    docs, _, _ = read(source(FIXTURE, tmp_path))
    run = docs["chat/C01GEN/1709287200.000500"]
    assert run.kind == "chat"
    assert [s.author.name for s in run.sections] == ["Dan Dev", "Carol Chen", "Dan Dev"]
    assert run.sections[2].heading == "Dan Dev, 2024-03-01 10:10 (edited)"
    assert run.updated_at.isoformat() == "2024-03-01T10:13:20+00:00"  # the edit
    assert {c.role for c in run.contributions} == {"author"}
    assert "chat/C01GEN/1709301600.000800" in docs  # four hours later: a run of its own
    docs, _, _ = read(source(FIXTURE, tmp_path, quiet_minutes=600))
    assert len(docs["chat/C01GEN/1709287200.000500"].sections) == 4
    docs, _, _ = read(source(FIXTURE, tmp_path, max_run_messages=2))
    assert len(docs["chat/C01GEN/1709287200.000500"].sections) == 2 and "chat/C01GEN/1709287800.000700" in docs


def test_joins_bots_deleted_messages_and_dms_are_left_out(tmp_path):
    docs, _, _ = read(source(FIXTURE, tmp_path))
    text = "\n".join(d.text for d in docs.values())
    for absent in ("has joined", "Deployed release 42", "Build 4711", "This message was deleted", "lunch at noon"):
        assert absent not in text
    gone = docs["chat/C02ENG/1709295000.000400"]  # the parent is a tombstone: the reply stays, no asker
    assert [c.role for c in gone.contributions] == ["answerer"]
    assert gone.url.endswith("?thread_ts=1709295000.000400&cid=C02ENG")
    docs, _, _ = read(source(FIXTURE, tmp_path, include_dms=True))
    dm = docs["chat/D01ADABOB/1709283900.000100"]
    assert dm.visible_to == ["user:ada@corp.example", "user:bob@corp.example"] and dm.tags == []


def test_private_channels_are_visible_to_their_members_or_the_mapped_groups(tmp_path):
    docs, _, _ = read(source(FIXTURE, tmp_path))
    assert docs[FALCON].visible_to == ["user:ada@corp.example", "user:carol@corp.example"]
    docs, _, _ = read(source(FIXTURE, tmp_path, channel_groups={"falcon": ["falcon-team"], "C02ENG": ["eng"]}))
    assert docs[FALCON].visible_to == ["falcon-team"]
    assert docs[OOM].visible_to == ["eng"]  # a public channel can be restricted too


def test_bad_input_is_reported_per_item_and_the_rest_indexed(tmp_path):
    docs, failures, _ = read(source(FIXTURE, tmp_path))
    assert len(docs) == 7
    assert failures["general/2024-03-03.json"].startswith("not valid JSON (cut off or damaged?)")
    assert failures["engineering/2024-03-05.json"] == "not a list of messages"
    assert failures["engineering/2024-03-01.json"] == "2 entries without a readable message and ts skipped"
    assert failures["users/U09GHOST"].startswith("unknown user id U09GHOST")
    assert failures["random"].startswith("folder is in none of channels.json")
    ghost = docs["chat/C01GEN/1709370000.001100"]
    assert ghost.sections[0].author.name == "Gus Ghost"  # from the message's own user_profile


def test_a_zip_reads_as_its_folder_and_bad_zips_fail_only_that_source(tmp_path):
    folder_docs, _, _ = read(source(FIXTURE, tmp_path))
    for top in ("", "Corp Slack export Mar 1 2024/"):
        archive = zipped(FIXTURE, tmp_path / "export.zip", top)
        assert looks_like_slack_export(archive)
        docs, failures, _ = read(source(archive, tmp_path))
        assert {k: v.content_hash() for k, v in docs.items()} == {k: v.content_hash() for k, v in folder_docs.items()}
        assert "general/2024-03-03.json" in failures
    broken = write(tmp_path / "broken.zip", archive.read_bytes()[:-100])  # cut off: no central directory
    with pytest.raises(ValueError, match="broken.zip is not a readable zip"):
        read(source(broken, tmp_path))


def test_zip_members_are_never_read_past_the_size_limit_nor_outside_the_export(tmp_path):
    archive = zipped(FIXTURE, tmp_path / "export.zip")
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("general/2024-03-09.json", "[" + " " * 3_000_000 + "]")  # 3 MB of blanks, packs to KB
        zf.writestr("../../etc/evil.json", "[]")
        zf.writestr("/abs/evil.json", "[]")
    src = source(archive, tmp_path)
    src.cfg.max_file_mb = 1
    docs, failures, _ = read(src)
    assert failures["general/2024-03-09.json"].startswith("larger than max_file_mb")
    assert "member path leaves the export" in failures["../../etc/evil.json"]
    assert "member path leaves the export" in failures["/abs/evil.json"]
    assert len(docs) == 7


def test_export_detection_for_init(tmp_path):
    assert looks_like_slack_export(FIXTURE)
    assert not looks_like_slack_export(FIXTURE / "general")
    assert not looks_like_slack_export(write(tmp_path / "not.zip", b"PK\x03\x04 nope"))
    assert not looks_like_slack_export(tmp_path / "missing")


def test_unchanged_export_is_not_read_again_and_a_broken_day_keeps_its_documents(tmp_path):
    export = tmp_path / "export"
    shutil.copytree(FIXTURE, export)
    src = source(export, tmp_path)
    first, _, _ = read(src)
    again = source(export, tmp_path)
    again.state = src.state
    docs, failures, unchanged = read(again)
    assert docs == {} and sorted(unchanged) == sorted(first) and "random" in failures
    write(export / "falcon/2024-03-04.json", '[{"type": "message", "te')  # damaged since the last run
    later = source(export, tmp_path)
    later.state = src.state
    docs, failures, unchanged = read(later)
    assert unchanged == [FALCON] and FALCON not in docs and "falcon/2024-03-04.json" in failures
    assert len(docs) == 6


# ---- through the pipeline: people merged, the private channel reaches only its members ----


@pytest.fixture
def indexed(settings, fake_embedder):
    settings.sources.append(SourceSettings(name="chat", kind="slack", path=str(FIXTURE)))
    settings.auth = AuthSettings(mode="token")
    rec = run_ingest(settings, fake_embedder)
    assert rec.status == "ok" and rec.sources["chat"].added == 7 and rec.sources["chat"].failed == 5
    client = TestClient(create_app(settings, embedder=fake_embedder))
    from index.tokens import TokenStore
    tokens = TokenStore(settings.home / "state.sqlite")
    return {"client": client, "settings": settings,
            "carol": tokens.create("carol@corp.example", []), "bob": tokens.create("bob@corp.example", []),
            "forger": tokens.create("mallory", ["user:carol@corp.example"])}


def get(indexed: dict, who: str, path: str, **params: str) -> Any:
    r = indexed["client"].get(path, params=params, headers={"Authorization": f"Bearer {indexed[who]}"})
    assert r.status_code == 200
    return r.json()


def test_slack_people_merge_with_wiki_authors_by_email(indexed):
    reader = Home(indexed["settings"].home).open_reader()
    authors = reader.store.authors_of(["wiki/expenses.md", VPN])
    ada_wiki = next(p for p in authors["wiki/expenses.md"] if p.name == "Ada Lovelace")
    assert ada_wiki.id in {p.id for p in authors[VPN]}


def test_private_channel_reaches_only_its_members(indexed):
    q = "satellite uplink codename BLUEBIRD"
    member = get(indexed, "carol", "/api/search", q=q)
    assert member["hits"][0]["doc_id"] == FALCON
    for who in ("bob", "forger"):
        outsider = get(indexed, who, "/api/search", q=q)
        assert all(h["doc_id"] != FALCON for h in outsider["hits"])
        outsider.pop("query")  # the asker's own words echoed back are no leak
        assert "BLUEBIRD" not in json.dumps(outsider) and "falcon" not in json.dumps(outsider).lower()
        assert outsider["facets"]["source"]["chat"] == member["facets"]["source"]["chat"] - 1
        experts = json.dumps(get(indexed, who, "/api/experts", q=q))
        assert "G01FAL" not in experts and "falcon vault" not in experts
    assert "G01FAL" in json.dumps(get(indexed, "carol", "/api/experts", q=q))
    store = Home(indexed["settings"].home).open_reader().store
    carol, bob = Viewer("carol@corp.example"), Viewer("bob@corp.example")
    assert store.count_visible(carol.restrict().groups) == store.count_visible(bob.restrict().groups) + 1


def test_reactions_reach_the_index_as_votes_and_a_thanked_reply_answers_asked_before(indexed):
    store = Home(indexed["settings"].home).open_reader().store
    stored = [(c.person.name, c.role, c.score) for c in store.document(OOM).contributions]
    assert ("Dan Dev", "accepted-answerer", 4) in stored and ("Bob Builder", "answerer", 1) in stored
    answer = get(indexed, "bob", "/api/ask", q="How do I rotate the VPN certificate before it expires?")
    before = answer["asked_before"]
    assert before["doc_id"] == VPN and before["accepted"] and before["author"] == "Ada Lovelace"
    assert "vpnctl rotate" in before["answer"]
