"""Who is asking: tokens (hashed, shown once), proxy headers from trusted addresses only."""

from __future__ import annotations

import sqlite3

from index.tokens import TokenStore
from web.cli import main


def test_token_create_prints_token_last_and_stores_only_its_hash(tmp_path, capsys):
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'home = "{tmp_path / "home"}"\n')
    assert main(["token", "create", "--user", "ann", "--groups", "hr,admins", "--config", str(cfg)]) == 0
    token = capsys.readouterr().out.split()[-1]
    assert token.startswith("wk_") and len(token) > 30
    store = TokenStore(tmp_path / "home" / "state.sqlite")
    owner = store.owner(token)
    assert owner is not None and owner.user == "ann" and owner.groups == ["admins", "hr"]
    raw = sqlite3.connect(tmp_path / "home" / "state.sqlite").execute("SELECT * FROM tokens").fetchall()
    assert token not in repr(raw)
    assert store.owner(token + "x") is None and store.owner("") is None
    assert main(["token", "revoke", "--id", str(owner.id), "--config", str(cfg)]) == 0
    assert store.owner(token) is None


def test_browser_sign_in_sets_an_httponly_cookie_that_pages_and_the_popup_accept(settings, fake_embedder):
    from bs4 import BeautifulSoup
    from fastapi.testclient import TestClient

    from index.settings import AuthSettings
    from ingest.pipeline import run_ingest
    from web.app import create_app

    settings.auth = AuthSettings(mode="token")
    run_ingest(settings, fake_embedder)
    client = TestClient(create_app(settings, embedder=fake_embedder))
    token = TokenStore(settings.home / "state.sqlite").create("ann", ["eng"])
    page = client.get("/search", params={"q": "expenses"})
    assert page.status_code == 401 and BeautifulSoup(page.text, "html.parser").select_one("form#login")
    assert client.get("/api/search", params={"q": "x"}).json()["detail"].startswith("a valid API token")
    assert client.post("/login", data={"token": token + "x"}).status_code == 401
    assert client.post("/login", data={"token": token}, headers={"Origin": "https://evil.example"}).status_code == 403
    r = client.post("/login", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie
    for path in ("/search", "/popup", "/ask"):
        assert client.get(path, params={"q": "expenses"}).status_code == 200, path
    assert client.post("/logout", follow_redirects=False).status_code == 303
    client.cookies.clear()
    assert client.get("/popup", params={"q": "expenses"}).status_code == 401


def test_secrets_stay_out_of_reprs_and_logs(tmp_path, capsys, caplog):
    from ingest.sources.discourse_api import ClientOptions

    assert "s3cret" not in repr(ClientOptions(api_key="s3cret"))
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'home = "{tmp_path / "home"}"\n')
    with caplog.at_level("DEBUG"):
        assert main(["token", "create", "--user", "ann", "--config", str(cfg)]) == 0
    token = capsys.readouterr().out.split()[-1]
    assert token not in caplog.text


def test_local_mode_refuses_a_rebound_host_name(settings, fake_embedder):
    """DNS rebinding: evil.example re-pointed at 127.0.0.1 must not read a local-mode server."""
    import httpx

    from ingest.pipeline import run_ingest
    from web.app import create_app

    from .browser import serve_app

    run_ingest(settings, fake_embedder)
    with serve_app(create_app(settings, embedder=fake_embedder)) as base:
        port = base.rsplit(":", 1)[1]
        assert httpx.get(f"{base}/api/search", params={"q": "expenses"}).status_code == 200
        assert httpx.get(f"{base}/search", headers={"Host": f"localhost:{port}"}).status_code == 200
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
            r = httpx.get(f"{base}/api/search", params={"q": "expenses"}, headers={"Host": host})
            assert r.status_code == 403, host
            assert "Expenses" not in r.text
        assert httpx.get(f"{base}/admin", headers={"Host": "evil.example"}).status_code == 403
