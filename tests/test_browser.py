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
    ARTIFACTS.mkdir(exist_ok=True)  # screenshots of the pages, for people to look at
    with serve_app(create_app(settings, embedder=fake_embedder)) as base:
        yield base


@pytest.fixture(scope="module")
def b():
    """One Chromium for the module; each test opens its own context (cookies, storage)."""
    with browser() as chromium:
        yield chromium


def _loopback_only(*pages) -> list[str]:
    """Records every request the pages make (to assert none leaves 127.0.0.1)."""
    seen: list[str] = []
    for p in pages:
        p.on("request", lambda r: seen.append(r.url))
    return seen


def _hosts(seen: list[str]) -> set[str | None]:
    return {urlparse(u).hostname for u in seen if not u.startswith(("data:", "about:"))}


def _type_and_wait(page, text: str) -> None:
    # autofocus lands after a rendering opportunity; on a loaded machine the first keys could
    # go nowhere, so focus the box as a user's click would
    page.focus("#q")
    page.keyboard.type(text, delay=15)
    page.wait_for_function("q => document.querySelector('#summary q')?.textContent === q", arg=text)


def test_search_page_shows_results_and_experts_offline(site, b):
    page = b.new_page()
    seen = _loopback_only(page)
    page.goto(f"{site}/search?q=expense+desk+home+office")
    assert page.locator("li.hit .hit-title").first.inner_text() == "Expenses"
    assert page.locator("aside.experts .expert-name").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)
    page.locator("aside.experts .expert-name").first.click()
    page.wait_for_url("**/people/*")
    assert page.locator("h1").inner_text() in {"Ada Lovelace", "Bob Builder"}
    assert _hosts(seen) == {"127.0.0.1"}, f"requests left loopback: {_hosts(seen)}"


def test_bookmarklet_opens_popup_from_a_strict_csp_page(site, b):
    host_page = ("<html><head><title>Laptop policy</title></head><body><h1>Team notes</h1>"
                 "<p id='sel'>new hires receive a laptop on their first day</p></body></html>")
    with serve_html(host_page, {"Content-Security-Policy": "default-src 'none'"}) as other:
        ctx = b.new_context()
        seen: list[str] = []
        ctx.on("request", lambda r: seen.append(r.url))  # the host page and the popup
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
    assert _hosts(seen) == {"127.0.0.1", "127.0.0.2"}, f"requests left loopback: {_hosts(seen)}"


def test_bookmarklet_without_selection_uses_the_title(site, b):
    with serve_html("<html><head><title>Deploying to production</title></head><body>x</body></html>",
                    {"Content-Security-Policy": "default-src 'none'"}) as other:
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


def test_results_and_experts_appear_as_you_type(site, b):
    page = b.new_page()
    seen = _loopback_only(page)
    page.goto(f"{site}/")
    page.locator("body").click()
    page.keyboard.press("/")  # focuses the search box
    assert page.evaluate("document.activeElement.id") == "q"
    _type_and_wait(page, "expense desk home office")
    assert page.locator("li.hit .hit-title").first.inner_text() == "Expenses"
    assert page.locator("li.hit").first.locator("mark").first.inner_text().lower() == "expense"
    page.wait_for_selector("aside.experts .expert-name")
    assert page.locator("nav.facets a.facet[data-facet=author]").count() == 3
    assert page.url.endswith("/search?q=expense+desk+home+office")  # the URL can be shared
    assert page.locator("#live-status").text_content() == "3 results for expense desk home office"  # for screen readers
    page.screenshot(path=str(ARTIFACTS / "search-live.png"), full_page=True)
    assert _hosts(seen) == {"127.0.0.1"}, f"requests left loopback: {_hosts(seen)}"


def test_fast_typing_sends_one_request(site, b):
    page = b.new_page()
    api: list[str] = []
    page.on("request", lambda r: api.append(r.url) if "/api/" in r.url else None)
    page.goto(f"{site}/")
    # 12 input events within one task, as a fast typist's burst: the debounce coalesces them
    page.evaluate("""() => { const q = document.getElementById('q');
        for (const c of 'laptop first') { q.value += c; q.dispatchEvent(new Event('input')); } }""")
    page.wait_for_function("() => document.querySelector('#summary q')?.textContent === 'laptop first'")
    page.wait_for_selector("aside.experts .expert-name")  # then the experts for the same query
    assert api == [f"{site}/api/search?q=laptop+first&experts=false", f"{site}/api/experts?q=laptop+first"]


def test_experts_wait_until_typing_pauses(site, b):
    page = b.new_page()
    api: list[str] = []
    page.on("request", lambda r: api.append(r.url) if "/api/" in r.url else None)
    page.goto(f"{site}/")
    page.locator("#q").focus()
    for word in ["laptop", " first", " day"]:
        page.keyboard.type(word)
        page.wait_for_timeout(150)  # longer than the debounce, shorter than the experts' pause
    page.wait_for_selector("aside.experts .expert-name")
    assert f"{site}/api/search?q=laptop+first+day&experts=false" in api
    # results came as you typed; the experts (dearer) only for the query typing stopped at
    assert [u for u in api if "/api/experts" in u] == [f"{site}/api/experts?q=laptop+first+day"]


