"""Regressions found by fuzzing ingest: each broken input costs its own item, with a reason
a person can act on, and never the run or the rest of its source."""

from __future__ import annotations

import os
from pathlib import Path

from index.generations import Home
from index.settings import Settings, SourceSettings
from ingest.pipeline import run_ingest
from ingest.sources.files_common import walk_files

from .conftest import write


def _indexed(settings: Settings) -> tuple[set[str], dict[str, str]]:
    reader = Home(settings.home).open_reader()
    try:
        docs = {r[0] for r in reader.store.db.execute("SELECT id FROM documents")}
        return docs, {f.item: f.reason for f in reader.store.failures()}
    finally:
        reader.close()


def test_named_pipes_are_not_listed_so_reading_never_blocks(wiki: Path):
    os.mkfifo(wiki / "pipe.md")  # reading it would wait forever for a writer
    listed = [p.relative_to(wiki).as_posix() for p in walk_files(wiki, (".md",))]
    assert "pipe.md" not in listed
    assert "expenses.md" in listed


def test_a_symlink_loop_costs_nothing_but_itself(settings: Settings, wiki: Path, fake_embedder):
    (wiki / "loop.md").symlink_to(wiki / "loop.md")  # Python 3.11 resolve() raises RuntimeError
    (wiki / "dangling.md").symlink_to(wiki / "nowhere.md")
    record = run_ingest(settings, fake_embedder)
    assert record.sources["wiki"].error == ""
    docs, _ = _indexed(settings)
    assert docs == {"wiki/expenses.md", "wiki/onboarding/laptop.md", "wiki/engineering/deploys.md"}
