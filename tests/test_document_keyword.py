"""Whole-document keyword evidence: documents_fts follows the documents, and hybrid search
weighs a document that covers the query across its sections."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest

from index.filters import ChunkFilter
from index.generations import Home, LiveIndex
from index.migrations import STORE_MIGRATIONS, m001_create_tables, migrate
from ingest.pipeline import run_ingest
from search.keyword import match_expression
from search.searcher import Searcher

from .conftest import write


def _ids(store, query, flt=None):
    return [d for d, _ in store.document_keyword_search(match_expression(query), 10, flt)]


def test_documents_fts_follows_ingest_and_filters(settings, fake_embedder, wiki):
    run_ingest(settings, fake_embedder)
    reader = Home(settings.home).open_reader()
    # "desk" and "portal" sit in different sections of one page: the document has both
    found = reader.store.document_keyword_search(match_expression("desk portal"), 10)
    assert [d for d, _ in found] == ["wiki/expenses.md"] and found[0][1] > 0
    assert _ids(reader.store, "laptop", ChunkFilter(tags=("finance",))) == []
    reader.close()
    (wiki / "expenses.md").unlink()
    write(wiki / "onboarding/laptop.md", "# Getting a laptop\n\nIT ships a desk lamp too.\n")
    run_ingest(settings, fake_embedder)
    reader = Home(settings.home).open_reader()
    assert _ids(reader.store, "desk portal") == ["wiki/onboarding/laptop.md"]
    assert _ids(reader.store, "receive hires") == []  # the old text is gone
    reader.close()


def test_migration_fills_documents_fts_from_stored_documents(tmp_path):
    db = sqlite3.connect(tmp_path / "store.sqlite")
    migrate(db, [m001_create_tables])
    sections = [{"text": "Rollbacks use the deploy tool.", "heading": "Deploys", "anchor": "", "author_id": ""},
                {"text": "Release train on Tuesday.", "heading": "", "anchor": "", "author_id": ""}]
    db.execute("INSERT INTO documents(id, source, kind, title, sections, content_hash) VALUES (?,?,?,?,?,?)",
               ("w/d", "w", "markdown", "Shipping", json.dumps(sections), "h"))
    db.commit()
    migrate(db, STORE_MIGRATIONS)
    rows = db.execute("SELECT d.id FROM documents_fts f JOIN documents d ON d.rowid = f.rowid "
                      "WHERE documents_fts MATCH 'shipping AND rollback AND tuesday AND deploys'").fetchall()
    assert rows == [("w/d",)]


def test_store_without_documents_fts_searches_nothing(tmp_path):
    from index.store import Store
    store = Store.open_write(tmp_path / "store.sqlite")
    store.db.execute("DROP TABLE documents_fts")
    assert store.document_keyword_search('"deploy"', 10) == []


@pytest.fixture
def spread(tmp_path, fake_embedder):
    """'alpha' and 'beta' in different sections (chunks) of one page; another says 'alpha' thrice."""
    root = tmp_path / "spread"
    filler = " ".join(f"word{i}" for i in range(20))
    write(root / "covers.md", "# Covers\n\n## One\n\nalpha\n\n## Two\n\nbeta\n")
    write(root / "repeats.md", "# Repeats\n\nalpha alpha alpha\n")
    for i in range(6):  # "beta" as common as "alpha"
        write(root / f"other{i}.md", f"# Other {i}\n\n{filler} {'beta' if i == 0 else ''}\n")
    from index.settings import Settings, SourceSettings
    cfg = Settings(home=tmp_path / "home", sources=[SourceSettings(name="s", kind="markdown", path=str(root))])
    run_ingest(cfg, fake_embedder)
    return cfg


def test_document_weight_ranks_coverage_across_chunks(spread, fake_embedder):
    live = LiveIndex(Home(spread.home))

    def top(keyword: float, document: float) -> str:
        s = replace(spread.search, keyword_weight=keyword, document_keyword_weight=document)
        ranking = Searcher(live, fake_embedder, s).rank("alpha beta")
        assert all(c.chunk_id in ranking.chunks or c.chunk_id > 0 for c in ranking.candidates)
        return ranking.candidates[0].doc_id

    assert top(1.0, 0.0) == "s/repeats.md"  # best single chunk
    assert top(0.0, 1.0) == "s/covers.md"  # the document holds both terms
    with pytest.raises(ValueError, match="keyword_weight"):
        Searcher(live, fake_embedder, replace(spread.search, keyword_weight=0.7, document_keyword_weight=0.5))
