"""Votes and the open beacon in real headless Chromium: keyboard reachable, no reload."""

from __future__ import annotations

import sqlite3
import time

import pytest

from ingest.pipeline import run_ingest
from web.app import create_app

from .browser import browser, needs_chromium, serve_app

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def site(settings, fake_embedder):
    run_ingest(settings, fake_embedder)
    with serve_app(create_app(settings, embedder=fake_embedder)) as base:
        yield base, settings.home / "state.sqlite"


@pytest.fixture(scope="module")
def b():
    with browser() as chromium:
        yield chromium


def rows(state, sql: str, want: int = 1, wait_s: float = 5.0) -> list[tuple]:
    """The rows of ``sql`` once there are ``want`` of them (a beacon lands after the click)."""
    deadline = time.monotonic() + wait_s
    while True:
        found = sqlite3.connect(state).execute(sql).fetchall() if state.exists() else []
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_keyboard_vote_on_a_live_result_without_reload(site, b):
    base, state = site
    page = b.new_page()
    page.goto(f"{base}/")
    page.evaluate("window.stayed = true")  # gone if the page reloads
    page.focus("#q")
    page.keyboard.type("expense desk home office", delay=15)
    page.wait_for_function("q => document.querySelector('#summary q')?.textContent === q",
                           arg="expense desk home office")
    page.wait_for_selector("li.hit .votes button.vote.up")
    page.keyboard.press("ArrowDown")  # the first result's title
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('li.hit button.vote.up')"):
            break
    assert page.evaluate("document.activeElement.matches('button.vote.up')")
    assert page.evaluate("document.activeElement.closest('li.hit').dataset.docId") == "wiki/expenses.md"
    page.keyboard.press("Enter")
    page.wait_for_selector("li.hit button.vote.up[aria-pressed=true]")
    assert page.evaluate("window.stayed") is True
    found = rows(state, "SELECT kind, query, item_id, vote FROM feedback")
    assert found == [("result", "expense desk home office", "wiki/expenses.md", 1)]
    page.locator("li.hit button.vote.down").first.click()  # a change of mind replaces the vote
    page.wait_for_selector("li.hit button.vote.down[aria-pressed=true]")
    assert rows(state, "SELECT vote FROM feedback WHERE vote = -1") == [(-1,)]


def test_expert_vote_and_open_beacon_on_the_server_rendered_page(site, b):
    base, state = site
    page = b.new_page()
    page.goto(f"{base}/search?q=expense+desk+home+office")
    person = page.locator("aside.experts li.expert").first
    person.locator("button.vote.up").click()
    page.wait_for_selector("aside.experts button.vote.up[aria-pressed=true]")
    assert rows(state, "SELECT kind FROM feedback") == [("expert",)]
    with page.expect_navigation():
        page.locator("li.hit .hit-title a").nth(1).click()
    opened = rows(state, "SELECT query, rank FROM clicks")
    assert opened == [("expense desk home office", 2)]


def test_bookmarklet_window_and_ask_page_take_votes(site, b):
    base, state = site
    page = b.new_page()
    page.goto(f"{base}/popup?q=new+hire+laptop")
    page.locator("li.hit button.vote.up").first.click()
    page.wait_for_selector("li.hit button.vote.up[aria-pressed=true]")
    page.goto(f"{base}/ask?q=expense+a+desk+and+a+chair+for+your+home+office")
    box = page.locator(".answer-box[data-answer-doc] > .votes")
    box.locator("button.vote.down").press("Enter") if box.count() else pytest.fail("no answer to vote on")
    page.wait_for_selector(".answer-box button.vote.down[aria-pressed=true]")
    kinds = rows(state, "SELECT kind, vote FROM feedback ORDER BY kind", want=2)
    assert kinds == [("answer", -1), ("result", 1)]
