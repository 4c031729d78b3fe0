"""Ingest's encoding on a real local Ray cluster, compared with the local path; and the
clear error when the ray extra is missing."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.generations import Home
from index.runs import RunLog
from index.settings import RaySettings, SourceSettings
from ingest.pipeline import IngestOptions, run_ingest
from search.status import index_status
from web.app import create_app
from web.cli import main

from .conftest import write
from .test_late_interaction import FakeTokenEmbedder


def test_missing_extra_is_one_clear_line_nonzero_and_writes_nothing(tmp_path, wiki, monkeypatch, capsys):
    cfg = write(tmp_path / "whoknows.toml", f'home = "home"\n[[sources]]\nname = "wiki"\npath = "{wiki}"\n')
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    assert main(["--config", str(cfg), "ingest", "--ray", "local", "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "pip install -e '.[ray]'" in lines[0]
    assert not (tmp_path / "home").exists()
    # the same from the config file's [ray] address
    cfg.write_text(cfg.read_text().replace('home = "home"\n', 'home = "home"\n[ray]\naddress = "local"\n', 1))
    assert main(["--config", str(cfg), "ingest"]) == 2
    assert ".[ray]" in capsys.readouterr().err and not (tmp_path / "home").exists()


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    from ingest.ray_executor import require_ray

    require_ray()
    # the workers import the fake encoders from tests/: the repo root on their path
    root = str(Path(__file__).resolve().parent.parent)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 * 1024,
             log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": root, "HF_HUB_OFFLINE": "1"}})
    yield ray
    ray.shutdown()


def _snapshot(settings) -> dict:
    """What a generation holds, keyed so that two builds of one corpus compare equal."""
    home = Home(settings.home)
    reader = home.open_reader()
    try:
        db = reader.store.db
        docs = db.execute("SELECT id, title, content_hash FROM documents ORDER BY id").fetchall()
        chunks = db.execute("SELECT id, doc_id, position, text FROM chunks ORDER BY doc_id, position").fetchall()
        contribs = db.execute("SELECT doc_id, person_id, role, weight FROM contributions "
                              "ORDER BY doc_id, person_id, role").fetchall()
        tokens = dict(db.execute("SELECT chunk_id, bits FROM chunk_tokens").fetchall())
        vecs = reader.vectors.reconstruct([c[0] for c in chunks])
        by_chunk = {(c[1], c[2]): (c[3], vecs[i], tokens.get(c[0])) for i, c in enumerate(chunks)}
        return {"docs": [tuple(d) for d in docs], "contributions": [tuple(c) for c in contribs],
                "chunks": by_chunk}
    finally:
        reader.close()


@pytest.fixture
def two_sources(settings, tmp_path):
    """The wiki (markdown) and a folder of files of several kinds, one broken and one of an
    unknown format: both kinds of folder source are read on Ray."""
    docs = tmp_path / "docs"
    write(docs / "onboarding.txt", "Onboarding\n\nNew hires get a laptop on day one and a buddy for the first month.\n")
    write(docs / "travel.html", "<html><head><title>Travel policy</title></head><body><h1>Travel</h1>"
          "<p>Book trains for trips under four hours; flights need a manager's approval.</p></body></html>")
    write(docs / "notes/broken.docx", b"this is not a zip file")
    write(docs / "data.bin", b"\x00\x01")
    # parsed in the actors themselves (isolate = false): a parser process per actor costs CI seconds
    files = SourceSettings(name="docs", kind="files", path=str(docs), options={"isolate": False})
    return replace(settings, sources=[*settings.sources, files])


def _ray_embedder(settings, factory=FakeTokenEmbedder, workers=2):
    from ingest.ray_executor import RayEmbedder

    return RayEmbedder(FakeTokenEmbedder(), factory, RaySettings(num_workers=workers, batch_size=2),
                       full=settings)


def _failures(settings) -> list:
    reader = Home(settings.home).open_reader()
    try:
        return [(f.source, f.item, f.reason) for f in reader.store.failures()]
    finally:
        reader.close()


def test_ray_path_gives_what_the_local_path_gives_and_a_rerun_embeds_nothing(
        ray_cluster, two_sources, tmp_path, monkeypatch):
    from ingest.ray_executor import RayEmbedder

    settings = two_sources
    local = run_ingest(settings, FakeTokenEmbedder())
    assert local.executor == "local" and local.status == "ok"
    expected = _snapshot(settings)
    assert local.sources["docs"].added == 2 and local.sources["docs"].failed == 2

    on_ray = replace(settings, home=tmp_path / "ray-home")
    embedder = _ray_embedder(on_ray)
    rec = run_ingest(on_ray, embedder, IngestOptions(embed_batch=4))
    assert rec.status == "ok" and (rec.executor, rec.workers, rec.workers_restarted) == ("ray", 2, 0)
    assert rec.chunks_embedded == local.chunks_embedded > 0
    assert rec.sentences_embedded == local.sentences_embedded > 0
    assert embedder.texts_sent == rec.chunks_embedded + rec.sentences_embedded
    assert {n: (s.added, s.failed) for n, s in rec.sources.items()} == {
        n: (s.added, s.failed) for n, s in local.sources.items()}
    assert _failures(on_ray) == _failures(settings)  # the broken file's reason, reported on the driver
    got = _snapshot(on_ray)
    assert got["docs"] == expected["docs"] and got["contributions"] == expected["contributions"]
    assert got["chunks"].keys() == expected["chunks"].keys()
    for key, (text, vec, bits) in expected["chunks"].items():
        g_text, g_vec, g_bits = got["chunks"][key]
        assert g_text == text and g_bits == bits and bits is not None
        assert float(np.dot(vec, g_vec)) >= 0.9999
    status = index_status(on_ray)
    assert (status.runs[0]["executor"], status.runs[0]["workers"]) == ("ray", 2)
    page = TestClient(create_app(on_ray, embedder=FakeTokenEmbedder())).get("/admin").text
    assert "on ray x2" in BeautifulSoup(page, "html.parser").select_one("#runs .executor").get_text()

    # nothing changed: nothing is read, encoded or even sent to the cluster
    def no_cluster(self):  # type: ignore[no-untyped-def]
        raise AssertionError("a run with nothing to read joined the cluster")

    monkeypatch.setattr(RayEmbedder, "connect", no_cluster)
    again = run_ingest(on_ray, _ray_embedder(on_ray), IngestOptions(embed_batch=4))
    assert again.status == "ok" and again.executor == "ray"
    assert again.chunks_embedded == 0 and again.sentences_embedded == 0 and not again.changed
    assert again.sources["docs"].unchanged == 2 and again.sources["docs"].failed == 2
    assert RunLog(Home(on_ray.home).path / "state.sqlite").last(1)[0].executor == "ray"


class DiesOnce(FakeTokenEmbedder):
    """The fake encoder whose process dies at its first batch while ``marker`` does not exist
    yet: a Ray worker lost mid-run."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = Path(marker)

    def encode_with_tokens(self, texts: list[str]):
        if not self.marker.exists():
            self.marker.write_text("died")
            os._exit(1)
        return super().encode_with_tokens(texts)


def test_a_worker_that_dies_mid_run_is_restarted_logged_and_nothing_is_lost(ray_cluster, settings, tmp_path,
                                                                              capsys):
    run_ingest(settings, FakeTokenEmbedder())
    expected = _snapshot(settings)
    on_ray = replace(settings, home=tmp_path / "ray-home")
    marker = tmp_path / "died"
    rec = run_ingest(on_ray, _ray_embedder(on_ray, partial(DiesOnce, str(marker))), IngestOptions(embed_batch=4))
    assert marker.exists()  # a worker did die
    assert rec.status == "ok" and rec.sources["wiki"].failed == 0
    assert rec.workers_restarted == 1
    got = _snapshot(on_ray)
    assert got["docs"] == expected["docs"] and got["chunks"].keys() == expected["chunks"].keys()
    for key, (_text, vec, bits) in expected["chunks"].items():
        assert float(np.dot(vec, got["chunks"][key][1])) >= 0.9999 and got["chunks"][key][2] == bits
    cfg = write(tmp_path / "whoknows.toml", f'home = "{on_ray.home}"\n')
    assert main(["--config", str(cfg), "status"]) == 0
    assert "executor ray x2, 1 worker restarted" in capsys.readouterr().out
