"""(a) raw encoder throughput and (b) end-to-end ingest throughput on the same chunks.

Raw: ``embedder.encode(all unique chunk texts of the sample)`` in one call (the encoder's own
length-sorted batching). End to end: ``run_ingest`` of data/ into a fresh home with a cold
embedding cache, the encoder already loaded, timed from the call to the published generation.
Backends are interleaved within each repetition so they see the same machine load.
"""

from __future__ import annotations

import time

from common import Report, median
from sample import Sample

from ingest.pipeline import IngestOptions, run_ingest


def bench_encoder(report: Report, sample: Sample, backends: list[str], reps: int,
                  limit: int | None = None) -> None:
    texts = sample.texts()[:limit] if limit else sample.texts()
    report.add("encoder", "sample chunks (unique texts)", len(texts), "chunks",
               f"mean {sum(map(len, texts)) / len(texts):.0f} chars")
    for b in backends:
        emb = sample.embedder(b)
        report.add("encoder", f"{b}: load (incl. ONNX export at first use)", sample.load_seconds[b], "s")
        emb.encode(texts[:64])  # warm-up
    raw: dict[str, list[float]] = {b: [] for b in backends}
    e2e: dict[str, list[float]] = {b: [] for b in backends}
    for rep in range(reps):
        for b in backends:
            emb = sample.embedder(b)
            t0 = time.perf_counter()
            vecs = emb.encode(texts)
            raw[b].append(len(texts) / (time.perf_counter() - t0))
            sample.vectors[b] = vecs
            if limit:
                continue  # --quick: the ingest pass needs the whole corpus
            home = sample.fresh_home(f"sample-{b}")
            t0 = time.perf_counter()
            rec = run_ingest(sample.settings(home, b), emb, IngestOptions())
            seconds = time.perf_counter() - t0
            assert rec.status == "ok", rec.error
            e2e[b].append(rec.chunks_embedded / seconds)
            sample.ingest_seconds.setdefault(b, []).append(seconds)
            sample.homes[b] = home
            print(f"    rep {rep + 1} {b}: raw {raw[b][-1]:.1f}/s, ingest {e2e[b][-1]:.1f}/s "
                  f"({rec.chunks_embedded} chunks)", flush=True)
    for b in backends:
        report.add("encoder", f"{b}: raw encoder throughput", median(raw[b]), "chunks/s",
                   f"median of {reps}: {[round(x, 1) for x in raw[b]]}")
    for b in backends:
        if e2e[b]:
            report.add("ingest", f"{b}: end-to-end ingest throughput", median(e2e[b]), "chunks/s",
                       f"median of {reps}: {[round(x, 1) for x in e2e[b]]}")
            ratios = [e / r for e, r in zip(e2e[b], raw[b], strict=True)]
            report.add("ingest", f"{b}: ingest / raw encoder", median(ratios), "x",
                       f"median of per-repetition ratios {[round(x, 3) for x in ratios]}; target >= 0.9")
    if "torch" in backends:
        for b in backends:
            if b != "torch":
                report.add("encoder", f"{b} / torch raw throughput", median(raw[b]) / median(raw["torch"]),
                           "x", "target >= 2 for onnx-int8" if b == "onnx-int8" else "")
