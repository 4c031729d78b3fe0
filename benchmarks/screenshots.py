"""The README's screenshots, taken with Playwright and Debian's Chromium on the sample corpus.

    .venv/bin/python benchmarks/screenshots.py --home var     # after `whoknows ingest`

Writes web/static/screenshots/{search,popup,document,phone-dark,topics,recognition}.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_typing import CHROMIUM  # noqa: E402
from common import REPO, RESULTS  # noqa: E402
from http_latency import Server, write_config  # noqa: E402

OUT = REPO / "web" / "static" / "screenshots"
QUERY = "how do I expense a home office"


def take(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url + "/")
        page.keyboard.type(QUERY, delay=40)
        page.wait_for_selector("aside.experts .expert-name", timeout=60_000)
        page.screenshot(path=str(out / "search.png"))
        page.locator("li.hit .hit-title a").first.click()
        page.wait_for_selector(".passage.match")
        page.locator(".passage.match").first.scroll_into_view_if_needed()
        page.screenshot(path=str(out / "document.png"))
        popup = browser.new_page(viewport={"width": 540, "height": 720})
        popup.goto(url + "/popup?q=" + "new hires receive a laptop on their first day".replace(" ", "+"))
        popup.screenshot(path=str(out / "popup.png"))
        phone = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark").new_page()
        phone.goto(url + "/search?q=parental+leave")
        phone.screenshot(path=str(out / "phone-dark.png"))
        topics = browser.new_page(viewport={"width": 1200, "height": 760})
        topics.goto(url + "/topics")
        topics.screenshot(path=str(out / "topics.png"))
        recognition(browser, url, out)
        browser.close()


def recognition(browser: Any, url: str, out: Path) -> None:
    """/recognition in its default period (on the sample: the forum dump's last busy 90 days)."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(url + "/recognition")
    page.wait_for_selector("#sharers")
    page.screenshot(path=str(out / "recognition.png"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", default=str(REPO / "var"), help="an index home of the sample corpus")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    work = RESULTS / "work"
    work.mkdir(parents=True, exist_ok=True)
    cfg = write_config(work / "serve-screenshots.toml", Path(args.home), "torch", work / "models")
    with Server(cfg, work / "serve-screenshots.log") as server:
        take(server.url, Path(args.out))
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
