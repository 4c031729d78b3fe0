"""Numbered migrations for the stores. Never drop a user's data: add a function, keep the old ones.

Each migration runs once, in order, and is recorded in the ``_migrations`` table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

Migration = Callable[[sqlite3.Connection], None]


def m001_create_tables(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE documents (
            id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            url TEXT NOT NULL DEFAULT '',
            created_at TEXT,
            updated_at TEXT,
            visible_to TEXT NOT NULL DEFAULT '["everyone"]',
            tags TEXT NOT NULL DEFAULT '[]',
            content_hash TEXT NOT NULL,
            sections TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX documents_source ON documents(source);
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            section INTEGER NOT NULL DEFAULT 0,
            text TEXT NOT NULL,
            heading TEXT NOT NULL DEFAULT '',
            anchor TEXT NOT NULL DEFAULT '',
            author_id TEXT NOT NULL DEFAULT '',
            text_hash TEXT NOT NULL
        );
        CREATE INDEX chunks_doc ON chunks(doc_id, position);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            title, heading, text, tokenize = 'porter unicode61 remove_diacritics 2'
        );
        CREATE TABLE people (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            handles TEXT NOT NULL DEFAULT '[]',
            emails TEXT NOT NULL DEFAULT '[]',
            profile_url TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE contributions (
            id INTEGER PRIMARY KEY,
            doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            person_id TEXT NOT NULL REFERENCES people(id),
            role TEXT NOT NULL,
            weight REAL NOT NULL DEFAULT 1.0,
            at TEXT,
            section INTEGER,
            score INTEGER
        );
        CREATE INDEX contributions_doc ON contributions(doc_id);
        CREATE INDEX contributions_person ON contributions(person_id);
        CREATE TABLE failures (
            source TEXT NOT NULL,
            item TEXT NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (source, item)
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """
    )


def m002_documents_fts(db: sqlite3.Connection) -> None:
    """Whole-document BM25 (title, then every section's heading and text), keyed by the
    documents table's rowid; filled from the documents already stored."""
    db.executescript(
        f"""
        CREATE VIRTUAL TABLE documents_fts USING fts5(
            title, text, tokenize = 'porter unicode61 remove_diacritics 2'
        );
        INSERT INTO documents_fts(rowid, title, text) SELECT rowid, title, {DOCUMENT_TEXT_SQL} FROM documents;
        """
    )


# a document's searchable text from its stored sections (JSON list of {heading, text, ...})
DOCUMENT_TEXT_SQL = ("(SELECT coalesce(group_concat(json_extract(s.value, '$.heading') || char(10) || "
                     "json_extract(s.value, '$.text'), char(10) || char(10)), '') FROM json_each(sections) s)")

def m003_common_terms(db: sqlite3.Connection) -> None:
    """Rows matched by each frequent full-text term, for a row bound on keyword search that
    the stored impacts (m005) made unnecessary; no longer filled."""
    db.executescript(
        """
        CREATE TABLE common_terms (
            fts TEXT NOT NULL,
            term TEXT NOT NULL,
            rows INTEGER NOT NULL,
            PRIMARY KEY (fts, term)
        ) WITHOUT ROWID;
        """
    )


def m004_person_source_activity(db: sqlite3.Connection) -> None:
    """Each person's recency-weighted contribution count per role, audience and source, as of
    one moment (``Store.refresh_activity``), filled when a generation is finished; per source
    because each source ages at its own pace (``[experts] activity_half_life_posts``)."""
    db.executescript(
        """
        CREATE TABLE person_source_activity (
            person_id TEXT NOT NULL,
            role TEXT NOT NULL,
            visible_to TEXT NOT NULL,
            source TEXT NOT NULL,
            dated REAL NOT NULL,
            flat REAL NOT NULL,
            PRIMARY KEY (person_id, role, visible_to, source)
        ) WITHOUT ROWID;
        """
    )


def m005_impacts(db: sqlite3.Connection) -> None:
    """Each full-text term's rows and BM25 impacts (``index/impacts.py``), filled when a
    generation is finished."""
    db.executescript(
        """
        CREATE TABLE impacts (
            fts TEXT NOT NULL,
            term TEXT NOT NULL,
            rows BLOB NOT NULL,
            scores BLOB NOT NULL,
            PRIMARY KEY (fts, term)
        );
        """
    )


