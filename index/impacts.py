"""Eager BM25: FTS5's own BM25 scores, computed once per term and row when a generation is
finished, so that keyword search adds up a few stored arrays instead of ranking every row
a query matches.

FTS5's ``bm25()`` costs ~4 µs for every row a query matches (it looks up the row's length
each time). At a million chunks three ordinary words match 100,000 rows or more, so exact
keyword search took ~400 ms there. A generation is immutable once published, so everything
in its BM25 but the query is fixed: the number of rows, the average row length, each term's
row count (idf) and each row's length. The contribution of term *t* to the score of row *r*
is therefore stored ahead ("impact", as in impact-ordered indexes and ``bm25s``'s eager
sparse scoring), and a query's score for a row is the sum of its terms' impacts, which is
exactly the sum ``bm25()`` computes::

    idf(t) * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgdl))

with FTS5's constants and conventions (``fts5_aux.c``): k1 = 1.2, b = 0.75,
idf = log((N - n + 0.5) / (n + 0.5)), 1e-6 where that is not positive; f the column-weighted
count of the term in the row; D the row's length in tokens over all columns (unweighted);
avgdl over all rows.

Everything is read from FTS5 itself: the terms and their occurrences from ``fts5vocab``
(``instance``: term, row, column, in term order), the row lengths from the table's
``_docsize`` records. Tokenisation is therefore FTS5's, and a query term is turned into
FTS5 tokens by FTS5's tokenizer (``stems``). The arrays are kept in the store itself
(``impacts``, one row per term: the row ids and scores as BLOBs), so they are copied,
published and removed with their generation.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .rows import in_batches

K1, B = 1.2, 0.75  # FTS5's bm25() constants
COLUMNS = {"chunks_fts": ("title", "heading", "text"), "documents_fts": ("title", "text")}
TOKENIZE = "porter unicode61 remove_diacritics 2"  # as chunks_fts and documents_fts (migrations)
BATCH = 2_000_000  # term occurrences read per query while building
META_KEY = "impacts"


@dataclass(frozen=True)
class TableInfo:
    """What a stored impact table was built with."""

    rows: int  # rows of the full-text table
    max_rowid: int
    weights: tuple[float, ...]


# ---- building --------------------------------------------------------------------------


def refresh(db: sqlite3.Connection, weights: dict[str, Sequence[float]]) -> None:
    """Rewrite ``impacts`` for every full-text table, with its column ``weights`` (as given
    to ``bm25()``; a table not in ``weights`` gets 1.0 for every column)."""
    db.execute("DELETE FROM impacts")
    info: dict[str, dict] = {}
    for table, names in COLUMNS.items():
        ncol = len(names)
        w = tuple(float(x) for x in weights.get(table, ())) or (1.0,) * ncol
        if len(w) != ncol:
            raise ValueError(f"{table} has {ncol} columns, got {len(w)} BM25 weights")
        lengths = _row_lengths(db, table, ncol)
        rows = int(np.count_nonzero(lengths >= 0))
        total = float(lengths[lengths > 0].sum())
        max_rowid = len(lengths) - 1
        db.executemany("INSERT INTO impacts(fts, term, rows, scores) VALUES (?, ?, ?, ?)",
                       ((table, term, r, s)
                        for term, r, s in _impacts(db, table, ncol, np.asarray(w), lengths, rows, total)))
        info[table] = {"rows": rows, "max_rowid": max_rowid, "weights": list(w)}
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (META_KEY, json.dumps(info)))


def _row_lengths(db: sqlite3.Connection, table: str, ncol: int) -> np.ndarray:
    """Tokens per row over all columns, indexed by rowid; -1 where there is no row."""
    sizes = db.execute(f"SELECT id, sz FROM {table}_docsize").fetchall()
    out = np.full((max((r for r, _ in sizes), default=0) + 1,), -1, dtype=np.int64)
    for rowid, blob in sizes:
        out[rowid] = sum(_varints(blob, ncol))
    return out


def _varints(blob: bytes, n: int) -> Iterator[int]:
    """The first ``n`` SQLite varints of ``blob`` (FTS5's column sizes)."""
    i = 0
    for _ in range(n):
        v = 0
        for j in range(9):
            byte = blob[i]
            i += 1
            if j == 8:
                v = (v << 8) | byte
                break
            v = (v << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        yield v


def _impacts(db: sqlite3.Connection, table: str, ncol: int, weights: np.ndarray, lengths: np.ndarray,
             n_rows: int, total_tokens: float) -> Iterator[tuple[str, bytes, bytes]]:
    """(term, row ids, impacts) for every term of ``table``, in term order."""
    avgdl = total_tokens / n_rows if n_rows else 1.0
    norm = K1 * (1 - B + B * np.maximum(lengths, 0) / avgdl)  # per rowid
    vocab = f"temp.wk_{table}_row"
    inst = f"temp.wk_{table}_instance"
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {vocab} USING fts5vocab(main, {table}, 'row')")
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {inst} USING fts5vocab(main, {table}, 'instance')")
    # fts5vocab names the column; its position is what the weights go by
    column = "CASE col " + " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(COLUMNS[table])) + " END"
    try:
        terms = db.execute(f"SELECT term, doc, cnt FROM {vocab}").fetchall()
        start = 0
        while start < len(terms):
            stop, count = start, 0
            while stop < len(terms) and (stop == start or count + terms[stop][2] <= BATCH):
                count += terms[stop][2]
                stop += 1
            batch = terms[start:stop]
            text = db.execute(f"SELECT group_concat(doc * {ncol} + {column}) FROM {inst} WHERE term >= ? AND term <= ?",
                              (batch[0][0], batch[-1][0])).fetchone()[0] or ""
            codes = np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, np.int64)
            yield from _batch_impacts(batch, codes, ncol, weights, norm, n_rows)
            start = stop
    finally:
        db.execute(f"DROP TABLE IF EXISTS {vocab}")
        db.execute(f"DROP TABLE IF EXISTS {inst}")


def _batch_impacts(batch: list[tuple[str, int, int]], codes: np.ndarray, ncol: int, weights: np.ndarray,
                   norm: np.ndarray, n_rows: int) -> Iterator[tuple[str, bytes, bytes]]:
    rowid_type = _rowid_type(len(norm) - 1)
    counts = np.array([c for _, _, c in batch], dtype=np.int64)
    if counts.sum() != len(codes):
        raise RuntimeError(f"fts5vocab gave {len(codes)} term occurrences, its row table says {counts.sum()}")
    term_of = np.repeat(np.arange(len(batch)), counts)
    rows, cols = codes // ncol, codes % ncol
    # occurrences come in (term, row, column, offset) order: one run per (term, row)
    new = np.ones(len(codes), dtype=bool)
    new[1:] = (term_of[1:] != term_of[:-1]) | (rows[1:] != rows[:-1])
    if np.any((term_of[1:] == term_of[:-1]) & (rows[1:] < rows[:-1])):
        raise RuntimeError("fts5vocab did not list a term's occurrences in row order")
    starts = np.flatnonzero(new)
    freq = np.add.reduceat(weights[cols], starts) if len(codes) else np.zeros(0)
    run_rows, run_term = rows[starts], term_of[starts]
    df = np.array([d for _, d, _ in batch], dtype=np.float64)
    idf = fts5_idf(n_rows, df)
    # one buffer per batch, sliced per term (a vocabulary has 10^4-10^6 terms)
    scores = (idf[run_term] * (freq * (K1 + 1) / (freq + norm[run_rows]))).astype(np.float32).tobytes()
    rows_out = run_rows.astype(rowid_type).tobytes()
    bounds = np.searchsorted(run_term, np.arange(len(batch) + 1)).tolist()
    r_size, s_size = np.dtype(rowid_type).itemsize, 4
    for i, (term, _, _) in enumerate(batch):
        lo, hi = bounds[i], bounds[i + 1]
        yield term, rows_out[lo * r_size : hi * r_size], scores[lo * s_size : hi * s_size]


def _rowid_type(max_rowid: int) -> type:
    """Row ids are kept as int32 (4 bytes a posting) unless one is too large for it."""
    return np.int32 if max_rowid < 2**31 else np.int64


# ---- searching -------------------------------------------------------------------------


def table_info(db: sqlite3.Connection, table: str) -> TableInfo | None:
    """How ``table``'s impacts were built; None when they were not (an older store)."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    except sqlite3.OperationalError:
        return None
    if not row or table not in (info := json.loads(row[0])):
        return None
    t = info[table]
    return TableInfo(int(t["rows"]), int(t["max_rowid"]), tuple(float(x) for x in t["weights"]))


_tokenizer = threading.local()


@lru_cache(maxsize=65536)
def stems(term: str) -> tuple[str, ...]:
    """FTS5's tokens for one query term (usually one: its stem), from FTS5's own tokenizer
    in a private in-memory database (one per thread)."""
    db = getattr(_tokenizer, "db", None)
    if db is None:
        db = _tokenizer.db = sqlite3.connect(":memory:")
        db.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize = '{TOKENIZE}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    db.execute("INSERT INTO t(rowid, x) VALUES (1, ?)", (term,))
    try:
        return tuple(t for (t,) in db.execute("SELECT term FROM v ORDER BY offset"))
    finally:
        db.execute("DELETE FROM t")


def search(db: sqlite3.Connection, table: str, info: TableInfo, tokens: Sequence[str], limit: int,
           allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
    """(rowid, BM25 score, higher is better) of the best ``limit`` rows of ``table`` for a
    query of single-token ``tokens`` ORed (a repeated token counts again, as in FTS5), rows
    restricted to the rowids in ``allowed`` when given."""
    wanted = sorted(set(tokens))
    if not wanted or limit <= 0:
        return []
    stored = {term: (r, s) for part, marks in in_batches(wanted) for term, r, s in db.execute(
        f"SELECT term, rows, scores FROM impacts WHERE fts = ? AND term IN ({marks})", [table, *part])}
    acc = np.zeros(info.max_rowid + 1, dtype=np.float32)
    rowid_type = _rowid_type(info.max_rowid)
    touched: list[np.ndarray] = []  # each matched row once: a row is new where its sum is still 0 (impacts are > 0)
    for token in tokens:
        if token in stored:
            r, s = stored[token]
            rows: np.ndarray = np.frombuffer(r, dtype=rowid_type)
            touched.append(rows if not touched else rows[acc[rows] == 0])
            acc[rows] += np.frombuffer(s, dtype=np.float32)
    if not touched:
        return []
    hit = np.concatenate(touched)
    if allowed is not None:
        keep = np.zeros(len(acc), dtype=bool)
        keep[allowed[(allowed >= 0) & (allowed < len(acc))]] = True
        hit = hit[keep[hit]]
    if len(hit) > limit:
        hit = hit[np.argpartition(-acc[hit], limit - 1)[:limit]]
    hit = np.sort(hit)  # ties in rowid order, as FTS5 gives them
    hit = hit[np.argsort(-acc[hit], kind="stable")]
    return [(int(r), float(acc[r])) for r in hit]


def idf(db: sqlite3.Connection, table: str, info: TableInfo, tokens: Sequence[str]) -> dict[str, float]:
    """FTS5's idf of each token over ``table``'s rows, from the stored postings' lengths
    (a token no row holds gets the largest idf)."""
    wanted = sorted(set(tokens))
    if not wanted:
        return {}
    size = np.dtype(_rowid_type(info.max_rowid)).itemsize
    df = {term: n for part, marks in in_batches(wanted) for term, n in db.execute(
        f"SELECT term, length(rows) / {size} FROM impacts WHERE fts = ? AND term IN ({marks})", [table, *part])}
    idf = fts5_idf(info.rows, np.array([df.get(t, 0) for t in wanted], dtype=np.float64))
    return {t: float(x) for t, x in zip(wanted, idf, strict=True)}


def fts5_idf(n_rows: int, df: np.ndarray) -> np.ndarray:
    """FTS5's BM25 idf for terms held by ``df`` of ``n_rows`` rows (1e-6 where not positive)."""
    idf = np.log((n_rows - df + 0.5) / (df + 0.5))
    idf[idf <= 0] = 1e-6
    return idf
