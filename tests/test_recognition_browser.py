"""/recognition in real headless Chromium: the lists, the period form, the CSV link."""

from __future__ import annotations

import csv
import io

import pytest

from web.app import create_app

from .browser import ARTIFACTS, browser, needs_chromium, serve_app
from .test_recognition import recognised  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, needs_chromium]


def test_recognition_page_lists_people_and_changes_period_in_chromium(recognised, fake_embedder):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app(create_app(recognised, embedder=fake_embedder)) as base, browser() as b:
        page = b.new_page()
        seen: list[str] = []
        page.on("request", lambda r: seen.append(r.url))
        page.goto(f"{base}/")
        page.click('nav a[href="/recognition"]')
        page.wait_for_url("**/recognition")
        page.fill('#period input[name="since"]', "2024-05-01")
        page.fill('#period input[name="until"]', "2024-05-30")
        page.click("#period button")
        page.wait_for_url("**/recognition?since=2024-05-01*")
        first = page.locator("#sharers tbody tr").first
        assert first.locator("td").first.inner_text() == "Ada"
        assert page.locator("#rising").inner_text().count("Riley") == 1
        assert page.locator("#how-counted dt").count() >= 8
        assert "Xavia" not in page.content()
        page.screenshot(path=str(ARTIFACTS / "recognition.png"), full_page=True)
        with page.expect_download() as download:
            page.click("#csv")
        rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
        assert rows[0]["name"] == "Ada" and rows[0]["since"] == "2024-05-01"
        page.fill('#period input[name="since"]', "2024-06-02")
        page.fill('#period input[name="until"]', "2024-06-01")
        page.click("#period button")
        assert "is after until" in page.locator("#period-error").inner_text()
        assert {u.split("/")[2].split(":")[0] for u in seen if u.startswith("http")} == {"127.0.0.1"}
