"""The ingest run: sources → documents → chunks → embeddings → a new generation.

Unchanged documents (same content hash) are skipped; chunks whose text was embedded before
come from the embedding cache. Each source is applied in one transaction, so a source that
breaks half way, or trips the mass-deletion guard, leaves its documents as they were.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from index import sentences, token_vectors
from index.embedding import Embedder, EmbeddingCache
from index.generations import GenerationWriter, Home
from index.models import Chunk, Document, Failure, Unchanged
from index.pace import activity_paces, source_clocks
from index.people import PeopleResolver
from index.runs import RunLog, RunRecord, SourceRun, now_iso
from index.sentences import chunk_sentences
from index.settings import Settings, SourceSettings
from index.token_vectors import pack, token_encoder

from .chunking import Chunker
from .overlap import ChunkedDocuments
from .sources import make_source

ProgressFn = Callable[[dict], None]


class MassDeletion(RuntimeError):
    """A run would delete more of a source than allowed; usually the source is broken."""


@dataclass
class IngestOptions:
    only: list[str] | None = None  # source names; None = all
    allow_mass_delete: bool = False
    max_delete_share: float | None = None  # None = settings.ingest.max_delete_share
    full: bool = False  # rebuild from scratch into a new generation
    progress: bool = False  # a progress bar on stderr
    embed_batch: int = 512  # chunks gathered before encoding (sorted by length within)
    cache_path: Path | None = None  # embedding cache; default <home>/embeddings.sqlite


@dataclass
class _Reading:
    """A source being read and chunked ahead of the encoder."""

    old: dict[str, str]  # document id -> stored key
    source: Any
    reader: ChunkedDocuments | Any  # or ingest/ray_stages.py's RayReading; None: not opened
    error: Exception | None = None


@dataclass
class _Pending:
    docs: list[tuple[Document, list[Chunk], bool]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    add_ids: list[np.ndarray] = field(default_factory=list)
    add_vecs: list[np.ndarray] = field(default_factory=list)

    @property
    def n_chunks(self) -> int:
        return sum(len(c) for _, c, _ in self.docs)


@dataclass
class Preparer:
    """A read document's people resolved, then its chunks (None when its stored key is the
    same). Picklable: Ray workers prepare documents with it too (``ingest/ray_stages.py``)."""

    resolver: PeopleResolver
    chunker: Chunker
    salt: str  # what else changes the stored form (chunking, people aliases, token vectors)

    def key(self, doc: Document) -> str:
        return f"{doc.content_hash()}:{self.salt}"

    def __call__(self, doc: Document, old_key: str | None) -> list[Chunk] | None:
        for c in doc.contributions:
            self.resolver.resolve(c.person)
            c.doc_id = doc.id
        for s in doc.sections:
            if s.author is not None:
                self.resolver.resolve(s.author)
        return None if old_key == self.key(doc) else self.chunker.chunk(doc)


class Ingest:
    """One run over the configured sources. Use ``run_ingest``."""

    def __init__(self, settings: Settings, embedder: Embedder, opts: IngestOptions,
                 writer: GenerationWriter, cache: EmbeddingCache, record: RunRecord,
                 log: RunLog):
        self.settings, self.embedder, self.opts = settings, embedder, opts
        self.writer, self.cache, self.record, self.log = writer, cache, record, log
        self.resolver = PeopleResolver(settings.people)
        self.chunker = Chunker(settings.chunking)
        self.bar = tqdm(desc="ingest", unit=" doc", disable=not opts.progress, file=sys.stderr,
                        dynamic_ncols=True)
        self._t0 = time.monotonic()
        self._last_save = 0.0
        self.docs_seen = 0
        self._readers: dict[str, _Reading] = {}
        self.docs_expected = 0  # from the previous generation, for the ETA
        # late interaction on: chunks also keep token vectors, so turning it on re-stores them
        self.tok_enc = token_encoder(embedder) if settings.search.late_interaction > 0 else None
        # sentence evidence on: chunks also keep their sentences' vectors (index/sentences.py)
        self.with_sentences = settings.search.sentence_weight > 0
        chunking = json.dumps([settings.chunking.size, settings.chunking.overlap,
                               sorted(settings.people.items())] + (["tokens"] if self.tok_enc else [])
                              + (["sentences"] if self.with_sentences else []))
        self._salt = hashlib.sha1(chunking.encode()).hexdigest()[:12]
        self.prepare = Preparer(self.resolver, self.chunker, self._salt)

    def doc_key(self, doc: Document) -> str:
        """Content hash plus what else changes the stored form (chunking, people aliases)."""
        return self.prepare.key(doc)

    def _fingerprint(self, cfg: SourceSettings) -> str:
        raw = json.dumps([repr(cfg), self._salt, self.embedder.model_id], sort_keys=True)
        return hashlib.sha1(raw.encode()).hexdigest()

    def _previous_state(self, cfg: SourceSettings) -> dict:
        """The source's saved state, unless the config or model changed since (then re-read)."""
        saved = self.writer.store.meta(f"source_state:{cfg.name}") or {}
        if not self.writer.base or saved.get("fingerprint") != self._fingerprint(cfg):
            return {}
        return dict(saved.get("state") or {})

    def read_ahead(self, sources: list[SourceSettings]) -> None:
        """Start reading and chunking every source now, so the parsing of later sources
        overlaps the embedding of earlier ones (each source's rows are its own)."""
        for cfg in sources:
            self._readers[cfg.name] = self._start_reading(cfg)

    def _start_reading(self, cfg: SourceSettings) -> _Reading:
        old = self.writer.store.doc_hashes(cfg.name)
        try:
            source = make_source(cfg, self.settings)
            if hasattr(source, "state"):
                source.state = self._previous_state(cfg)
        except Exception as e:  # reported as the source's error when its turn comes
            return _Reading(old, None, None, e)
        on_ray = getattr(self.embedder, "ray_reader", None)  # ingest/ray_stages.py, or None
        reader = on_ray(source, self.prepare, old, self.tok_enc is not None, self.with_sentences) if on_ray else None
        return _Reading(old, source, reader or ChunkedDocuments(source, lambda d: self.prepare(d, old.get(d.id))))

    def close_readers(self) -> None:
        for reading in self._readers.values():
            if reading.reader is not None:
                reading.reader.close()
        self._readers.clear()

    def run_source(self, cfg: SourceSettings) -> SourceRun:
        sr = SourceRun()
        t0 = time.monotonic()
        store = self.writer.store
        reading = self._readers.pop(cfg.name, None) or self._start_reading(cfg)
        old, source, reader = reading.old, reading.source, reading.reader
        seen: set[str] = set()
        failures: list[Failure] = []
        pending = _Pending()
        state_ok = True
        store.begin()
        try:
            if reading.error is not None or reader is None:
                raise reading.error or RuntimeError("source could not be opened")
            for item, chunks in reader:
                self._tick(cfg.name, sr)
                if isinstance(item, Failure):
                    failures.append(item)
                    continue
                if isinstance(item, Unchanged):
                    if item.doc_id in old and item.doc_id not in seen:
                        seen.add(item.doc_id)
                        sr.unchanged += 1
                    else:  # the source's state and the index disagree: re-read next time
                        state_ok = False
                        failures.append(Failure(cfg.name, item.doc_id, "reported unchanged but not indexed"))
                    continue
                if item.id in seen:
                    failures.append(Failure(cfg.name, item.id, "duplicate document id"))
                    continue
                seen.add(item.id)
                if chunks is None:
                    sr.unchanged += 1
                    continue
                pending.docs.append((item, chunks, item.id in old))
                if pending.n_chunks >= self.opts.embed_batch:
                    self._flush(pending, sr, failures)
            self._flush(pending, sr, failures)
            gone = [d for d in old if d not in seen]
            share = len(gone) / len(old) if old else 0.0
            limit = self.opts.max_delete_share
            if limit is None:
                limit = self.settings.ingest.max_delete_share
            if gone and share > limit and not self.opts.allow_mass_delete:
                raise MassDeletion(
                    f"would delete {len(gone)} of {len(old)} documents ({share:.0%} > "
                    f"{limit:.0%}); the source looks broken. Nothing was "
                    "changed for it; re-run with --allow-mass-delete if this is intended"
                )
            for doc_id in gone:
                pending.removed += store.delete_document(doc_id)
            sr.deleted = len(gone)
            sr.failed = len(failures)
            store.set_failures(cfg.name, failures)
            state = getattr(source, "state", None) if state_ok else None
            store.set_meta(f"source_state:{cfg.name}",
                           {"fingerprint": self._fingerprint(cfg), "state": state} if state else {})
            store.commit()
        except Exception as e:
            if reader is not None:
                reader.close()
            store.db.execute("ROLLBACK")
            sr = SourceRun(error=f"{type(e).__name__}: {e}", failed=len(failures))
            sr.seconds = round(time.monotonic() - t0, 3)
            return sr
        self.writer.vectors.remove(pending.removed)
        if pending.add_ids:
            self.writer.vectors.add(np.concatenate(pending.add_ids), np.vstack(pending.add_vecs))
        sr.seconds = round(time.monotonic() - t0, 3)
        return sr

    def _flush(self, pending: _Pending, sr: SourceRun, failures: list[Failure]) -> None:
        if not pending.docs:
            return
        chunks = [c for _, cs, _ in pending.docs for c in cs]
        hashes = [c.text_hash for c in chunks]
        model = self.embedder.model_id
        cached = self.cache.get_many(model, hashes)
        tok_enc = self.tok_enc  # the chunks' token vectors too, from the same forward pass
        bits = self.cache.get_tokens(model, hashes) if tok_enc is not None else {}
        todo: dict[str, str] = {}
        for c, h in zip(chunks, hashes, strict=True):
            if (h not in cached or (tok_enc is not None and h not in bits)) and h not in todo:
                todo[h] = c.embed_text
        if todo:
            if tok_enc is not None:
                vecs, toks = tok_enc.encode_with_tokens(list(todo.values()))
                fresh_bits = {h: pack(t.vectors) for h, t in zip(todo, toks, strict=True)}
                self.cache.put_tokens(model, fresh_bits)
                bits.update(fresh_bits)
            else:
                vecs = self.embedder.encode(list(todo.values()))
            fresh = dict(zip(todo.keys(), vecs, strict=True))
            self.cache.put_many(model, fresh)
            cached.update(fresh)
        sr.chunks_embedded += len(todo)
        sr.chunks_cached += len(chunks) - len(todo)
        self.record.chunks_embedded += len(todo)
        codes = self._sentence_codes(chunks) if self.with_sentences else {}
        store = self.writer.store
        for doc, doc_chunks, existed in pending.docs:
            store.db.execute("SAVEPOINT doc")
            try:
                removed, ids = store.put_document(doc, doc_chunks, self.doc_key(doc))
            except Exception as e:  # e.g. a value SQLite refuses: skip this document only
                store.db.execute("ROLLBACK TO doc")
                store.db.execute("RELEASE doc")
                failures.append(Failure(doc.source, doc.id, f"{type(e).__name__}: {e}"))
                continue
            store.db.execute("RELEASE doc")
            pending.removed += removed
            if ids:
                if bits:
                    token_vectors.put(store.db, ((i, bits[c.text_hash]) for i, c in zip(ids, doc_chunks, strict=True)))
                if codes:
                    sentences.put(store.db, ((i, codes[c.text]) for i, c in zip(ids, doc_chunks, strict=True)
                                             if codes.get(c.text)))
                pending.add_ids.append(np.asarray(ids, dtype="int64"))
                pending.add_vecs.append(np.vstack([cached[c.text_hash] for c in doc_chunks]))
            if existed:
                sr.updated += 1
            else:
                sr.added += 1
        pending.docs.clear()

    def _sentence_codes(self, chunks: list[Chunk]) -> dict[str, bytes]:
        """Each chunk text's sentence vectors as 8-bit codes (``index/sentences.py``); the
        vectors come from the embedding cache when known, else are encoded and cached."""
        split = {c.text: chunk_sentences(c.text) for c in chunks}
        vecs, encoded = self.cache.vectors_for(self.embedder, [x for parts in split.values() for x in parts])
        self.record.sentences_embedded += encoded
        ends = np.cumsum([len(parts) for parts in split.values()])
        return {t: sentences.pack(vecs[end - len(parts) : end])
                for (t, parts), end in zip(split.items(), ends, strict=True) if parts}

    def _tick(self, source: str, sr: SourceRun) -> None:
        self.docs_seen += 1
        self.bar.update(1)
        elapsed = time.monotonic() - self._t0
        rate = self.record.chunks_embedded / elapsed if elapsed > 0 else 0.0
        if self.opts.progress:
            self.bar.set_postfix(source=source, chunks_embedded=self.record.chunks_embedded,
                                 sentences=self.record.sentences_embedded, chunks_per_s=f"{rate:.0f}",
                                 refresh=False)
        if elapsed - self._last_save > 2.0:
            self._last_save = elapsed
            self.record.progress = self.progress(source, elapsed, rate)
            self.log.save(self.record)

    def progress(self, source: str, elapsed: float, rate: float) -> dict:
        """A running run's progress; the ETA assumes as many documents as last time."""
        eta = None
        if self.docs_expected and self.docs_seen:
            left = max(0, self.docs_expected - self.docs_seen)
            eta = round(elapsed / self.docs_seen * left, 1)
        return {"source": source, "documents": self.docs_seen,
                "documents_expected": self.docs_expected,
                "chunks_embedded": self.record.chunks_embedded,
                "sentences_embedded": self.record.sentences_embedded, "chunks_per_s": round(rate, 1),
                "elapsed_s": round(elapsed, 1), "eta_s": eta}


