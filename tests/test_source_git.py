"""The ``git`` source on a repository made in the test: authors, weights, renames, bundles."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from index.generations import Home
from index.models import Document, Failure
from index.settings import Settings, SourceSettings
from ingest.pipeline import run_ingest
from ingest.sources import make_source
from ingest.sources.git_history import parse_log
from search.status import index_status

from .conftest import write

ADA = ("Ada Lovelace", "ada@corp.example")
BOB = ("Bob Typo", "bob@corp.example")
CAROL = ("Carol Mover", "carol@corp.example")
BOT = ("format-bot", "bot@corp.example")


def git(repo: Path, *args: str, who: tuple[str, str] = ADA, day: int = 1) -> str:
    when = f"2024-01-{day:02d}T12:00:00+00:00"
    env = {**os.environ, "GIT_AUTHOR_NAME": who[0], "GIT_AUTHOR_EMAIL": who[1],
           "GIT_COMMITTER_NAME": who[0], "GIT_COMMITTER_EMAIL": who[1],
           "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout


def commit(repo: Path, message: str, who: tuple[str, str], day: int) -> None:
    git(repo, "add", "-A", who=who, day=day)
    git(repo, "commit", "-q", "-m", message, who=who, day=day)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Ada writes a 30-line page, Bob fixes a typo, Carol moves it and adds a paragraph."""
    r = tmp_path / "wiki"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    body = "\n".join(f"Line {i} about expense reports and receipts." for i in range(28))
    write(r / "docs/expenses.md", f"# Expenses\n\n{body}\nTeh end.\n")
    write(r / "README.md", "# Not a page under docs\n\nRepository readme.\n")
    commit(r, "Write the expenses page", ADA, 1)
    page = r / "docs/expenses.md"
    page.write_text(page.read_text().replace("Teh end.", "The end."))
    commit(r, "Fix a typo", BOB, 2)
    (r / "docs/finance").mkdir()
    git(r, "mv", "docs/expenses.md", "docs/finance/expenses.md")
    moved = r / "docs/finance/expenses.md"
    moved.write_text(moved.read_text() + "\n## Travel\n\nBook trains for trips under four hours.\n")
    commit(r, "Move the page under finance", CAROL, 3)
    write(r / "docs/onboarding.md", "# Onboarding\n\nNew hires get a laptop.\n")
    commit(r, "Add onboarding", BOB, 4)
    return r


def source_settings(tmp_path: Path, path: Path, **options: object) -> tuple[SourceSettings, Settings]:
    cfg = SourceSettings(name="gw", kind="git", path=str(path), url="https://wiki.example/{path}",
                         options=dict(options))
    return cfg, Settings(home=tmp_path / "home", sources=[cfg])


def read(tmp_path: Path, path: Path, **options: object) -> tuple[dict[str, Document], list[Failure], object]:
    cfg, settings = source_settings(tmp_path, path, **options)
    src = make_source(cfg, settings)
    items = list(src.iter_documents())
    docs = {d.id: d for d in items if isinstance(d, Document)}
    return docs, [f for f in items if isinstance(f, Failure)], src


def test_pages_at_head_with_weighted_authors_across_a_rename(tmp_path, repo):
    docs, failures, src = read(tmp_path, repo, subdir="docs")
    assert failures == []
    assert set(docs) == {"gw/finance/expenses.md", "gw/onboarding.md"}
    page = docs["gw/finance/expenses.md"]
    assert page.url == "https://wiki.example/finance/expenses"
    assert page.markdown and page.kind == "wiki"
    by_name = {c.person.name: c for c in page.contributions}
    assert set(by_name) == {"Ada Lovelace", "Bob Typo", "Carol Mover"}  # history kept across the move
    ada, bob, carol = by_name["Ada Lovelace"], by_name["Bob Typo"], by_name["Carol Mover"]
    assert ada.role == "author" and bob.role == "editor"
    assert ada.weight > 0.75
    assert bob.weight < ada.weight / 10  # a one-line typo fix weighs far less than the writer
    assert bob.weight < carol.weight < ada.weight
    assert ada.person.emails == ["ada@corp.example"]
    assert page.created_at.day == 1 and page.updated_at.day == 3
    assert bob.at.day == 2 and ada.at.day == 1
    assert src.last_commit == git(repo, "rev-parse", "HEAD").strip()


def test_whole_repository_and_ignored_authors(tmp_path, repo):
    write(repo / "docs/finance/expenses.md",
          (repo / "docs/finance/expenses.md").read_text().replace("Line", "line"))
    commit(repo, "Reformat everything", BOT, 5)
    docs, _, _ = read(tmp_path, repo, ignore_authors=["bot@corp.example"])
    assert "gw/README.md" in docs and "gw/docs/finance/expenses.md" in docs
    names = {c.person.name for c in docs["gw/docs/finance/expenses.md"].contributions}
    assert "format-bot" not in names and "Ada Lovelace" in names


