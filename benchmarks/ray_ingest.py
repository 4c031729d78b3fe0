"""Ingest through the local path and through Ray with 1 and 2 encoder workers, on the same corpus
(the sample's sources; ``--sources`` narrows them), each from an empty home and an empty embedding
cache, in one run: chunks/s, and the driver's time outside encoding (listing, parsing, chunking
and writing: the part that stays on one machine). ``make bench ARGS="--only ray"``.
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
from ingest.pipeline import IngestOptions, run_ingest


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
    rec = run_ingest(settings, timed, IngestOptions(cache_path=cache, embed_batch=_batch(embedder)))
    cache.unlink(missing_ok=True)
    rate = rec.chunks_embedded / rec.seconds
    texts = rec.chunks_embedded + rec.sentences_embedded
    report.add("ray", f"{name}: chunks/s", rate, "chunks/s",
               f"{rec.chunks_embedded} chunks + {rec.sentences_embedded} sentences ({texts / rec.seconds:.0f} "
               f"texts/s) in {rec.seconds:.1f} s, executor {rec.executor} x{rec.workers}")
    outside = rec.seconds - timed.seconds
    report.add("ray", f"{name}: driver outside encoding", outside, "s",
               f"{outside / rec.seconds:.0%} of the run; {rec.chunks_embedded / max(outside, 1e-9):.0f} chunks/s "
               "is the most the driver alone could take")
    return rate


def _batch(embedder: Any) -> int:
    ray_settings = getattr(embedder, "settings", None)
    if ray_settings is None:
        return IngestOptions().embed_batch
    return max(IngestOptions().embed_batch, 4 * ray_settings.num_workers * ray_settings.batch_size)


def bench_ray(report: Report, sample: Sample, backend: str = "torch") -> None:
    from ingest.ray_executor import RayEmbedder, encoder_factory, require_ray

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