def test_a_stale_response_never_replaces_newer_results(site, b):
    page = b.new_page()
    held, failed = [], []
    page.route("**/api/search?q=deploy*", lambda route: held.append(route))  # never answered
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(f"{site}/")
    page.fill("#q", "deploy")
    page.wait_for_timeout(300)
    assert held, "the first request was not sent"
    page.fill("#q", "laptop first day")
    page.wait_for_function("() => document.querySelector('#summary q')?.textContent === 'laptop first day'")
    assert page.locator("li.hit .hit-title").first.inner_text() == "Getting a laptop"
    assert any("q=deploy" in u for u in failed), "the stale request was not aborted"


def test_keyboard_moves_through_results_and_enter_opens_the_document(site, b):
    page = b.new_page()
    page.goto(f"{site}/")
    _type_and_wait(page, "expense desk home office")
    titles = page.locator("li.hit .hit-title a")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent") == titles.nth(1).inner_text()
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.textContent") == "Expenses"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/doc/wiki/expenses.md?q=expense" in page.url
    assert page.locator("h1").inner_text() == "Expenses"
    marked = page.locator(".passage.match")
    assert marked.count() == 1 and "desk and a chair" in marked.inner_text()
    assert page.locator("#contributors .expert-name").first.inner_text() == "Ada Lovelace"
    assert page.locator("#original").get_attribute("href") == "https://wiki.example/expenses"
    page.screenshot(path=str(ARTIFACTS / "document.png"), full_page=True)


def test_a_facet_narrows_the_results(site, b):
    page = b.new_page()
    page.goto(f"{site}/")
    _type_and_wait(page, "expense laptop deploy")
    facet = page.locator("nav.facets a.facet[data-facet=author]", has_text="Carol Chen")
    count = int(facet.locator(".count").inner_text())
    with page.expect_navigation():
        facet.click()
    assert "author=Carol+Chen" in page.url
    assert page.locator("li.hit").count() == count
    assert page.locator("#active-filters .chip").inner_text().startswith("author: Carol Chen")
    # typing again keeps the filter (it is in the form)
    page.fill("#q", "")
    page.locator("#q").focus()
    _type_and_wait(page, "home address")
    assert page.locator("li.hit .hit-title").all_inner_texts() == ["Getting a laptop"]


def test_the_search_page_works_without_javascript(site, b):
    ctx = b.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(f"{site}/")
    page.fill("#q", "laptop first day")
    with page.expect_navigation():
        page.press("#q", "Enter")
    assert "/search?q=laptop+first+day" in page.url
    assert page.locator("li.hit .hit-title").first.inner_text() == "Getting a laptop"
    assert page.locator("aside.experts .expert-name").first.inner_text() == "Carol Chen"
    page.locator("details.filters summary").click()
    page.fill("input[name=author]", "Ada Lovelace")
    with page.expect_navigation():
        page.press("input[name=author]", "Enter")
    assert page.locator("li.hit .hit-title").all_inner_texts() == ["Expenses"]


def test_phone_width_dark_theme_and_labels(site, b):
    ctx = b.new_context(viewport={"width": 375, "height": 800}, color_scheme="dark")
    page = ctx.new_page()
    page.goto(f"{site}/search?q=expense+desk+home+office")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(18, 21, 27)", bg
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => e.type !== 'hidden' && !e.labels.length && !e.getAttribute('aria-label')).map(e => e.name)""")
    assert unlabelled == []
    # focus order follows the reading order: brand, search box, button, filters, navigation
    page.focus("#q")
    order = []
    for key in ["Shift+Tab", "Tab", "Tab", "Tab", "Tab"]:
        page.keyboard.press(key)
        order.append(page.evaluate("document.activeElement.tagName + ':' + (document.activeElement.id || "
                                   "document.activeElement.textContent.trim())"))
    assert order == ["A:whoknows", "INPUT:q", "BUTTON:Search", "SUMMARY:Filters", "A:Search"], order
    page.screenshot(path=str(ARTIFACTS / "search-phone-dark.png"), full_page=True)


def test_api_docs_load_offline_under_the_csp(site, b):
    page = b.new_page()
    seen = _loopback_only(page)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{site}/docs")
    page.wait_for_selector(".opblock-summary-path[data-path=\"/api/search\"]")
    assert page.locator(".opblock").count() >= 15
    assert not errors, errors
    assert _hosts(seen) == {"127.0.0.1"}, f"requests left loopback: {_hosts(seen)}"


def test_live_search_says_nobody_has_written_on_it_and_offers_the_ask_page(settings, fake_embedder, b):
    from dataclasses import replace

    run_ingest(settings, fake_embedder)
    strict = replace(settings, experts=replace(settings.experts, min_relevance=5.0))  # no receipt is that relevant
    with serve_app(create_app(strict, embedder=fake_embedder)) as base:
        page = b.new_page()
        page.goto(f"{base}/")
        _type_and_wait(page, "expense desk home office")
        assert page.locator("li.hit .hit-title").first.inner_text() == "Expenses"  # results still shown
        page.wait_for_selector("aside.experts.abstained #nobody")
        assert page.locator("#nobody").inner_text() == "No one has written much about this yet."
        assert page.locator("aside.experts .expert-name").count() == 0  # not the most active people instead
        page.locator("#ask-instead").click()
        page.wait_for_url("**/ask?q=*")
        assert page.locator("textarea, input[name=q]").first.input_value() == "expense desk home office"