def test_bundle_is_cloned_into_the_cache_and_fetched_on_later_runs(tmp_path, repo):
    bundle = tmp_path / "wiki.bundle"
    git(repo, "bundle", "create", str(bundle), "--all")
    docs, _, src = read(tmp_path, bundle, subdir="docs")
    assert len(docs) == 2
    assert (tmp_path / "home/cache/gw/repo/.git").is_dir()
    write(repo / "docs/new.md", "# New page\n\nFresh text.\n")
    commit(repo, "Add a page", CAROL, 6)
    git(repo, "bundle", "create", str(bundle), "--all")
    docs2, _, src2 = read(tmp_path, bundle, subdir="docs")
    assert "gw/new.md" in docs2
    assert src2.last_commit != src.last_commit
    assert docs2["gw/new.md"].contributions[0].person.name == "Carol Mover"


def test_missing_repository_or_subdir_fails_the_source_not_the_run(tmp_path, repo, fake_embedder):
    cfg, settings = source_settings(tmp_path, tmp_path / "nowhere")
    good = SourceSettings(name="ok", kind="git", path=str(repo), options={"subdir": "docs"})
    bad_dir = SourceSettings(name="badsub", kind="git", path=str(repo), options={"subdir": "nope"})
    settings.sources = [cfg, good, bad_dir]
    rec = run_ingest(settings, fake_embedder)
    assert "not found" in rec.sources["gw"].error
    assert "nope" in rec.sources["badsub"].error
    assert rec.sources["ok"].added == 2
    assert index_status(settings).counts["documents"] == 2


def test_empty_and_undecodable_pages_are_reported(tmp_path, repo):
    write(repo / "docs/empty.md", "")
    write(repo / "docs/latin1.md", "# Caf\xe9\n".encode("latin-1"))
    commit(repo, "Bad pages", BOB, 7)
    _, failures, _ = read(tmp_path, repo, subdir="docs")
    reasons = {f.item: f.reason for f in failures}
    assert reasons["empty.md"] == "empty file"
    assert "UTF-8" in reasons["latin1.md"]


def test_log_parser_reads_renames_binary_files_and_odd_paths():
    raw = (b"\x1eaaa\x1fAda\x1fada@x\x1f2024-01-03T00:00:00+00:00\x00\n"
           b"3\t1\t\x00old name.md\x00new\tname.md\x00-\t-\timg.png\x00"
           b"\x1ebbb\x1fBob\x1fbob@x\x1f2024-01-02T00:00:00+00:00\x00\n"
           b"1\t0\told name.md\x00")
    first, second = list(parse_log(raw))
    assert [(c.added, c.old_path, c.path) for c in first.changes] == [
        (3, "old name.md", "new\tname.md"), (0, "", "img.png")]
    assert second.name == "Bob" and second.changes[0].path == "old name.md"


def test_unchanged_head_skips_history_and_reading_then_a_commit_is_picked_up(tmp_path, repo, fake_embedder,
                                                                             monkeypatch):
    from ingest.sources import git as git_source

    write(repo / "docs/empty.md", "")
    commit(repo, "An empty page", BOB, 5)
    cfg, settings = source_settings(tmp_path, repo, subdir="docs")
    first = run_ingest(settings, fake_embedder)
    assert first.sources["gw"].added == 2 and first.sources["gw"].failed == 1
    passes: list[int] = []
    original = git_source.read_histories
    monkeypatch.setattr(git_source, "read_histories", lambda *a, **k: passes.append(1) or original(*a, **k))
    again = run_ingest(settings, fake_embedder)
    assert passes == []  # no history pass when HEAD did not move
    assert (again.sources["gw"].unchanged, again.sources["gw"].failed) == (2, 1)  # failure still reported
    page = repo / "docs/onboarding.md"
    page.write_text(page.read_text() + "\nAnd a monitor.\n")
    commit(repo, "Monitors too", CAROL, 6)
    third = run_ingest(settings, fake_embedder)
    assert passes == []  # the new commit is read on its own, not the whole history again
    assert (third.sources["gw"].updated, third.sources["gw"].unchanged) == (1, 1)
    doc = Home(settings.home).open_reader().store.document("gw/onboarding.md")
    assert "Carol" in {c.person.name.split()[0] for c in doc.contributions}


