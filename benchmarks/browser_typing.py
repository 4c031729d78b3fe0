"""Keystroke to rendered results on the search page, in headless Chromium, with the real model.

``whoknows serve`` runs on the sample corpus (data/) in a subprocess; Chromium (Debian's
/usr/bin/chromium through Playwright) opens /search and types each query key by key, as a
person would (``--key-delay`` ms between keys). For each query the figure is the time from
the keydown of its last character to the frame in which the results for the whole query are
on screen: the page's debounce, the request, the server's search with experts, the JSON and
the rendering, all included.

    .venv/bin/python benchmarks/browser_typing.py [--queries 30] [--home var] [--key-delay 100]

Also the ``browser`` part of ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, Report, load_average, machine_info, median, percentile  # noqa: E402
from http_latency import Server, write_config  # noqa: E402
from sample import Sample  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
TARGET_MS = 150.0

# Timestamps inside the page: the last keydown in the box, and the frame after each render.
PROBE = """() => {
  window.__wk = {key: 0, shown: {}};
  document.getElementById('q').addEventListener('keydown', () => { window.__wk.key = performance.now(); }, true);
  document.getElementById('results').addEventListener('whoknows:rendered', (e) => {
    const key = window.__wk.key;
    requestAnimationFrame(() => { window.__wk.shown[e.detail.query] = performance.now() - key; });
  });
}"""


def type_and_time(page, query: str, key_delay: float) -> float:
    """Types ``query`` into the cleared box; ms from its last keydown to its results on screen."""
    page.evaluate("() => { const q = document.getElementById('q'); q.value = ''; q.focus(); window.__wk.shown = {}; }")
    page.keyboard.type(query, delay=key_delay)
    handle = page.wait_for_function("q => window.__wk.shown[q]", arg=query, timeout=30_000)
    return float(handle.json_value())


def measure(url: str, queries: list[str], key_delay: float, warmup: int = 3) -> tuple[list[float], list[float]]:
    """(keystroke-to-results ms, server took_ms) per query after the first ``warmup``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                          "--disable-background-networking", "--disable-component-update"])
        page = browser.new_page()
        page.goto(url + "/search")
        page.evaluate(PROBE)
        for q in queries[:warmup]:
            type_and_time(page, q, key_delay)
        took, server = [], []
        for q in queries[warmup:]:
            took.append(type_and_time(page, q, key_delay))
            server.append(float(page.locator("#summary .took").inner_text().strip("() ms")))
        browser.close()
    return took, server


def bench_browser(report: Report, sample: Sample, n: int = 30, key_delay: float = 100.0,
                  home: Path | None = None, backend: str = "torch") -> None:
    if not Path(CHROMIUM).exists():
        report.add("browser", "keystroke to results", "skipped", note=f"{CHROMIUM} is missing")
        return
    if home is None:
        from serving import sample_home

        home = sample_home(sample, backend)
    queries = [q for q in sample.queries(n + 3) if q == " ".join(q.split())][: n + 3]
    cfg = write_config(sample.work / "serve-browser.toml", home, backend, sample.cache_dir)
    with Server(cfg, sample.work / "serve-browser.log") as server:
        took, server_ms = measure(server.url, queries, key_delay)
    note = (f"{len(took)} queries typed at {key_delay:.0f} ms a key, {backend}; target < {TARGET_MS:.0f} ms; "
            f"spread {min(took):.0f}-{max(took):.0f} ms")
    report.add("browser", "keystroke to rendered results, median", median(took), "ms", note)
    report.add("browser", "keystroke to rendered results, p90", percentile(took, 90), "ms")
    report.add("browser", "server search time (took_ms) of those, median", median(server_ms), "ms",
               f"p90 {percentile(server_ms, 90):.0f} ms; the rest is the 60 ms debounce, HTTP, JSON and rendering")
    report.add("browser", "keystroke to results, mean", statistics.fmean(took), "ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=30, help="queries typed (after 3 warm-up queries)")
    ap.add_argument("--key-delay", type=float, default=100.0, help="ms between keys, as a person types")
    ap.add_argument("--home", default="", help="an index home to serve (default: build the sample one)")
    ap.add_argument("--backend", default="torch", help="encoder backend the server uses for queries")
    ap.add_argument("--work", default=str(RESULTS / "work"), help="scratch folder")
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    report = Report(command=" ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]), machine=machine_info())
    print(f"browser typing benchmark; load average {load_average()} (shared machine)", flush=True)
    sample = Sample(work=work, cache_dir=work / "models")
    bench_browser(report, sample, args.queries, args.key_delay, Path(args.home) if args.home else None, args.backend)
    report.machine["load_average_at_end"] = load_average()
    print("\n" + report.table())
    print(f"saved to {report.save(RESULTS / 'browser')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
