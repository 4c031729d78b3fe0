"""The web UI and the bookmarklet in real headless Chromium."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from ingest.pipeline import run_ingest
from web.app import create_app

from .browser import ARTIFACTS, browser, needs_chromium, serve_app, serve_html

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def site(settings, fake_embedder):
    run_ingest(settings, fake_embedder)
    with serve_app(create_app(settings, embedder=fake_embedder)) as base:
        yield base


def _only_loopback(page, seen: list[str]) -> None:
    page.on("request", lambda r: seen.append(r.url))


def test_search_page_shows_results_and_experts_offline(site):
    seen: list[str] = []
    with browser() as b:
        page = b.new_page()
        _only_loopback(page, seen)
        page.goto(f"{site}/search?q=expense+desk+home+office")
        assert page.locator("li.hit .hit-title").first.inner_text() == "Expenses"
        assert page.locator("aside.experts .expert-name").count() >= 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)
        page.locator("aside.experts .expert-name").first.click()
        page.wait_for_url("**/people/*")
        assert page.locator("h1").inner_text() in {"Ada Lovelace", "Bob Builder"}
    hosts = {urlparse(u).hostname for u in seen if not u.startswith("data:")}
    assert hosts == {"127.0.0.1"}, f"requests left loopback: {hosts}"


def test_bookmarklet_opens_popup_from_a_strict_csp_page(site):
    host_page = ("<html><head><title>Laptop policy</title></head><body><h1>Team notes</h1>"
                 "<p id='sel'>new hires receive a laptop on their first day</p></body></html>")
    with serve_html(host_page, {"Content-Security-Policy": "default-src 'none'"}) as other:
        with browser() as b:
            ctx = b.new_context()
            page = ctx.new_page()
            page.goto(f"{site}/bookmarklet")
            code = page.locator("#bookmarklet").get_attribute("href")
            assert code and code.startswith("javascript:")
            page.goto(other)
            page.evaluate("""() => { const r = document.createRange();
                r.selectNodeContents(document.getElementById('sel'));
                const s = window.getSelection(); s.removeAllRanges(); s.addRange(r); }""")
            with ctx.expect_page() as popup_info:
                page.evaluate(code[len("javascript:"):])
            popup = popup_info.value
            popup.wait_for_load_state()
            assert urlparse(popup.url).netloc == urlparse(site).netloc
            assert popup.locator("#q").input_value() == "new hires receive a laptop on their first day"
            assert popup.locator("li.hit .hit-title").first.inner_text() == "Getting a laptop"
            assert popup.locator(".experts .expert-name").first.inner_text() == "Carol Chen"
            # nothing of whoknows was injected into the host page
            assert page.evaluate("document.querySelectorAll('script,iframe,link').length") == 0
            popup.screenshot(path=str(ARTIFACTS / "popup.png"))


def test_bookmarklet_without_selection_uses_the_title(site):
    with serve_html("<html><head><title>Deploying to production</title></head><body>x</body></html>",
                    {"Content-Security-Policy": "default-src 'none'"}) as other:
        with browser() as b:
            ctx = b.new_context()
            page = ctx.new_page()
            page.goto(f"{site}/bookmarklet")
            code = page.locator("#bookmarklet").get_attribute("href")
            page.goto(other)
            with ctx.expect_page() as popup_info:
                page.evaluate(code[len("javascript:"):])
            popup = popup_info.value
            popup.wait_for_load_state()
            assert popup.locator("#q").input_value() == "Deploying to production"
            popup.fill("#q", "laptop first day")
            popup.press("#q", "Enter")
            popup.wait_for_url("**/popup?q=laptop+first+day")
            assert popup.locator("li.hit .hit-title").first.inner_text() == "Getting a laptop"