def m006_chunk_tokens(db: sqlite3.Connection) -> None:
    """Each chunk's word-piece vectors as sign bits, for late interaction
    (``index/token_vectors.py``)."""
    db.execute("CREATE TABLE chunk_tokens (chunk_id INTEGER PRIMARY KEY, bits BLOB NOT NULL)")


def m007_chunk_sentences(db: sqlite3.Connection) -> None:
    """Each chunk's sentence vectors as 8-bit codes, for the sentence evidence of the second
    stage (``index/sentences.py``)."""
    db.execute("CREATE TABLE chunk_sentences (chunk_id INTEGER PRIMARY KEY, codes BLOB NOT NULL)")


STORE_MIGRATIONS: list[Migration] = [m001_create_tables, m002_documents_fts, m003_common_terms,
                                     m004_person_source_activity, m005_impacts, m006_chunk_tokens,
                                     m007_chunk_sentences]


def s001_create_runs(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            generation TEXT,
            pid INTEGER,
            record TEXT NOT NULL DEFAULT '{}'
        );
        """
    )


def s002_create_gaps(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE gaps (
            key TEXT PRIMARY KEY,
            query TEXT NOT NULL,
            kind TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        );
        """
    )


def s003_create_tokens(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE tokens (
            id INTEGER PRIMARY KEY,
            user TEXT NOT NULL,
            groups TEXT NOT NULL DEFAULT '[]',
            hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0
        );
        """
    )


def s004_feedback(db: sqlite3.Connection) -> None:
    """Votes and result opens (``index/feedback.py``), kept across generations. ``query`` is
    the normalised query (``index.gaps.normalise``); ``viewer`` the user id, or a keyed hash
    of the address when anonymous. ``feedback_queries`` holds each voted or clicked query's
    vector for the similar-query transfer; ``feedback_version`` counts changes, so a
    searcher reloads its snapshot only when there is something new."""
    db.executescript(
        """
        CREATE TABLE feedback (
            kind TEXT NOT NULL,
            query TEXT NOT NULL,
            item_id TEXT NOT NULL,
            viewer TEXT NOT NULL,
            vote INTEGER NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (kind, query, item_id, viewer)
        );
        CREATE INDEX feedback_at ON feedback(at);
        CREATE TABLE clicks (
            viewer TEXT NOT NULL,
            query TEXT NOT NULL,
            doc_id TEXT NOT NULL,
            rank INTEGER NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX clicks_query ON clicks(query, doc_id);
        CREATE INDEX clicks_at ON clicks(at);
        CREATE TABLE feedback_queries (
            query TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            model TEXT NOT NULL,
            vector BLOB NOT NULL,
            at REAL NOT NULL
        );
        CREATE TABLE feedback_version (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
        INSERT INTO feedback_version VALUES (1, 0);
        CREATE TRIGGER feedback_ins AFTER INSERT ON feedback BEGIN UPDATE feedback_version SET n = n + 1; END;
        CREATE TRIGGER feedback_upd AFTER UPDATE ON feedback BEGIN UPDATE feedback_version SET n = n + 1; END;
        CREATE TRIGGER feedback_del AFTER DELETE ON feedback BEGIN UPDATE feedback_version SET n = n + 1; END;
        CREATE TRIGGER clicks_ins AFTER INSERT ON clicks BEGIN UPDATE feedback_version SET n = n + 1; END;
        CREATE TRIGGER clicks_del AFTER DELETE ON clicks BEGIN UPDATE feedback_version SET n = n + 1; END;
        """
    )


def s008_routed(db: sqlite3.Connection) -> None:
    """Each question routed to a person (``index/routed.py``): a viewer followed an "ask"
    link whoknows suggested. Fair routing reads the last week's counts as loads and caps."""
    db.executescript(
        """
        CREATE TABLE routed (
            person_id TEXT NOT NULL,
            query TEXT NOT NULL,
            viewer TEXT NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX routed_at ON routed(at, person_id);
        """
    )


STATE_MIGRATIONS: list[Migration] = [s001_create_runs, s002_create_gaps, s003_create_tokens, s004_feedback,
                                     s008_routed]


def connect_state(path: Path, timeout: float = 10.0) -> sqlite3.Connection:
    """A connection to ``state.sqlite`` (runs, gaps, tokens), migrated. Outlives generations."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=timeout, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    migrate(db, STATE_MIGRATIONS)
    return db


def migrate(db: sqlite3.Connection, migrations: list[Migration]) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    for m in migrations:
        if m.__name__ in done:
            continue
        with db:
            m(db)
            db.execute("INSERT INTO _migrations(name) VALUES (?)", (m.__name__,))
