"""The "learn this from" box and the "whom to ask" links in real headless Chromium."""

from __future__ import annotations

import pytest

from index.settings import ProfileSettings, Settings, SourceSettings
from ingest.pipeline import run_ingest
from web.app import create_app

from .browser import ARTIFACTS, browser, needs_chromium, serve_app
from .test_mentors import TOPIC, USERS, _dump, _row

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def forum_site(tmp_path, fake_embedder):
    public = _dump(tmp_path / "pub", [
        _row(1, 1, 10, "2024-01-01", "How do I feed a sourdough starter for bread?", "Feeding a sourdough starter", accepted=2),
        _row(2, 2, 1, "2024-01-02", "Feed the sourdough starter flour and water daily for bread.", parent=1),
        _row(3, 2, 3, "2024-01-04", "A sourdough starter for bread wants flour and water.", parent=1),
    ], USERS)
    settings = Settings(home=tmp_path / "home", sources=[
        SourceSettings(name="pub", kind="stackexchange", path=str(public), options={"site": "pub.example"})])
    settings.profiles = {"Tess Teacher": ProfileSettings(ask_me_about=["sourdough starter"])}
    run_ingest(settings, fake_embedder)
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app(create_app(settings, embedder=fake_embedder)) as base:
        yield base


def test_learn_this_from_box_and_ask_links_in_chromium(forum_site):
    with browser() as b:
        page = b.new_page()
        page.goto(f"{forum_site}/topics/sourdough")
        box = page.locator("#mentors")
        assert box.locator(".mentor-name").first.inner_text() == "Tess Teacher"
        assert "to newcomers" in box.locator(".reason").first.inner_text()
        assert box.locator(".receipts a").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "topic-mentors.png"), full_page=True)
        box.locator(".mentor-name").first.click()
        page.wait_for_selector("#ask-me-about")
        assert "sourdough starter" in page.locator("#ask-me-about").inner_text()
        assert page.locator("#teaching").is_visible()
        page.screenshot(path=str(ARTIFACTS / "person-mentors.png"), full_page=True)
        page.goto(f"{forum_site}/search?q={TOPIC.replace(' ', '+')}")
        link = page.locator("a.ask-person").first
        page.route("https://pub.example/**", lambda route: route.abort())  # the source's profile page: offline here
        with page.expect_request(lambda r: r.url.endswith("/api/asked") and r.method == "POST") as asked:
            link.click()
        assert TOPIC in (asked.value.post_data or "")
