"""Scheduled re-indexing, the status page, and searches during a run."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.settings import ConfigError, load_settings
from ingest.pipeline import run_ingest
from ingest.schedule import Scheduler, jobs_for, next_runs
from web.app import create_app

from .conftest import write

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def test_jobs_split_global_and_per_source_cron(settings):
    from index.settings import SourceSettings

    settings.schedule.cron = "*/30 * * * *"
    settings.sources.append(SourceSettings(name="forum", path="x", cron="0 * * * *"))
    jobs = {tuple(j.sources or ["*"]): j.cron for j in jobs_for(settings)}
    assert jobs == {("wiki",): "*/30 * * * *", ("forum",): "0 * * * *"}
    at, job = next_runs(settings, T0 + timedelta(minutes=1))[0]
    assert at == T0 + timedelta(minutes=30) and job.sources == ["wiki"]


def test_due_jobs_run_once_per_fire_time(settings):
    settings.schedule.cron = "*/30 * * * *"
    calls: list[list[str] | None] = []
    sched = Scheduler(settings, runner=lambda sources: calls.append(sources) or 0)
    assert sched.run_due(T0 + timedelta(minutes=29), last=T0) == []
    assert len(sched.run_due(T0 + timedelta(minutes=30), last=T0)) == 1
    assert calls == [None]  # all sources


def test_scheduler_thread_runs_a_real_reindex(settings, fake_embedder, wiki):
    settings.schedule.cron = "* * * * * */1"  # every second (croniter's seconds field)
    done = threading.Event()

    def runner(sources):  # type: ignore[no-untyped-def]
        run_ingest(settings, fake_embedder)
        done.set()
        return 0

    sched = Scheduler(settings, runner=runner)
    sched.start()
    try:
        assert done.wait(10), "the scheduled run did not happen"
    finally:
        sched.stop()
    from search.status import index_status
    assert index_status(settings).counts["documents"] == 3


def test_bad_cron_is_a_config_error(tmp_path):
    cfg = tmp_path / "w.toml"
    cfg.write_text('[schedule]\ncron = "every tuesday"\n')
    with pytest.raises(ConfigError, match="not a valid cron"):
        load_settings(cfg)


def test_status_page_shows_runs_failures_and_next_run(settings, wiki, fake_embedder):
    settings.schedule.cron = "*/30 * * * *"
    write(wiki / "bad.md", b"\xff\xfe\x00junk")
    rec = run_ingest(settings, fake_embedder)
    c = TestClient(create_app(settings, embedder=fake_embedder))
    soup = BeautifulSoup(c.get("/admin").text, "html.parser")
    rows = soup.select("#runs tbody tr")
    assert len(rows) == 1 and "ok" in rows[0].get_text()
    assert "+3" in rows[0].get_text()
    cells = [td.get_text() for td in rows[0].select("td")]  # chunks embedded, sentences encoded
    assert cells[-2:] == [str(rec.chunks_embedded), str(rec.sentences_embedded)] and rec.sentences_embedded > 0
    assert "bad.md" in soup.select_one("#failures").get_text()
    assert "*/30 * * * *" in soup.select_one("#next-runs").get_text()
    st = c.get("/api/status").json()
    assert st["next_runs"][0]["cron"] == "*/30 * * * *"
    assert st["running"] is None
    first = rows[0].select("td")[4].get_text()
    run_ingest(settings, fake_embedder)  # nothing new: the run says it kept the generation
    rows = BeautifulSoup(c.get("/admin").text, "html.parser").select("#runs tbody tr")
    assert rows[0].select("td")[4].get_text().split() == [first, "kept:", "no", "changes"]
    assert "kept" not in rows[1].get_text()


def test_searches_during_reindex_never_fail(settings, wiki, fake_embedder):
    """A real server on loopback answers a bounded loop of searches while runs publish."""
    run_ingest(settings, fake_embedder)
    app = create_app(settings, embedder=fake_embedder)
    app.state.searcher.index.check_every = 0.0
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    stop = threading.Event()
    runs = 0

    def reindex_loop() -> None:
        nonlocal runs
        i = 0
        while not stop.is_set() and i < 8:
            write(wiki / f"new{i}.md", f"# New page {i}\n\nFresh content about topic {i}.\n")
            run_ingest(settings, fake_embedder)
            runs += 1
            i += 1

    writer = threading.Thread(target=reindex_loop)
    writer.start()
    statuses: list[int] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for n in range(300):
                r = client.get("/api/search", params={"q": f"expense desk topic {n % 8}"})
                statuses.append(r.status_code)
                assert r.json()["hits"]
    finally:
        stop.set()
        writer.join()
        server.should_exit = True
        thread.join(timeout=10)
    assert runs >= 2
    assert statuses == [200] * 300