def run_ingest(settings: Settings, embedder: Embedder, opts: IngestOptions | None = None
               ) -> RunRecord:
    """Run one ingest and publish its generation. Returns the run's record.

    Raises ``RunInProgress`` when another run holds the lock.
    """
    opts = opts or IngestOptions()
    home = Home(settings.home)
    with home.lock():
        log = RunLog(home.path / "state.sqlite")
        record = log.start()
        record.executor = getattr(embedder, "executor", "local")  # ingest/ray_executor.py
        record.workers = getattr(embedder, "workers", 1)
        restarted = getattr(embedder, "workers_restarted", 0)
        t0 = time.monotonic()
        cache = EmbeddingCache(opts.cache_path or home.path / "embeddings.sqlite")
        ingest: Ingest | None = None
        try:
            writer = home.new_generation(embedder.model_id, embedder.dim, full=opts.full)
            ingest = Ingest(settings, embedder, opts, writer, cache, record, log)
            names = {s.name for s in settings.sources}
            ingest.docs_expected = sum(
                len(writer.store.doc_hashes(s.name)) for s in settings.sources
                if not opts.only or s.name in opts.only)
            selected = [c for c in settings.sources if not opts.only or c.name in opts.only]
            ingest.read_ahead(selected)
            for cfg in selected:
                record.sources[cfg.name] = ingest.run_source(cfg)
            if not opts.only:
                _drop_unconfigured(writer, names, record)
            writer.store.prune_people()
            writer.store.refresh_impacts(tuple(settings.search.bm25_weights))
            _refresh_activity(writer, settings)
            writer.fit_vectors(settings.vectors, cache)
            ingest.bar.close()
            if writer.changed:
                record.generation = writer.name
                home.publish(writer)
            else:  # nothing to publish: readers keep the current generation and its warm caches
                record.generation, record.changed = writer.base or "", False
                home.discard(writer)
            failed = [n for n, s in record.sources.items() if s.error]
            record.status = "failed" if failed and len(failed) == len(record.sources) else "ok"
            if failed:
                record.error = "; ".join(f"{n}: {record.sources[n].error}" for n in failed)
        except Exception as e:
            record.status, record.error = "failed", f"{type(e).__name__}: {e}"
            raise
        finally:
            if ingest is not None:
                ingest.close_readers()
            record.workers_restarted = getattr(embedder, "workers_restarted", 0) - restarted
            record.seconds = round(time.monotonic() - t0, 3)
            record.finished_at = now_iso()
            record.progress = {}
            log.save(record)
            log.close()
            cache.close()
    return record


def _refresh_activity(writer: GenerationWriter, settings: Settings) -> None:
    """The people's recency-weighted activity as of now; the stored sums are kept when nothing
    changed (a search scales them to its own moment)."""
    clocks = source_clocks(writer.store, settings.experts.pace_posts)
    paces = activity_paces(clocks, settings.experts.activity_half_life_posts)
    half_life = settings.experts.activity_half_life_days
    if writer.changed or not writer.store.activity_current(half_life, paces):
        writer.store.refresh_activity(half_life, datetime.now(UTC), paces)


def _drop_unconfigured(writer: GenerationWriter, names: set[str], record: RunRecord) -> None:
    """Documents of a source removed from the config leave the index."""
    store = writer.store
    rows = store.db.execute("SELECT DISTINCT source FROM documents").fetchall()
    for (source,) in rows:
        if source in names:
            continue
        ids = [r[0] for r in store.db.execute("SELECT id FROM documents WHERE source = ?", (source,))]
        store.begin()
        removed: list[int] = []
        for d in ids:
            removed += store.delete_document(d)
        store.db.execute("DELETE FROM failures WHERE source = ?", (source,))
        store.commit()
        writer.vectors.remove(removed)
        record.sources[source] = SourceRun(deleted=len(ids))
