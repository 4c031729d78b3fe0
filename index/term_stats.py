"""Row counts of the common search terms, written once per generation.

FTS5 ranks every row a query matches, so a query made of frequent words costs time in
proportion to the corpus: at a million chunks three ordinary words match 100,000 rows and
BM25 over them takes ~0.5 s. Keyword search therefore plans its query with these counts
(``search/keyword.py``): in the spirit of Elasticsearch's *common terms* query, a term that
matches too many rows selects nothing by itself. FTS5 has no cheap per-term row count
(``fts5vocab`` walks the term's whole posting list), so the counts of the terms above
``FLOOR`` rows are kept in ``common_terms``; a term not there matches fewer than ``FLOOR``.

Terms are FTS5's own tokens (porter-stemmed, diacritics removed); ``stems`` asks FTS5's
tokenizer through a temporary table, so the lookup agrees with what MATCH does.
"""

from __future__ import annotations

import json
import sqlite3

FLOOR = 1000  # rows: terms in fewer rows are not recorded
TABLES = ("chunks_fts", "documents_fts")
TOKENIZE = "porter unicode61 remove_diacritics 2"  # as chunks_fts and documents_fts (migrations)


def refresh(db: sqlite3.Connection) -> None:
    """Rewrite ``common_terms`` from the full-text tables (one pass over their vocabularies)."""
    db.execute("DELETE FROM common_terms")
    sizes = {table: int(db.execute(f"SELECT count(*) FROM {table}_docsize").fetchone()[0]) for table in TABLES}
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('fts_rows', ?)", (json.dumps(sizes),))
    for table in TABLES:
        vocab = f"temp.{table}_vocab"
        db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {vocab} USING fts5vocab(main, {table}, 'row')")
        db.execute(f"INSERT INTO common_terms(fts, term, rows) SELECT ?, term, doc FROM {vocab} WHERE doc >= ?",
                   (table, FLOOR))
        db.execute(f"DROP TABLE {vocab}")


def table_rows(db: sqlite3.Connection, table: str) -> int | None:
    """Rows of ``table`` when the counts were last refreshed (None: never, an older store)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'fts_rows'").fetchone()
    return json.loads(row[0]).get(table) if row else None


def stems(db: sqlite3.Connection, terms: list[str]) -> dict[str, list[str]]:
    """FTS5's tokens for each query term (usually one: its stem)."""
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.wk_tokens USING fts5(x, tokenize = '{TOKENIZE}')")
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.wk_tokens_vocab USING fts5vocab(temp, wk_tokens, 'instance')")
    db.executemany("INSERT INTO temp.wk_tokens(rowid, x) VALUES (?, ?)", list(enumerate(terms, 1)))
    out: dict[str, list[str]] = {t: [] for t in terms}
    for row, token in db.execute("SELECT doc, term FROM temp.wk_tokens_vocab ORDER BY doc, offset"):
        out[terms[row - 1]].append(token)
    db.execute("DELETE FROM temp.wk_tokens")
    return out


def term_rows(db: sqlite3.Connection, table: str, terms: list[str]) -> dict[str, int]:
    """Rows of ``table`` each query term matches; ``FLOOR`` stands for "fewer than ``FLOOR``"
    (also for every term of a store made before ``common_terms``)."""
    tokens = stems(db, terms)
    wanted = sorted({s for ss in tokens.values() for s in ss})
    found: dict[str, int] = {}
    if wanted:
        try:
            found = dict(db.execute(
                f"SELECT term, rows FROM common_terms WHERE fts = ? AND term IN ({','.join('?' * len(wanted))})",
                [table, *wanted]))
        except sqlite3.OperationalError as e:
            if "no such table" not in str(e):
                raise
    # a quoted term of several tokens is a phrase: no more rows than its rarest token
    return {t: min((found.get(s, FLOOR) for s in ss), default=0) for t, ss in tokens.items()}