def _contributions(settings: Settings) -> dict[str, list[tuple[str, str, float, str]]]:
    store = Home(settings.home).open_reader().store
    out = {}
    for (doc_id,) in store.db.execute("SELECT id FROM documents ORDER BY id").fetchall():
        doc = store.document(doc_id)
        out[doc_id] = sorted((c.person.name, c.role, c.weight, c.at.isoformat()) for c in doc.contributions)
    return out


def test_new_commits_reread_only_the_pages_they_touch_with_authorship_as_a_full_build(
        tmp_path, repo, fake_embedder, monkeypatch):
    from ingest.sources import git as git_source
    from ingest.sources.markdown import MarkdownSource

    write(repo / "docs/travel.md", "# Travel\n\nBook trains for short trips.\n")
    commit(repo, "Add travel", ADA, 5)
    cfg, settings = source_settings(tmp_path, repo, subdir="docs")
    run_ingest(settings, fake_embedder)
    page = repo / "docs/onboarding.md"
    page.write_text(page.read_text() + "\nAnd a standing desk on request.\n")
    commit(repo, "Desks", CAROL, 6)
    git(repo, "mv", "docs/travel.md", "docs/finance/travel.md")
    commit(repo, "Move travel under finance", BOB, 7)
    read_pages: list[str] = []
    original_read = MarkdownSource.read
    monkeypatch.setattr(MarkdownSource, "read", lambda self, path, rel: read_pages.append(rel)
                        or original_read(self, path, rel))
    passes: list[int] = []
    original_pass = git_source.read_histories
    monkeypatch.setattr(git_source, "read_histories", lambda *a, **k: passes.append(1) or original_pass(*a, **k))
    fake_embedder.encoded.clear()

    rec = run_ingest(settings, fake_embedder)

    run = rec.sources["gw"]
    assert passes == []
    assert sorted(read_pages) == ["finance/travel.md", "onboarding.md"]
    assert (run.updated, run.added, run.deleted, run.unchanged) == (1, 1, 1, 1)
    # the edited chunk and its one new sentence (sentence evidence); the move: none
    assert fake_embedder.encoded[1:] == ["And a standing desk on request."]
    assert "standing desk" in fake_embedder.encoded[0]
    assert run.chunks_embedded == 1
    fresh = Settings(home=tmp_path / "fresh", sources=settings.sources)
    run_ingest(fresh, fake_embedder)
    assert _contributions(settings) == _contributions(fresh)
    names = {c[0] for c in _contributions(settings)["gw/onboarding.md"]}
    assert names == {"Bob Typo", "Carol Mover"}
    travel = {c[0]: c[1] for c in _contributions(settings)["gw/finance/travel.md"]}
    assert travel == {"Ada Lovelace": "author", "Bob Typo": "editor"}  # Ada's history kept across the move


def test_rewritten_history_falls_back_to_a_full_pass(tmp_path, repo, fake_embedder, monkeypatch):
    from ingest.sources import git as git_source

    cfg, settings = source_settings(tmp_path, repo, subdir="docs")
    run_ingest(settings, fake_embedder)
    page = repo / "docs/onboarding.md"
    page.write_text(page.read_text() + "\nRewritten.\n")
    git(repo, "commit", "-q", "--amend", "-am", "Onboarding, amended", who=CAROL, day=8)
    passes: list[int] = []
    original_pass = git_source.read_histories
    monkeypatch.setattr(git_source, "read_histories", lambda *a, **k: passes.append(1) or original_pass(*a, **k))
    rec = run_ingest(settings, fake_embedder)
    assert passes == [1]  # the last seen commit is no longer in HEAD's history
    assert (rec.sources["gw"].updated, rec.sources["gw"].unchanged) == (1, 1)
    fresh = Settings(home=tmp_path / "fresh", sources=settings.sources)
    run_ingest(fresh, fake_embedder)
    assert _contributions(settings) == _contributions(fresh)


def test_a_file_renamed_into_a_page_keeps_its_history(tmp_path, repo, fake_embedder):
    body = "\n".join(f"Note {i} on the budget." for i in range(20))
    write(repo / "docs/notes.txt", f"Budget notes\n\n{body}\n")
    commit(repo, "Notes as text", ADA, 5)
    cfg, settings = source_settings(tmp_path, repo, subdir="docs")
    run_ingest(settings, fake_embedder)
    git(repo, "mv", "docs/notes.txt", "docs/notes.md")
    commit(repo, "Notes become a page", CAROL, 6)
    rec = run_ingest(settings, fake_embedder)
    assert rec.sources["gw"].added == 1
    fresh = Settings(home=tmp_path / "fresh", sources=settings.sources)
    run_ingest(fresh, fake_embedder)
    assert _contributions(settings) == _contributions(fresh)
    assert "Ada Lovelace" in {c[0] for c in _contributions(settings)["gw/notes.md"]}
