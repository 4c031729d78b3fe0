"""Ingest through the local path and through Ray with 1 and 2 encoder workers, on the same corpus
(the sample's sources; ``--sources`` narrows them), each from an empty home and an empty embedding
cache, in one run: chunks/s, and the driver's time writing (cache look-ups, store writes and the
end of the run: the part that stays on one machine). Folder sources are read, parsed and chunked
on Ray as well. ``make bench ARGS="--only ray"``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from common import Report
from sample import Sample

from index.settings import RaySettings
from index.token_vectors import Tokens, token_encoder
from ingest.pipeline import Ingest, IngestOptions, run_ingest
from ingest.ray_executor import RayEmbedder


@dataclass
class Timed:
    """An encoder that adds up the seconds the driver waits for it."""

    inner: Any
    seconds: float = 0.0

    def __getattr__(self, name: str) -> Any:  # model_id, dim, executor, workers
        return getattr(self.inner, name)

    @property
    def token_vectors(self) -> bool:
        return token_encoder(self.inner) is not None

    def encode(self, texts: list[str]) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return self.inner.encode(texts)
        finally:
            self.seconds += time.perf_counter() - t0

    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
        t0 = time.perf_counter()
        try:
            enc = token_encoder(self.inner)
            assert enc is not None
            return enc.encode_with_tokens(texts)
        finally:
            self.seconds += time.perf_counter() - t0


class Instant:
    """An encoder that costs nothing (vectors from a hash of the text, one token vector a word):
    a run with it measures the driver alone (listing, parsing, chunking, cache, writes)."""

    model_id: str = "instant-384"
    dim: int = 384

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encode_with_tokens(texts)[0]

    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
        vecs, toks = [], []
        for t in texts:
            rng = np.random.default_rng(abs(hash(t)) % (1 << 32))
            v = rng.standard_normal(self.dim).astype("float32")
            vecs.append(v / np.linalg.norm(v))
            words = [(m.start(), m.end()) for m in re.finditer(r"\S+", t)] or [(0, 0)]
            w = rng.standard_normal((len(words), self.dim)).astype("float32")
            toks.append(Tokens(w / np.linalg.norm(w, axis=1, keepdims=True), words))
        return np.vstack(vecs), toks


def _run(report: Report, sample: Sample, name: str, embedder: Any, backend: str) -> float:
    settings = sample.settings(sample.fresh_home(f"ray-{name}"), backend)
    cache = sample.work / f"ray-{name}-embeddings.sqlite"
    cache.unlink(missing_ok=True)
    timed = Timed(embedder)
    if isinstance(embedder, RayEmbedder):
        embedder.full = settings  # folder sources read, parsed and chunked on Ray too
    writing = [0.0]
    flush = Ingest._flush

    def timed_flush(self: Ingest, *args: Any) -> None:  # the driver's writes, encoding left out
        t0, enc0 = time.perf_counter(), timed.seconds
        try:
            flush(self, *args)
        finally:
            writing[0] += time.perf_counter() - t0 - (timed.seconds - enc0)

    Ingest._flush = timed_flush  # type: ignore[method-assign]
    try:
        rec = run_ingest(settings, timed, IngestOptions(cache_path=cache, embed_batch=_batch(embedder)))
    finally:
        Ingest._flush = flush  # type: ignore[method-assign]
    cache.unlink(missing_ok=True)
    rate = rec.chunks_embedded / rec.seconds
    texts = rec.chunks_embedded + rec.sentences_embedded
    report.add("ray", f"{name}: chunks/s", rate, "chunks/s",
               f"{rec.chunks_embedded} chunks + {rec.sentences_embedded} sentences ({texts / rec.seconds:.0f} "
               f"texts/s) in {rec.seconds:.1f} s, executor {rec.executor} x{rec.workers}")
    after = rec.seconds - sum(s.seconds for s in rec.sources.values())  # impacts, activity, vector index
    written = writing[0] + after
    report.add("ray", f"{name}: driver writing", written, "s",
               f"cache look-ups and store writes {writing[0]:.1f} s + end of run {after:.1f} s; "
               f"{rec.chunks_embedded / max(written, 1e-9):.0f} chunks/s is the driver's write rate, "
               f"{rec.workers_restarted} workers restarted")
    return rate


def _batch(embedder: Any) -> int:
    ray_settings = getattr(embedder, "settings", None)
    if ray_settings is None:
        return IngestOptions().embed_batch
    return max(IngestOptions().embed_batch, 4 * ray_settings.num_workers * ray_settings.batch_size)


def bench_ray(report: Report, sample: Sample, backend: str = "torch") -> None:
    from ingest.ray_executor import encoder_factory, require_ray

    ray = require_ray()
    _run(report, sample, "driver alone (instant encoder)", Instant(), backend)
    local = sample.embedder(backend)
    base = _run(report, sample, "local", local, backend)
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    report.add("ray", "local cluster start", time.perf_counter() - t0, "s", "ray.init(num_cpus=2), once")
    try:
        for workers in (1, 2):
            rs = RaySettings(num_workers=workers, batch_size=256, cpus_per_worker=1.0)
            settings = replace(sample.settings(sample.work, backend), ray=rs)
            rate = _run(report, sample, f"ray {workers} worker(s)",
                        RayEmbedder(local, encoder_factory(settings), rs), backend)
            report.add("ray", f"ray {workers} worker(s) / local", rate / base, "x", "chunks/s ratio, same run")
    finally:
        ray.shutdown()
