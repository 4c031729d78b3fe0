"""Re-index from the web: admins only, never forged by another site, one run at a time."""

from __future__ import annotations

import threading

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.generations import Home
from index.settings import AuthSettings
from index.tokens import TokenStore
from ingest.pipeline import run_ingest
from ingest.schedule import Scheduler
from web.app import create_app
from web.auth import COOKIE

from .conftest import write


class SlowRunner:
    """Records requested runs; each blocks until released, like a long re-index."""

    def __init__(self) -> None:
        self.calls: list[list[str] | None] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, sources: list[str] | None) -> int:
        self.calls.append(sources)
        self.started.set()
        self.release.wait(10)
        return 0


@pytest.fixture
def runner():
    r = SlowRunner()
    yield r
    r.release.set()


def app_with(settings, fake_embedder, runner, mode="token"):
    settings.auth = AuthSettings(mode=mode)
    run_ingest(settings, fake_embedder)
    return create_app(settings, embedder=fake_embedder, scheduler=Scheduler(settings, runner=runner))


@pytest.fixture
def site(settings, fake_embedder, runner):
    client = TestClient(app_with(settings, fake_embedder, runner))
    tokens = TokenStore(settings.home / "state.sqlite")
    return client, tokens.create("ada", ["admins"]), tokens.create("sam", ["eng"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_from_admin_page(client: TestClient, **kw) -> str:
    soup = BeautifulSoup(client.get("/admin", **kw).text, "html.parser")
    return soup.select_one("#reindex input[name=csrf]")["value"]


def test_api_reindex_with_a_bearer_token_starts_one_run_and_refuses_a_second(site, runner):
    client, admin, _ = site
    r = client.post("/api/reindex", headers=bearer(admin))
    assert r.status_code == 202 and r.json()["started"] is True
    assert runner.started.wait(5)
    busy = client.post("/api/reindex", headers=bearer(admin))
    assert busy.status_code == 409 and busy.json()["started"] is False
    assert runner.calls == [None]
    runner.release.set()


def test_api_reindex_one_source_and_unknown_source(site, runner):
    client, admin, _ = site
    assert client.post("/api/reindex", params={"source": "nope"}, headers=bearer(admin)).status_code == 400
    assert client.post("/api/reindex", params={"source": "wiki"}, headers=bearer(admin)).status_code == 202
    assert runner.started.wait(5) and runner.calls == [["wiki"]]


def test_non_admins_get_403_and_start_nothing(site, runner):
    client, _, staff = site
    assert client.post("/api/reindex", headers=bearer(staff)).status_code == 403
    client.cookies.set(COOKIE, staff)
    assert client.post("/admin/reindex", data={"csrf": "x"}).status_code == 403
    assert client.post("/api/reindex").status_code == 403
    assert client.post("/admin/reindex").status_code == 403
    assert runner.calls == []


def test_admin_page_button_with_its_csrf_token_starts_a_run(site, runner):
    client, admin, _ = site
    client.cookies.set(COOKIE, admin)
    token = csrf_from_admin_page(client)
    r = client.post("/admin/reindex", data={"csrf": token, "source": ""}, follow_redirects=False,
                    headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303 and r.headers["location"] == "/admin?reindex=started"
    assert runner.started.wait(5) and runner.calls == [None]
    page = BeautifulSoup(client.get(r.headers["location"]).text, "html.parser")
    assert page.select_one("#notice").get_text() == "Re-index started."
    busy = client.post("/admin/reindex", data={"csrf": token})
    assert busy.status_code == 409 and "already running" in busy.text


@pytest.mark.parametrize("form,headers", [
    ({}, {}),  # no token
    ({"csrf": "0" * 64}, {}),  # a made-up token
    ({"csrf": "VALID"}, {"Origin": "https://evil.example"}),
    ({"csrf": "VALID"}, {"Origin": "null"}),
    ({"csrf": "VALID"}, {"Sec-Fetch-Site": "cross-site"}),
    ({"csrf": "VALID"}, {"Sec-Fetch-Site": "same-site"}),
])
def test_forged_or_cross_site_form_posts_are_refused(site, runner, form, headers):
    client, admin, _ = site
    client.cookies.set(COOKIE, admin)
    if form.get("csrf") == "VALID":
        form = {"csrf": csrf_from_admin_page(client)}
    r = client.post("/admin/reindex", data=form, headers=headers)
    assert r.status_code == 403
    assert client.post("/api/reindex", headers={**headers, "X-CSRF-Token": form.get("csrf", "")}).status_code == 403
    assert runner.calls == []


def test_csrf_token_is_tied_to_the_sign_in_cookie(settings, fake_embedder, runner):
    client = TestClient(app_with(settings, fake_embedder, runner))
    tokens = TokenStore(settings.home / "state.sqlite")
    first, second = tokens.create("ada", ["admins"]), tokens.create("ada", ["admins"])
    client.cookies.set(COOKIE, first)
    token = csrf_from_admin_page(client)
    client.cookies.set(COOKIE, second)
    assert client.post("/admin/reindex", data={"csrf": token}).status_code == 403
    client.cookies.set(COOKIE, first)
    assert client.post("/admin/reindex", data={"csrf": token}, follow_redirects=False).status_code == 303


def test_csrf_token_expires_and_malformed_tokens_are_refused(site, runner):
    import time

    from web.auth import CSRF_MAX_AGE

    client, admin, _ = site
    client.cookies.set(COOKIE, admin)
    page_token = csrf_from_admin_page(client)
    auth = client.app.state.auth  # type: ignore[attr-defined]
    viewer = auth.tokens.owner(admin)
    from search.permissions import Viewer

    ada = Viewer(viewer.user, frozenset(viewer.groups), admin=True)

    class Req:  # what csrf_token reads of a request: the sign-in cookie
        cookies = {COOKIE: admin}

    stale = auth.csrf_token(ada, Req(), now=time.time() - CSRF_MAX_AGE - 60)
    future = auth.csrf_token(ada, Req(), now=time.time() + 3600)
    recent = auth.csrf_token(ada, Req(), now=time.time() - CSRF_MAX_AGE + 600)
    ts, mac = page_token.split(".")
    for bad in (stale, future, f"{ts}.{mac[:-1]}0" if mac[-1] != "0" else f"{ts}.{mac[:-1]}1",
                f"{int(ts) + 1}.{mac}", mac, "x.y", "9" * 40 + ".z", f"{ts}.ü{mac}", ""):
        assert client.post("/admin/reindex", data={"csrf": bad}).status_code == 403, bad
    assert runner.calls == []
    assert client.post("/admin/reindex", data={"csrf": recent}, follow_redirects=False).status_code == 303


def test_local_mode_needs_the_token_too_and_a_bearer_header_does_not_excuse_it(settings, fake_embedder, runner):
    """In local mode every loopback caller is the admin: exactly what a hostile page would abuse."""
    client = TestClient(app_with(settings, fake_embedder, runner, mode="local"))
    assert client.post("/api/reindex").status_code == 403
    assert client.post("/api/reindex", headers={"Authorization": "Bearer anything"}).status_code == 403
    token = csrf_from_admin_page(client)
    assert client.post("/api/reindex", headers={"X-CSRF-Token": token, "Origin": "http://evil.example"}
                       ).status_code == 403
    assert client.post("/api/reindex", headers={"X-CSRF-Token": token}).status_code == 202


def test_the_button_runs_a_real_reindex_that_publishes_a_new_generation(settings, wiki, fake_embedder):
    done = threading.Event()

    def real_run(sources: list[str] | None) -> int:
        try:
            return 0 if run_ingest(settings, fake_embedder).status == "ok" else 1
        finally:
            done.set()

    client = TestClient(app_with(settings, fake_embedder, real_run, mode="local"))
    before = Home(settings.home).current()
    write(wiki / "new.md", "# New page\n\nWritten after the first run.\n")
    r = client.post("/admin/reindex", data={"csrf": csrf_from_admin_page(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert done.wait(20)
    assert Home(settings.home).current() != before
