"""Votes and opens teach the ranking, within bounds, without leaking across permissions."""

from __future__ import annotations

import json
import sqlite3

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.feedback import FeedbackLog
from index.gaps import normalise
from index.settings import AclRule, AuthSettings
from index.tokens import TokenStore
from ingest.pipeline import run_ingest
from web.app import create_app
from web.cli import main

from .conftest import write

QUERY = "reset the office vpn password"


@pytest.fixture
def vpn(settings, wiki, fake_embedder):
    """Three pages that answer the query almost equally well, one of them restricted."""
    write(wiki / "it/vpn.md", "# VPN password\n\nTo reset the office vpn password open the portal and "
          "choose reset; the vpn password must be new.\n")
    write(wiki / "it/vpn-help.md", "# VPN help\n\nReset the office vpn password from the portal when the "
          "vpn password expired; choose a new one.\n")
    write(wiki / "secret/vpn-admin.md", "# VPN admin keys\n\nAdmins reset the office vpn password keys "
          "for the vpn password store.\n")
    settings.sources[0].acl = [AclRule(path="secret/*", visible_to=["netops"])]
    settings.auth = AuthSettings(mode="token")
    run_ingest(settings, fake_embedder)
    app = create_app(settings, embedder=fake_embedder)
    tokens = TokenStore(settings.home / "state.sqlite")
    names = {"ann": ["eng"], "ben": ["eng"], "cat": ["eng"], "net": ["netops"], "adm": ["admins", "netops"]}
    return {"client": TestClient(app), "app": app, "settings": settings,
            **{n: tokens.create(n, g) for n, g in names.items()}}


def auth(ctx, who):
    return {"Authorization": f"Bearer {ctx[who]}"}


def ranked(ctx, who, q=QUERY):
    r = ctx["client"].get("/api/search", params={"q": q, "experts": "false"}, headers=auth(ctx, who))
    assert r.status_code == 200
    return r.json()["hits"]


def vote(ctx, who, doc_id, v=1, q=QUERY, kind="result"):
    body = {"kind": kind, "query": q, "vote": v, ("person_id" if kind == "expert" else "doc_id"): doc_id}
    return ctx["client"].post("/api/feedback", json=body, headers=auth(ctx, who))


def test_second_rises_to_first_after_three_viewers(vpn):
    before = ranked(vpn, "ann")
    second = before[1]["doc_id"]
    assert before[0]["doc_id"] != second
    for who in ("ann", "ben", "cat"):
        assert vote(vpn, who, second).status_code == 204
    after = ranked(vpn, "ann")
    assert after[0]["doc_id"] == second
    assert after[0]["score"] <= before[1]["score"] * vpn["settings"].feedback.max_boost


def test_a_hundred_votes_from_one_viewer_are_one(vpn):
    second = ranked(vpn, "ann")[1]
    assert vote(vpn, "ann", second["doc_id"]).status_code == 204
    once = next(h for h in ranked(vpn, "ann") if h["doc_id"] == second["doc_id"])["score"]
    for _ in range(100):
        vote(vpn, "ann", second["doc_id"])
    many = next(h for h in ranked(vpn, "ann") if h["doc_id"] == second["doc_id"])["score"]
    assert once > second["score"]
    assert many == pytest.approx(once)
    rows = sqlite3.connect(vpn["settings"].home / "state.sqlite").execute("SELECT count(*) FROM feedback")
    assert rows.fetchone()[0] == 1  # and the second vote replaced the first


def test_a_down_vote_replaces_the_up_vote(vpn):
    top = ranked(vpn, "ann")[0]
    vote(vpn, "ann", top["doc_id"], 1)
    vote(vpn, "ann", top["doc_id"], -1)
    score = next(h for h in ranked(vpn, "ann") if h["doc_id"] == top["doc_id"])["score"]
    assert score < top["score"]


def test_restricted_document_vote_from_outsider_is_refused(vpn):
    secret = next(h["doc_id"] for h in ranked(vpn, "net") if "vpn-admin" in h["doc_id"])
    assert vote(vpn, "ann", secret).status_code == 403
    assert vpn["client"].post("/api/click", json={"query": QUERY, "doc_id": secret, "rank": 1},
                              headers=auth(vpn, "ann")).status_code == 403
    assert vote(vpn, "ann", "wiki/no-such-page").status_code == 403  # the same answer: existence is not told
    assert vote(vpn, "net", secret).status_code == 204
    assert all("vpn-admin" not in h["doc_id"] for h in ranked(vpn, "ann"))  # its votes show nobody else


def test_voting_needs_the_same_sign_in_as_searching(vpn):
    body = {"kind": "result", "query": QUERY, "doc_id": "wiki/it/vpn", "vote": 1}
    assert vpn["client"].post("/api/feedback", json=body).status_code == 401


