"""(c) HTTP query latency against a real ``uvicorn`` server on 127.0.0.1.

``whoknows serve`` runs in a subprocess on a free port; the client sends GET /api/search with
keep-alive connections, first one request at a time, then from 8 threads at once. Every loop
is bounded by a request count and a deadline.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import httpx
from common import REPO, percentile

DEADLINE_S = 180.0  # per loop


@dataclass
class Latencies:
    single: list[float]
    concurrent: list[float]
    concurrent_seconds: float
    errors: int
    server_rss_mb: float
    page: list[float]  # single client, as the search page asks: without the experts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, home: Path, backend: str, cache_dir: Path) -> Path:
    path.write_text(f'home = "{home}"\n\n[embedding]\nbackend = "{backend}"\ncache_dir = "{cache_dir}"\n')
    return path


class Server:
    def __init__(self, config: Path, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--config", str(config), "--port", str(self.port)],
            cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)},
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited; see {self.log.name}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError("server did not start within 180 s")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class _Client:
    """A keep-alive HTTP/1.1 client from the standard library: little CPU of its own, so the
    figures are mostly the server's (httpx costs a few ms a request on a busy machine)."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def search(self, query: str, experts: bool = True) -> tuple[int, bytes]:
        params = {"q": query, "k": 10, **({} if experts else {"experts": "false"})}
        self.conn.request("GET", "/api/search?" + urllib.parse.urlencode(params))
        r = self.conn.getresponse()
        return r.status, r.read()

    def close(self) -> None:
        self.conn.close()


def _loop(client: _Client, queries: list[str], count: int, out: list[float], errors: list[int],
          deadline: float, experts: bool = True) -> None:
    for i in range(count):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        status, body = client.search(queries[i % len(queries)], experts)
        out.append((time.perf_counter() - t0) * 1000)
        if status != 200 or not json.loads(body).get("hits"):
            errors.append(status)


def measure(server: Server, queries: list[str], single: int, concurrent: int, threads: int = 8) -> Latencies:
    errors: list[int] = []
    client = _Client(server.port)
    _loop(client, queries, 20, [], errors, time.monotonic() + DEADLINE_S)  # warm-up
    one: list[float] = []
    _loop(client, queries, single, one, errors, time.monotonic() + DEADLINE_S)
    page: list[float] = []
    _loop(client, queries, single, page, errors, time.monotonic() + DEADLINE_S, experts=False)
    client.close()
    many: list[list[float]] = [[] for _ in range(threads)]
    clients = [_Client(server.port) for _ in range(threads)]
    deadline = time.monotonic() + DEADLINE_S
    workers = [
        threading.Thread(target=_loop, args=(clients[t], queries[t::threads] or queries,
                                             concurrent // threads, many[t], errors, deadline))
        for t in range(threads)
    ]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - t0
    for c in clients:
        c.close()
    return Latencies(one, [x for m in many for x in m], seconds, len(errors), server.rss_mb(), page)


def summary(lat: Latencies) -> dict[str, float]:
    n = len(lat.concurrent)
    return {
        "single_p50_ms": percentile(lat.single, 50), "single_p99_ms": percentile(lat.single, 99),
        "page_p50_ms": percentile(lat.page, 50), "page_p99_ms": percentile(lat.page, 99),
        "c8_p50_ms": percentile(lat.concurrent, 50), "c8_p99_ms": percentile(lat.concurrent, 99),
        "c8_qps": n / lat.concurrent_seconds if lat.concurrent_seconds else 0.0,
    }
