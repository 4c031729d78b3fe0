"""`whoknows backup` while searches run and a re-index publishes, then `whoknows restore` into
an empty home: the restored home answers the same searches, tokens and run records included."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from index.backup import BackupError, backup_home, open_generation, restore_home
from index.generations import Home, LiveIndex
from index.settings import Settings
from index.tokens import TokenStore
from ingest.pipeline import run_ingest
from search.searcher import Searcher
from web.cli import main

from .conftest import write

QUERIES = ["expense a desk for my home office", "laptop on the first day", "deploys release train",
           "travel portal flights", "rollbacks"]


def answers(settings: Settings, embedder) -> dict[str, list[tuple[str, float]]]:
    searcher = Searcher(LiveIndex(Home(settings.home)), embedder, settings.search)
    return {q: [(h.doc_id, round(h.score, 6)) for h in searcher.search(q).hits] for q in QUERIES}


def test_backup_under_search_load_restores_the_same_answers(settings, wiki, fake_embedder, tmp_path):
    run_ingest(settings, fake_embedder)
    token = TokenStore(settings.home / "state.sqlite").create("ada", ["hr"])
    expected = answers(settings, fake_embedder)
    served = Home(settings.home).current()

    searcher = Searcher(LiveIndex(Home(settings.home)), fake_embedder, settings.search)
    stop, errors, done = threading.Event(), [], [0]

    def load() -> None:
        while not stop.is_set():
            for q in QUERIES:
                try:
                    assert searcher.search(q).hits
                    done[0] += 1
                except Exception as e:  # a search that fails during the backup fails the test
                    errors.append(e)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        manifest = backup_home(Home(settings.home), tmp_path / "backup")
        # the state database keeps changing while serving; the backup holds what it held
        TokenStore(settings.home / "state.sqlite").create("late", ["x"])
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors and done[0] > 0
    assert manifest.generation == served and "state.sqlite" in manifest.databases
    assert "embeddings.sqlite" not in manifest.databases  # a cache: only with --with-cache

    restored = Settings(home=tmp_path / "restored", sources=settings.sources, search=settings.search)
    restore_home(tmp_path / "backup", Home(restored.home))
    assert Home(restored.home).current() == served
    assert answers(restored, fake_embedder) == expected
    tokens = TokenStore(restored.home / "state.sqlite")
    assert [t.user for t in tokens.list()] == ["ada"] and tokens.owner(token) is not None
    # the restored home carries on: the next run is incremental, from the restored generation
    write(wiki / "new.md", "# Parking\n\nThe garage opens at seven.\n")
    fake_embedder.encoded.clear()
    record = run_ingest(restored, fake_embedder)
    assert record.status == "ok" and record.sources["wiki"].added == 1 and record.sources["wiki"].unchanged == 3


def test_a_generation_removed_while_being_copied_is_still_backed_up_whole(settings, wiki, fake_embedder, tmp_path):
    """Opened before copying, its files outlive their names: a run that publishes twice during
    a backup (and so removes the generation being copied) cannot cut the backup short."""
    run_ingest(settings, fake_embedder)
    expected = answers(settings, fake_embedder)
    home = Home(settings.home)
    opened = open_generation(home)
    shutil.rmtree(home.generations / opened.name)  # what remove_old does two publishes later
    (tmp_path / "b" / "generations").mkdir(parents=True)
    try:
        opened.copy_to(tmp_path / "b" / "generations")
    finally:
        opened.close()
    (tmp_path / "b" / "backup.json").write_text(json.dumps(
        {"generation": opened.name, "databases": [], "files": []}), encoding="utf-8")
    restore_home(tmp_path / "b", Home(tmp_path / "restored"))
    restored = Settings(home=tmp_path / "restored", sources=settings.sources, search=settings.search)
    assert answers(restored, fake_embedder) == expected


def test_restore_refuses_a_home_with_an_index_and_a_damaged_backup(settings, fake_embedder, tmp_path):
    run_ingest(settings, fake_embedder)
    backup_home(Home(settings.home), tmp_path / "b")
    with pytest.raises(BackupError, match="already holds an index"):
        restore_home(tmp_path / "b", Home(settings.home))
    with pytest.raises(BackupError, match="not empty"):
        backup_home(Home(settings.home), tmp_path / "b")
    state = tmp_path / "b" / "state.sqlite"
    state.write_bytes(state.read_bytes()[:4096] + b"\x00garbage" * 512)
    with pytest.raises(BackupError, match="damaged"):
        restore_home(tmp_path / "b", Home(tmp_path / "empty"))
    assert Home(tmp_path / "empty").current() is None
    with pytest.raises(BackupError, match="nothing to back up"):
        backup_home(Home(tmp_path / "empty"), tmp_path / "c")
    with pytest.raises(BackupError, match="not a whoknows backup"):
        restore_home(tmp_path, Home(tmp_path / "empty2"))


def test_cli_backup_and_restore(settings, fake_embedder, tmp_path, capsys):
    run_ingest(settings, fake_embedder)
    cfg = write(tmp_path / "w.toml", f'home = "{settings.home}"\n')
    assert main(["--config", str(cfg), "backup", str(tmp_path / "b"), "--with-cache"]) == 0
    assert "embeddings.sqlite" in capsys.readouterr().out
    cfg2 = write(tmp_path / "w2.toml", f'home = "{tmp_path / "home2"}"\n')
    assert main(["--config", str(cfg2), "restore", str(tmp_path / "b")]) == 0
    assert main(["--config", str(cfg2), "restore", str(tmp_path / "b")]) == 1
    db = sqlite3.connect(tmp_path / "home2" / "embeddings.sqlite")
    assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    db.close()


def test_a_backup_folder_is_private(settings, fake_embedder, tmp_path):
    run_ingest(settings, fake_embedder)
    backup_home(Home(settings.home), tmp_path / "b")
    assert (Path(tmp_path / "b").stat().st_mode & 0o077) == 0