def test_local_mode_needs_the_pages_csrf_token_and_hashes_the_address(settings, fake_embedder):
    run_ingest(settings, fake_embedder)
    client = TestClient(create_app(settings, embedder=fake_embedder))
    page = client.get("/search", params={"q": "laptop"})
    csrf = BeautifulSoup(page.text, "html.parser").find("meta", attrs={"name": "whoknows-csrf"})["content"]
    doc = page.text.split('data-doc-id="')[1].split('"')[0]
    body = {"kind": "result", "query": "laptop", "doc_id": doc, "vote": 1}
    assert client.post("/api/feedback", json=body).status_code == 403
    assert client.post("/api/feedback", json=body, headers={"X-CSRF-Token": csrf,
                                                            "Origin": "https://evil.example"}).status_code == 403
    assert client.post("/api/feedback", json=body, headers={"X-CSRF-Token": csrf}).status_code == 204
    click = {"query": "laptop", "doc_id": doc, "rank": 1}
    assert client.post("/api/click", json=click, headers={"X-CSRF-Token": csrf}).status_code == 204
    db = sqlite3.connect(settings.home / "state.sqlite")
    (viewer,) = db.execute("SELECT viewer FROM feedback").fetchone()
    assert viewer.startswith("anon:") and "testclient" not in viewer and len(viewer) > 20
    assert db.execute("SELECT viewer FROM clicks").fetchone()[0] == viewer


def test_votes_survive_reindexing(vpn, wiki, fake_embedder):
    second = ranked(vpn, "ann")[1]["doc_id"]
    for who in ("ann", "ben", "cat"):
        vote(vpn, who, second)
    write(wiki / "misc.md", "# Lunch\n\nThe canteen opens at noon.\n")
    run_ingest(vpn["settings"], fake_embedder)
    assert ranked(vpn, "ann")[0]["doc_id"] == second


def test_similar_queries_get_a_weaker_boost(vpn):
    hits = ranked(vpn, "ann")
    doc = hits[1]["doc_id"]
    before = {q: next(h["score"] for h in ranked(vpn, "ann", q) if h["doc_id"] == doc)
              for q in (QUERY, QUERY + " now", "canteen lunch")}
    for who in ("ann", "ben", "cat"):
        vote(vpn, who, doc)
    gain = {q: next((h["score"] for h in ranked(vpn, "ann", q) if h["doc_id"] == doc), s) / s
            for q, s in before.items()}
    assert gain[QUERY] > gain[QUERY + " now"] > 1.0
    assert gain["canteen lunch"] == pytest.approx(1.0)


def test_expert_votes_reorder_the_experts(vpn):
    q = "home office expenses travel"

    def experts():
        r = vpn["client"].get("/api/experts", params={"q": q}, headers=auth(vpn, "ann"))
        return [e["person"]["id"] for e in r.json()["experts"]]

    def scores(ids):  # the finder's own ordering scores (the API shows strength bands, not scores)
        finder = vpn["app"].state.searcher.expert_finder
        return dict(finder.adjust(q, [(pid, 0.0) for pid in ids]))

    before = experts()
    assert len(before) >= 2
    low = before[-1]
    assert scores(before) == {pid: 0.0 for pid in before}
    for who in ("ann", "ben", "cat"):
        assert vote(vpn, who, low, q=q, kind="expert").status_code == 204
    after = scores(before)
    assert 0.0 < after[low] < 0.41  # log of the expert bound 1.5
    assert all(after[pid] == 0.0 for pid in before if pid != low)
    assert experts().index(low) <= before.index(low)
    assert vote(vpn, "ann", "p00000000000", kind="expert").status_code == 403


def test_retention_prunes_old_votes(tmp_path):
    log = FeedbackLog(tmp_path / "state.sqlite", retention_days=30)
    log.vote("result", "old question", "wiki/a", "ann", 1, now=1_000.0)
    log.vote("result", "new question", "wiki/a", "ann", 1)
    log.click("old question", "wiki/a", "ann", 2, now=1_000.0)
    for _ in range(5):
        log.click("new question", "wiki/a", "ann", 1)
    log.prune()  # also done by the writes, at most hourly
    rows = log.rows()
    assert [v.query for v in rows.votes] == ["new question"]
    assert [c.query for c in rows.clicks] == ["new question"]  # the same open within the hour: one row


def test_admin_page_and_cli_list_down_votes_and_unhelpful_opens(vpn, capsys):
    top = ranked(vpn, "ann")[0]
    for who in ("ann", "ben"):
        vote(vpn, who, top["doc_id"], -1)
        assert vpn["client"].post("/api/click", json={"query": "printer jam", "doc_id": top["doc_id"], "rank": 3},
                                  headers=auth(vpn, who)).status_code == 204
    page = BeautifulSoup(vpn["client"].get("/admin", headers=auth(vpn, "adm")).text, "html.parser")
    assert top["title"] in page.find(id="down-voted").get_text()
    assert "printer jam" in page.find(id="opened-not-helped").get_text()
    cfg = vpn["settings"].home.parent / "whoknows.toml"
    cfg.write_text(f'home = "{vpn["settings"].home}"\n')
    assert main(["feedback", "--json", "--config", str(cfg)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["down_voted"][0]["doc_id"] == top["doc_id"] and out["down_voted"][0]["down"] == 2
    assert out["opened_without_up_votes"][0]["query"] == normalise("printer jam")
