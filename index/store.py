"""One generation's metadata store: documents, chunks (with FTS5), people, contributions.

A generation's store is written by exactly one ingest run and is immutable once published,
so readers open it read-only with ``immutable=1`` (no locks, no journal reads).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from . import impacts
from .filters import ChunkFilter, filter_sql
from .migrations import STORE_MIGRATIONS, migrate
from .models import Chunk, Contribution, Document, Failure, Person, Section
from .people_store import PeopleReads
from .rows import ChunkHit, PersonRow, in_batches, iso, json_list, parse_time


class Store(PeopleReads):
    """SQLite store of one generation. Use ``Store.open_write`` or ``Store.open_read``."""

    def __init__(self, path: Path, readonly: bool):
        self.path = path
        self.readonly = readonly
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []  # every reader connection, to close them all
        self._conns_lock = threading.Lock()
        self.text_changed = False  # a document written or removed since this store was opened
        self._impact_info: dict[str, impacts.TableInfo | None] = {}  # per table, read once
        if not readonly:
            self._write_db = self._connect()
            migrate(self._write_db, STORE_MIGRATIONS)

    @classmethod
    def open_write(cls, path: Path) -> Store:
        return cls(path, readonly=False)

    @classmethod
    def open_read(cls, path: Path) -> Store:
        if not path.exists():
            raise FileNotFoundError(path)
        return cls(path, readonly=True)

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            db = sqlite3.connect(
                f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
        else:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
        db.row_factory = sqlite3.Row
        return db

    @property
    def db(self) -> sqlite3.Connection:
        if not self.readonly:
            return self._write_db
        conn = getattr(self._local, "db", None)
        if conn is None:
            conn = self._local.db = self._connect()
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection (from any thread); the store must not be used after."""
        if not self.readonly:
            self._write_db.close()
            return
        with self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

    # ---- writing -------------------------------------------------------------------

    def begin(self) -> None:
        self.db.execute("BEGIN")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def doc_hashes(self, source: str) -> dict[str, str]:
        rows = self.db.execute("SELECT id, content_hash FROM documents WHERE source = ?", (source,))
        return {r["id"]: r["content_hash"] for r in rows}

    def delete_document(self, doc_id: str) -> list[int]:
        """Remove a document with its chunks and contributions; returns the removed chunk ids."""
        self.text_changed = True
        ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        if ids:
            self.db.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for i in ids])
        self.db.execute("DELETE FROM documents_fts WHERE rowid IN (SELECT rowid FROM documents WHERE id = ?)",
                        (doc_id,))
        self.db.execute("DELETE FROM contributions WHERE doc_id = ?", (doc_id,))
        for table in ("chunk_tokens", "chunk_sentences"):
            self.db.execute(f"DELETE FROM {table} WHERE chunk_id IN (SELECT id FROM chunks WHERE doc_id = ?)",
                            (doc_id,))
        self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        self.db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return ids

    def upsert_person(self, p: Person) -> None:
        row = self.db.execute("SELECT handles, emails FROM people WHERE id = ?", (p.id,)).fetchone()
        handles, emails = list(p.handles), list(p.emails)
        if row:
            handles = sorted(set(json.loads(row["handles"])) | set(handles))
            emails = sorted(set(json.loads(row["emails"])) | set(emails))
        self.db.execute(
            "INSERT INTO people(id, name, handles, emails, profile_url) VALUES (?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET handles=excluded.handles, emails=excluded.emails, "
            "profile_url=CASE WHEN excluded.profile_url != '' THEN excluded.profile_url "
            "ELSE people.profile_url END",
            (p.id, p.name, json.dumps(handles), json.dumps(emails), p.profile_url),
        )

    def put_document(self, doc: Document, chunks: list[Chunk], content_hash: str = ""
                     ) -> tuple[list[int], list[int]]:
        """Replace a document; returns (removed chunk ids, new chunk ids in ``chunks`` order).

        People referenced by the document must already carry resolved ids. ``content_hash``
        is what ``doc_hashes`` returns next run (default: the document's own hash).
        """
        self.text_changed = True
        removed = self.delete_document(doc.id)
        sections = [
            {"text": s.text, "heading": s.heading, "anchor": s.anchor,
             "author_id": s.author.id if s.author else ""}
            for s in doc.sections
        ]
        cur = self.db.execute(
            "INSERT INTO documents(id, source, kind, title, url, created_at, updated_at, "
            "visible_to, tags, content_hash, sections) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (doc.id, doc.source, doc.kind, doc.title, doc.url, iso(doc.created_at),
             iso(doc.updated_at), json.dumps(sorted(set(doc.visible_to))), json.dumps(doc.tags),
             content_hash or doc.content_hash(), json.dumps(sections)),
        )
        self.db.execute("INSERT INTO documents_fts(rowid, title, text) VALUES (?,?,?)",
                        (cur.lastrowid, doc.title, document_text(doc.sections)))
        seen: set[str] = set()
        for c in doc.contributions:
            if c.person.id not in seen:
                self.upsert_person(c.person)
                seen.add(c.person.id)
            self.db.execute(
                "INSERT INTO contributions(doc_id, person_id, role, weight, at, section, score) "
                "VALUES (?,?,?,?,?,?,?)",
                (doc.id, c.person.id, c.role, c.weight, iso(c.at), c.section, c.score),
            )
        new_ids: list[int] = []
        for ch in chunks:
            cur = self.db.execute(
                "INSERT INTO chunks(doc_id, position, section, text, heading, anchor, author_id, "
                "text_hash) VALUES (?,?,?,?,?,?,?,?)",
                (doc.id, ch.position, ch.section, ch.text, ch.heading, ch.anchor, ch.author_id,
                 ch.text_hash),
            )
            ch.id = int(cur.lastrowid or 0)
            new_ids.append(ch.id)
            self.db.execute(
                "INSERT INTO chunks_fts(rowid, title, heading, text) VALUES (?,?,?,?)",
                (ch.id, doc.title, ch.heading, ch.text),
            )
        return removed, new_ids

    def set_failures(self, source: str, failures: list[Failure]) -> None:
        """Replace ``source``'s failures (written only when they differ: see ``changed``)."""
        rows = {(f.source, f.item): f.reason for f in failures}  # one per item, the last
        now = {(source, i): r for i, r in self.db.execute(
            "SELECT item, reason FROM failures WHERE source = ?", (source,))}
        if rows == now:
            return
        self.db.execute("DELETE FROM failures WHERE source = ?", (source,))
        self.db.executemany("INSERT OR REPLACE INTO failures(source, item, reason) VALUES (?,?,?)",
                            [(s, i, r) for (s, i), r in rows.items()])

    def prune_people(self) -> None:
        """Drop people left with no contributions (their documents were deleted)."""
        self.db.execute(
            "DELETE FROM people WHERE id NOT IN (SELECT DISTINCT person_id FROM contributions)"
        )

    def set_meta(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` (written only when it differs: see ``changed``)."""
        text = json.dumps(value)
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None or row[0] != text:
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, text))

    @property
    def changed(self) -> bool:
        """Whether any row was written or removed since this store was opened for writing
        (its migrations included). Writes that would store what is there already are skipped,
        so an unchanged re-run leaves this False."""
        return not self.readonly and self.db.total_changes > 0

    # ---- reading -------------------------------------------------------------------

    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def counts(self) -> dict[str, int]:
        q = {
            "documents": "SELECT count(*) FROM documents",
            "chunks": "SELECT count(*) FROM chunks",
            "people": "SELECT count(*) FROM people",
            "contributions": "SELECT count(*) FROM contributions",
            "failures": "SELECT count(*) FROM failures",
        }
        return {k: int(self.db.execute(sql).fetchone()[0]) for k, sql in q.items()}

    def counts_by_source(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.db.execute(
            "SELECT d.source, count(DISTINCT d.id) AS docs, count(c.id) AS chunks "
            "FROM documents d LEFT JOIN chunks c ON c.doc_id = d.id GROUP BY d.source"
        ):
            out[r["source"]] = {"documents": r["docs"], "chunks": r["chunks"]}
        for r in self.db.execute("SELECT source, count(*) AS n FROM failures GROUP BY source"):
            out.setdefault(r["source"], {"documents": 0, "chunks": 0})["failures"] = r["n"]
        return out

    def failures(self, source: str | None = None) -> list[Failure]:
        sql, args = "SELECT source, item, reason FROM failures", tuple[str, ...]()
        if source:
            sql, args = sql + " WHERE source = ?", (source,)
        return [Failure(r[0], r[1], r[2]) for r in self.db.execute(sql + " ORDER BY source, item", args)]

    def chunk_hashes(self) -> dict[int, str]:
        return {r[0]: r[1] for r in self.db.execute("SELECT id, text_hash FROM chunks")}

    def chunks_by_ids(self, ids: list[int]) -> dict[int, ChunkHit]:
        out: dict[int, ChunkHit] = {}
        for part, marks in in_batches(ids):
            for r in self.db.execute(
                "SELECT c.id, c.doc_id, c.position, c.text, c.heading, c.anchor, c.author_id, "
                "d.title, d.url, d.source, d.kind, d.updated_at, d.visible_to, c.section, d.tags "
                f"FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({marks})",
                part,
            ):
                (cid, doc_id, position, text, heading, anchor, author_id, title, url, source, kind,
                 updated_at, visible_to, section, tags) = r  # by position: this runs for every candidate
                out[cid] = ChunkHit(
                    cid, doc_id, position, text, heading, anchor, author_id, title, url, source, kind,
                    parse_time(updated_at), json_list(visible_to), section, json_list(tags),
                )
        return out

    def around_in_section(self, chunks: list[ChunkHit]) -> dict[int, tuple[str, str]]:
        """The texts of the chunks before and after each of ``chunks`` in its document and
        section (the same post of a thread, the same page; '' where there is none), by the
        given chunk's id: a short passage's snippet reads on into them."""
        out: dict[int, tuple[str, str]] = {}
        for c in chunks:
            rows = dict(self.db.execute(
                "SELECT position, text FROM chunks WHERE doc_id = ? AND position IN (?, ?) AND section = ?",
                (c.doc_id, c.position - 1, c.position + 1, c.section)).fetchall())
            out[c.id] = (rows.get(c.position - 1, ""), rows.get(c.position + 1, ""))
        return out

    def keyword_search(self, match: str, weights: tuple[float, float, float], limit: int,
                       flt: ChunkFilter | None = None) -> list[tuple[int, float]]:
        """(chunk id, BM25 score, higher is better) for an FTS5 MATCH expression, ranked by
        FTS5's ``bm25()`` (``impact_search`` gives the same scores faster).

        ``weights`` are the title, heading and text column weights; ``flt`` restricts the
        documents inside the query.
        """
        where, args = "chunks_fts MATCH ?", [match]
        join = ""
        if flt is not None and not flt.is_empty:
            join = " JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.doc_id"
            cond, cargs = filter_sql(flt)
            where, args = f"{where} AND {cond}", [*args, *cargs]
        sql = (f"SELECT chunks_fts.rowid, bm25(chunks_fts, ?, ?, ?) AS s FROM chunks_fts{join} "
               f"WHERE {where} ORDER BY s LIMIT ?")
        rows = self.db.execute(sql, [*weights, *args, limit])
        return [(int(r[0]), -float(r[1])) for r in rows]

    def refresh_impacts(self, chunk_weights: tuple[float, ...]) -> None:
        """Recompute every term's BM25 impacts (once per generation, when it is finished);
        kept as they are when no document was written or removed since the store was opened
        (an unchanged re-run) and they were made with these weights."""
        info = self.impact_info("chunks_fts")
        if (not self.text_changed and info is not None and self.impact_info("documents_fts") is not None
                and info.weights == tuple(float(w) for w in chunk_weights)):
            return
        self.begin()
        impacts.refresh(self.db, {"chunks_fts": chunk_weights})
        self.commit()
        self._impact_info.clear()

    def impact_info(self, table: str) -> impacts.TableInfo | None:
        """How ``table``'s stored impacts were built (None: they were not, an older store)."""
        if table not in self._impact_info:
            self._impact_info[table] = impacts.table_info(self.db, table)
        return self._impact_info[table]

    def impact_search(self, table: str, tokens: list[str], limit: int, allowed: Any = None
                      ) -> list[tuple[int, float]]:
        """(rowid, BM25) of ``table`` from the stored impacts (``index/impacts.py``)."""
        info = self.impact_info(table)
        if info is None:
            raise LookupError(f"{self.path} has no BM25 impacts for {table}")
        return impacts.search(self.db, table, info, tokens, limit, allowed)

    def document_ids(self, rowids: list[int]) -> dict[int, str]:
        """Document id per documents rowid (as ``documents_fts`` rows are numbered)."""
        out: dict[int, str] = {}
        for part, marks in in_batches(rowids):
            out.update((int(r[0]), str(r[1])) for r in self.db.execute(
                f"SELECT rowid, id FROM documents WHERE rowid IN ({marks})", part))
        return out

    def allowed_document_rowids(self, flt: ChunkFilter) -> list[int]:
        """Rowids of the documents passing ``flt``."""
        cond, args = filter_sql(flt)
        return [r[0] for r in self.db.execute(f"SELECT d.rowid FROM documents d WHERE {cond}", args)]

    def document_keyword_search(self, match: str, limit: int, flt: ChunkFilter | None = None
                                ) -> list[tuple[str, float]]:
        """(document id, whole-document BM25, higher is better) for an FTS5 MATCH expression;
        nothing from a store older than the ``documents_fts`` table (until it is re-indexed)."""
        where, args = "documents_fts MATCH ?", [match]
        if flt is not None and not flt.is_empty:
            cond, cargs = filter_sql(flt)
            where, args = f"{where} AND {cond}", [*args, *cargs]
        sql = ("SELECT d.id, bm25(documents_fts) AS s FROM documents_fts JOIN documents d "
               f"ON d.rowid = documents_fts.rowid WHERE {where} ORDER BY s LIMIT ?")
        try:
            rows = self.db.execute(sql, [*args, limit]).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        return [(str(r[0]), -float(r[1])) for r in rows]

    def allowed_chunk_ids(self, flt: ChunkFilter) -> list[int]:
        """Ids of the chunks whose documents pass ``flt``."""
        cond, args = filter_sql(flt)
        return [r[0] for r in self.db.execute(
            f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {cond}", args)]

    def chunk_ids_of(self, doc_ids: list[str]) -> dict[str, list[int]]:
        """Chunk ids per document, in reading order."""
        out: dict[str, list[int]] = {d: [] for d in doc_ids}
        for part, marks in in_batches(doc_ids):
            for r in self.db.execute(
                f"SELECT doc_id, id FROM chunks WHERE doc_id IN ({marks}) "
                "ORDER BY doc_id, position", part,
            ):
                out[r[0]].append(r[1])
        return out

    def document(self, doc_id: str) -> Document | None:
        r = self.db.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if r is None:
            return None
        people = {p.id: p for p in self.people_by_ids(self._doc_person_ids(doc_id))}
        sections = [
            Section(s["text"], s["heading"], s["anchor"], _person(people.get(s["author_id"])))
            for s in json.loads(r["sections"])
        ]
        contributions = [
            Contribution(_person(people.get(c["person_id"])) or Person(name="unknown"), c["role"],
                         c["weight"], parse_time(c["at"]), c["section"], c["score"], doc_id)
            for c in self.db.execute(
                "SELECT * FROM contributions WHERE doc_id = ? ORDER BY weight DESC", (doc_id,)
            )
        ]
        return Document(
            id=r["id"], source=r["source"], kind=r["kind"], title=r["title"], sections=sections,
            url=r["url"], created_at=parse_time(r["created_at"]),
            updated_at=parse_time(r["updated_at"]), visible_to=json.loads(r["visible_to"]),
            tags=json.loads(r["tags"]), contributions=contributions,
        )

    def _doc_person_ids(self, doc_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT person_id FROM contributions WHERE doc_id = ?", (doc_id,))]

    def titles_matching(self, text: str, limit: int = 200) -> list[tuple[str, list[str]]]:
        """(title, visible_to) of documents whose title contains ``text``, prefix matches first."""
        esc = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.db.execute(
            "SELECT title, visible_to FROM documents WHERE title LIKE ? ESCAPE '\\' "
            "ORDER BY (title LIKE ? ESCAPE '\\') DESC, length(title) LIMIT ?",
            (f"%{esc}%", f"{esc}%", limit),
        )
        return [(r[0], json.loads(r[1])) for r in rows]

    def count_visible(self, groups: tuple[str, ...] | None) -> int:
        """Documents visible to any of ``groups`` (None: all documents)."""
        if groups is None:
            return int(self.db.execute("SELECT count(*) FROM documents").fetchone()[0])
        wanted = set(groups)
        return sum(1 for (v,) in self.db.execute("SELECT visible_to FROM documents")
                   if wanted & set(json.loads(v)))

def document_text(sections: list[Section]) -> str:
    """What whole-document keyword search indexes besides the title (as m002's backfill)."""
    return "\n\n".join(f"{s.heading}\n{s.text}" for s in sections)


def _person(row: PersonRow | None) -> Person | None:
    return Person(name=row.name, id=row.id, profile_url=row.profile_url) if row else None
