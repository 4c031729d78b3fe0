"""SIGKILL an ingest at several points: the last good generation keeps serving, and the next
run completes with the same counts as a fresh build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.generations import Home, LiveIndex
from index.runs import RunLog
from index.settings import Settings, SourceSettings
from ingest.pipeline import run_ingest
from search.searcher import Searcher
from search.status import index_status

from .conftest import REPO, write


def _config(tmp: Path, wiki: Path, home: Path) -> Path:
    cfg = tmp / "whoknows.toml"
    cfg.write_text(f'home = "{home}"\n[[sources]]\nname = "wiki"\nkind = "markdown"\n'
                   f'path = "{wiki}"\n')
    return cfg


def _kill_at(cfg: Path, markers: Path, stage: str) -> None:
    markers.mkdir(exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "tests.kill_driver", str(cfg), str(markers),
                             stage], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while not (markers / stage).exists():
        assert proc.poll() is None, "ingest ended before reaching the kill point"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    if stage == "embed":  # let it run until its record shows progress with an ETA
        log = RunLog(cfg.parent / "home" / "state.sqlite")
        while not (p := log.last(1)[0].progress) or p.get("eta_s") is None:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        assert p["documents_expected"] == 3 and p["documents"] > 0
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("stage", ["embed", "publish", "cleanup"])
def test_sigkill_leaves_last_generation_serving(tmp_path, wiki, fake_embedder, stage):
    home = tmp_path / "home"
    cfg = _config(tmp_path, wiki, home)
    settings = Settings(home=home, sources=[SourceSettings(name="wiki", path=str(wiki))])
    first = run_ingest(settings, fake_embedder)
    for i in range(150):
        write(wiki / f"bulk/page{i}.md", f"# Page {i}\n\nTopic number {i} about llamas {i}.\n")

    _kill_at(cfg, tmp_path / "markers", stage)

    h = Home(home)
    searcher = Searcher(LiveIndex(h), fake_embedder, settings.search)
    if stage == "cleanup":  # killed after the switch: the new generation is complete and live
        assert h.current() != first.generation
        assert index_status(settings).counts["documents"] == 153
    else:
        assert h.current() == first.generation
        assert searcher.search("expense desk home office").hits[0].doc_id == "wiki/expenses.md"
        assert index_status(settings).counts["documents"] == 3
    assert index_status(settings).runs[0]["status"] == "killed"

    rec = run_ingest(settings, fake_embedder)
    assert rec.status == "ok"
    fresh = Settings(home=tmp_path / "fresh", sources=settings.sources)
    run_ingest(fresh, fake_embedder)
    assert index_status(settings).counts == index_status(fresh).counts
    reader = h.open_reader()
    assert reader.vectors.ids() == set(reader.store.chunk_hashes())
    assert searcher.search("llamas topic 17").hits
