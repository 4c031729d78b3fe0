"""A folder source's changed files read, parsed, chunked and encoded as Ray Data stages.

The driver lists the source (``ListedFolder.listing``: paths, or ``Unchanged`` for files with
the size and mtime they were indexed with) exactly as the local path does; only the listed
paths go to Ray, in one Dataset per source:

    from_items(paths) -> map_batches(ReadStage)   actors: the source's reader with its time
                                                  limit, people resolved, chunks (or None
                                                  when the document's key is unchanged)
                      -> map_batches(EncodeStage) actors: the model loaded once per actor;
                                                  chunk vectors (token vectors, sentences)

The rows stream back in order and come out of ``RayReading`` as the ``(item, chunks)`` pairs
``ChunkedDocuments`` gives; their vectors wait in ``RayEmbedder.ready`` for the driver's
``encode`` calls, so the driver's cache, store and generation writes are those of the local path.
An actor that Ray restarted after its worker died says so in its rows (``reborn``).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import numpy as np

from index.models import Chunk, Document, Failure
from index.sentences import chunk_sentences
from index.settings import Settings, SourceSettings
from index.token_vectors import token_encoder

if TYPE_CHECKING:
    from .pipeline import Preparer
    from .ray_executor import EmbedderFactory, RayEmbedder

CHUNKS_PER_DOCUMENT = 32  # a batch of [ray] batch_size chunks is about this many fewer documents


def _reborn() -> int:
    """This actor's pid when Ray restarted it (its worker died), else 0."""
    import ray

    return os.getpid() if ray.get_runtime_context().was_current_actor_reconstructed else 0


class ReadStage:
    """One Ray actor: the source's own reader (a files source keeps its isolated parser
    process with its time limit for the actor's life), then ``prepare``."""

    def __init__(self, cfg: SourceSettings, settings: Settings, prepare: Preparer):
        from .sources import make_source

        self.source = make_source(cfg, settings)
        self.prepare = prepare
        self._stack = ExitStack()
        self.calls = None
        if getattr(self.source, "isolate", False):
            from .readers.isolation import IsolatedCalls

            self.calls = self._stack.enter_context(IsolatedCalls(self.source.timeout_s))  # type: ignore[attr-defined]
        self.reborn = _reborn()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        rows = []
        for rel, old_key in zip(batch["rel"], batch["old"], strict=True):
            item = self.source.read_listed(str(rel), self.calls)  # type: ignore[attr-defined]
            chunks = self.prepare(item, str(old_key) or None) if isinstance(item, Document) else None
            rows.append(pickle.dumps((item, chunks)))
        return {"i": batch["i"], "row": rows, "reborn": [self.reborn] * len(rows)}


class EncodeStage:
    """One Ray actor: loads the encoder once; encodes the chunks (and their sentences) of the
    documents in its batches."""

    def __init__(self, factory: EmbedderFactory, with_tokens: bool, with_sentences: bool):
        self.embedder = factory()
        self.tok_enc = token_encoder(self.embedder) if with_tokens else None
        self.with_sentences = with_sentences
        self.reborn = _reborn()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        pairs = [pickle.loads(raw) for raw in batch["row"]]
        chunks: list[Chunk] = [c for _, cs in pairs for c in (cs or [])]
        texts = list(dict.fromkeys(c.embed_text for c in chunks))
        vectors: dict[str, Any] = {}
        tokens: dict[str, Any] = {}
        if texts and self.tok_enc is not None:
            vecs, toks = self.tok_enc.encode_with_tokens(texts)
            tokens = {t: (k.vectors, k.spans) for t, k in zip(texts, toks, strict=True)}
            vectors.update(zip(texts, vecs, strict=True))
        elif texts:
            vectors.update(zip(texts, self.embedder.encode(texts), strict=True))
        if self.with_sentences:
            sents = list(dict.fromkeys(s for c in chunks for s in chunk_sentences(c.text)) - vectors.keys())
            if sents:
                vectors.update(zip(sents, self.embedder.encode(sents), strict=True))
        vecs_out = [pickle.dumps(vectors if k == 0 else {}) for k in range(len(pairs))]
        toks_out = [pickle.dumps(tokens if k == 0 else {}) for k in range(len(pairs))]
        return {"i": batch["i"], "row": batch["row"], "vectors": vecs_out, "tokens": toks_out,
                "reborn": [self.reborn] * len(pairs), "reborn_read": batch["reborn"]}


class RayReading:
    """Iterates ``(item, chunks)`` like ``ChunkedDocuments``, the reading done on Ray."""

    def __init__(self, owner: RayEmbedder, source: Any, prepare: Preparer, old: dict[str, str],
                 with_tokens: bool, with_sentences: bool):
        self.owner, self.source, self.prepare, self.old = owner, source, prepare, old
        self.with_tokens, self.with_sentences = with_tokens, with_sentences

    def __iter__(self) -> Iterator[tuple[Any, list[Chunk] | None]]:
        listed: list[str] = []
        for item in self.source.listing():  # the driver decides what must be read, as locally
            if isinstance(item, str):
                listed.append(item)
            else:
                yield item, None
        if listed:  # a run with nothing to read starts no cluster
            yield from self._on_ray(listed)
        self.source.finish_listing()

    def _on_ray(self, listed: list[str]) -> Iterator[tuple[Any, list[Chunk] | None]]:
        owner = self.owner
        ray = owner.connect()
        s = owner.settings
        name = self.source.name
        owner.ready.clear()
        owner.ready_tokens.clear()
        items = ray.data.from_items([{"i": i, "rel": rel, "old": self.old.get(f"{name}/{rel}", "")}
                                     for i, rel in enumerate(listed)])
        docs = max(1, s.batch_size // CHUNKS_PER_DOCUMENT)  # documents per batch
        ds = items.map_batches(
            ReadStage, fn_constructor_args=(self.source.cfg, owner.full, self.prepare),
            compute=ray.data.ActorPoolStrategy(size=owner.workers), batch_size=docs,
            num_cpus=0)  # parsing shares each worker's CPUs with its encoder
        ds = ds.map_batches(
            EncodeStage, fn_constructor_args=(owner.factory, self.with_tokens, self.with_sentences),
            compute=ray.data.ActorPoolStrategy(size=owner.workers), batch_size=docs,
            num_cpus=s.cpus_per_worker)
        got = 0
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for raw, vecs, toks, reborn, reborn_read in zip(
                    batch["row"], batch["vectors"], batch["tokens"], batch["reborn"], batch["reborn_read"],
                    strict=True):
                owner.ready.update(pickle.loads(vecs))
                owner.ready_tokens.update(pickle.loads(toks))
                owner.note_restarts(("read", int(reborn_read)), ("encode", int(reborn)))
                item, chunks = pickle.loads(raw)
                self.source.listed_read(item.item if isinstance(item, Failure) else _rel(item, name), item)
                got += 1
                yield item, chunks
        if got != len(listed):
            raise RuntimeError(f"Ray returned {got} of {len(listed)} listed files")

    def close(self) -> None:
        self.owner.ready.clear()
        self.owner.ready_tokens.clear()


def _rel(doc: Document, source: str) -> str:
    return doc.id[len(source) + 1:] if doc.id.startswith(f"{source}/") else doc.id
