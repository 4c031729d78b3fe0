"""Ingest's encoding on a real local Ray cluster, compared with the local path; and the
clear error when the ray extra is missing."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index.generations import Home
from index.runs import RunLog
from index.settings import RaySettings
from ingest.pipeline import IngestOptions, run_ingest
from search.status import index_status
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


def test_ray_path_gives_what_the_local_path_gives_and_a_rerun_embeds_nothing(
        ray_cluster, settings, tmp_path):
    from ingest.ray_executor import RayEmbedder

    local = run_ingest(settings, FakeTokenEmbedder())
    assert local.executor == "local" and local.status == "ok"
    expected = _snapshot(settings)

    on_ray = replace(settings, home=tmp_path / "ray-home")
    embedder = RayEmbedder(FakeTokenEmbedder(), FakeTokenEmbedder, RaySettings(num_workers=2, batch_size=2))
    rec = run_ingest(on_ray, embedder, IngestOptions(embed_batch=4))  # several Ray jobs per source
    assert rec.status == "ok" and (rec.executor, rec.workers) == ("ray", 2)
    assert rec.chunks_embedded == local.chunks_embedded > 0
    assert rec.sentences_embedded == local.sentences_embedded > 0
    assert embedder.texts_sent == rec.chunks_embedded + rec.sentences_embedded
    got = _snapshot(on_ray)
    assert got["docs"] == expected["docs"] and got["contributions"] == expected["contributions"]
    assert got["chunks"].keys() == expected["chunks"].keys()
    for key, (text, vec, bits) in expected["chunks"].items():
        g_text, g_vec, g_bits = got["chunks"][key]
        assert g_text == text and g_bits == bits and bits is not None
        assert float(np.dot(vec, g_vec)) >= 0.9999
    status = index_status(on_ray)
    assert (status.runs[0]["executor"], status.runs[0]["workers"]) == ("ray", 2)

    again = run_ingest(on_ray, embedder, IngestOptions(embed_batch=4))
    assert again.status == "ok" and again.executor == "ray"
    assert again.chunks_embedded == 0 and again.sentences_embedded == 0
    assert again.sources["wiki"].unchanged == len(expected["docs"]) and not again.changed
    assert RunLog(Home(on_ray.home).path / "state.sqlite").last(1)[0].executor == "ray"
