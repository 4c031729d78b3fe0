"""A bounded load test on loopback while a re-index runs and publishes a new generation.

``whoknows serve`` runs on a copy of the sample data (data/) with its own home. The script
edits a share of the copied pages (so the re-index has real work), starts a re-index the way
an admin does (``POST /api/reindex`` with the status page's CSRF token), then fires N mixed
``/api/search`` and ``/api/ask`` requests from C threads with keep-alive connections. A poller
records the live generation from ``/healthz``. It reports errors (must be 0), p50/p99 latency
per endpoint and when the generation switched, and exits 1 when there were errors or the
switch did not happen while the load was running.

    .venv/bin/python benchmarks/load_during_reindex.py [--requests 2000] [--concurrency 20]

Also ``benchmarks/run.py --only load``. Every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, RESULTS, Report, load_average, percentile  # noqa: E402
from http_latency import Server  # noqa: E402
from sample import QUESTIONS  # noqa: E402

DEADLINE_S = 3600.0  # per loop: on a 2-core machine shared by several jobs, 2,000 requests take minutes


@dataclass
class LoadResult:
    requests: int
    concurrency: int
    seconds: float
    errors: int
    error_samples: list[str]
    latency_ms: dict[str, dict[str, float]]  # endpoint -> p50, p99, max, n
    generation_before: str
    generation_after: str
    switched_at_s: float | None  # seconds after the load started; None: not during the load
    reindex_started: bool
    reindex_status: str
    load_average: str
    empty_search_results: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.switched_at_s is not None


def prepare(work: Path, seed_cache: Path | None) -> Path:
    """A copy of the sample data and a config using it; the first call builds the index."""
    data = work / "data"
    if not data.exists():
        for name in ("handbook", "cardano", "documents"):
            shutil.copytree(REPO / "data" / name, data / name)
    home = work / "home"
    cfg = work / "whoknows.toml"
    sample = (REPO / "whoknows.toml").read_text()
    cfg.write_text(re.sub(r'(?m)^home = ".*"$', f'home = "{home}"', sample).replace('path = "data/', 'path = "'
                   + str(data) + "/"))
    if not (home / "CURRENT").exists():
        if seed_cache and seed_cache.exists():  # embeddings by text hash: the first build only chunks
            home.mkdir(parents=True, exist_ok=True)
            shutil.copy(seed_cache, home / "embeddings.sqlite")
        subprocess.run([sys.executable, "-m", "web.cli", "ingest", "--quiet", "--config", str(cfg)],
                       cwd=REPO, check=True)
    return cfg


def edit_pages(work: Path, share: float, seed: int) -> int:
    """Append a line to a share of the copied handbook pages: the re-index re-embeds them."""
    pages = sorted((work / "data/handbook").rglob("*.md"))
    chosen = random.Random(seed).sample(pages, int(len(pages) * share))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for p in chosen:
        with p.open("a", encoding="utf-8") as fh:
            fh.write(f"\n\nReviewed for the load test at {stamp}.\n")
    return len(chosen)


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        self.conn.request("GET", path, headers=headers or {})
        r = self.conn.getresponse()
        return r.status, r.read()

    def post(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        self.conn.request("POST", path, body=b"", headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read()


def trigger_reindex(port: int) -> tuple[bool, str]:
    """What the status page's button does: read the CSRF token, POST the re-index."""
    c = Client(port)
    status, page = c.get("/admin")
    m = re.search(rb'name="csrf" value="([0-9a-f]+)"', page)
    if status != 200 or not m:
        return False, f"admin page: HTTP {status}"
    status, body = c.post("/api/reindex", {"X-CSRF-Token": m.group(1).decode(), "Content-Length": "0"})
    return status == 202, f"HTTP {status} {body[:200].decode(errors='replace')}"


class GenerationPoller(threading.Thread):
    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.client = Client(port)
        self.seen: list[tuple[float, str]] = []  # (monotonic time, generation) at each change
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                gen = json.loads(self.client.get("/healthz")[1])["generation"]
            except (OSError, http.client.HTTPException, ValueError):
                self.client = Client(self.client.conn.port)
                continue
            if not self.seen or self.seen[-1][1] != gen:
                self.seen.append((time.monotonic(), gen))
            self.stop.wait(0.2)


def request_plan(n: int, ask_share: float, seed: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        q = urllib.parse.urlencode({"q": QUESTIONS[i % len(QUESTIONS)]})
        out.append(f"/api/ask?{q}" if rnd.random() < ask_share else f"/api/search?{q}&k=10")
    return out


def fire(port: int, plan: list[str], concurrency: int) -> tuple[dict[str, list[float]], list[str], int]:
    """Send every planned request from ``concurrency`` threads; latencies per endpoint, errors."""
    latencies: dict[str, list[float]] = {"/api/search": [], "/api/ask": []}
    errors: list[str] = []
    empty = [0]
    lock = threading.Lock()
    todo = iter(plan)
    deadline = time.monotonic() + DEADLINE_S

    def worker() -> None:
        client = Client(port)
        while time.monotonic() < deadline:
            with lock:
                path = next(todo, None)
            if path is None:
                return
            endpoint = path.split("?")[0]
            t0 = time.perf_counter()
            try:
                status, body = client.get(path)
                data = json.loads(body) if status == 200 else None
            except (OSError, http.client.HTTPException, ValueError) as e:
                status, data, client = -1, None, Client(port)
                body = repr(e).encode()
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                latencies[endpoint].append(ms)
                if status != 200 or not isinstance(data, dict) or not _complete(endpoint, data):
                    errors.append(f"{path}: HTTP {status} {body[:120]!r}")
                elif endpoint == "/api/search" and not data["hits"]:
                    empty[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, empty[0]


def _complete(endpoint: str, data: dict[str, object]) -> bool:
    keys = ("hits", "experts") if endpoint == "/api/search" else ("answer", "citations", "experts")
    return all(k in data for k in keys)


def run_load(work: Path, requests: int, concurrency: int, ask_share: float, edit_share: float,
             seed_cache: Path | None, seed: int = 7) -> LoadResult:
    cfg = prepare(work, seed_cache)
    edited = edit_pages(work, edit_share, seed)
    with Server(cfg, work / "serve.log") as server:
        plan = request_plan(requests, ask_share, seed)
        warm = Client(server.port)
        for path in plan[:10]:
            warm.get(path)
        poller = GenerationPoller(server.port)
        poller.start()
        while not poller.seen:
            time.sleep(0.05)
        before = poller.seen[0][1]
        started, how = trigger_reindex(server.port)
        t0 = time.monotonic()
        latencies, errors, empty = fire(server.port, plan, concurrency)
        seconds = time.monotonic() - t0
        time.sleep(0.5)
        poller.stop.set()
        poller.join()
        status = json.loads(Client(server.port).get("/api/status")[1])
    switched = [t - t0 for t, gen in poller.seen[1:] if gen != before]
    last = (status.get("last_run") or {})
    return LoadResult(
        requests=sum(len(v) for v in latencies.values()), concurrency=concurrency, seconds=round(seconds, 1),
        errors=len(errors), error_samples=errors[:10],
        latency_ms={k: _stats(v) for k, v in latencies.items()},
        generation_before=before, generation_after=poller.seen[-1][1],
        switched_at_s=round(switched[0], 1) if switched and switched[0] <= seconds else None,
        reindex_started=started, reindex_status=f"run #{last.get('id')} {last.get('status')} "
        f"in {last.get('seconds')} s, {last.get('chunks_embedded')} chunks embedded",
        load_average=load_average(), empty_search_results=empty,
        notes=[f"re-index trigger: {how}", f"{edited} handbook pages edited before the run"],
    )


def _stats(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50": round(percentile(ms, 50), 1), "p99": round(percentile(ms, 99), 1),
            "max": round(max(ms), 1)}


def bench_load(report: Report, work: Path, requests: int, concurrency: int = 20) -> None:
    """The ``load`` part of benchmarks/run.py."""
    work.mkdir(parents=True, exist_ok=True)
    res = run_load(work, requests, concurrency, ask_share=0.1, edit_share=0.3, seed_cache=None)
    report.add("load", "requests during re-index", res.requests, note=f"{concurrency} at a time, 10% ask")
    report.add("load", "errors", res.errors, note="must be 0")
    for endpoint, st in res.latency_ms.items():
        for k in ("p50", "p99"):
            if k in st:
                report.add("load", f"{endpoint} {k}", st[k], "ms")
    report.add("load", "generation switched during load", "yes" if res.switched_at_s is not None else "NO",
               note=f"{res.generation_before} -> {res.generation_after} at {res.switched_at_s} s of {res.seconds} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--ask-share", type=float, default=0.1,
                   help="share of /api/ask among the requests (an ask costs 5-15 searches here)")
    p.add_argument("--edit-share", type=float, default=0.3, help="share of handbook pages edited before the run")
    p.add_argument("--work", default=str(RESULTS / "work" / "load"), help="scratch folder (data copy, home)")
    p.add_argument("--seed-cache", help="an embeddings.sqlite to start the first build from (e.g. var/)")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    res = run_load(work, args.requests, args.concurrency, args.ask_share, args.edit_share,
                   Path(args.seed_cache) if args.seed_cache else None)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "load_during_reindex.json"
    out.write_text(json.dumps({"command": " ".join([sys.executable, *sys.argv]), **asdict(res)}, indent=2))
    print(json.dumps(asdict(res), indent=2))
    print(f"{'OK' if res.ok else 'FAILED'}: {res.requests} requests, {res.errors} errors, generation "
          f"{res.generation_before} -> {res.generation_after} at {res.switched_at_s} s of {res.seconds} s; "
          f"saved {out}")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
