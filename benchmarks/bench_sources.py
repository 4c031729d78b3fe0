"""Ingest throughput per source kind on the shared samples: documents/s and chunks/s.

    python benchmarks/bench_sources.py [--real] [--kind git|mediawiki|files] [--shared ../shared/data]

Each kind is ingested on its own into a fresh temporary home. Without ``--real`` a
deterministic fake embedder stands in for the model, so the figures are what the source,
the parsers and the chunker cost; with ``--real`` the bundled model embeds every chunk.
Results are printed and saved to benchmarks/results/sources[-real].json.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from index.settings import Settings, SourceSettings  # noqa: E402
from ingest.pipeline import run_ingest  # noqa: E402
from search.status import index_status  # noqa: E402


def kinds(shared: Path) -> dict[str, SourceSettings]:
    return {
        "git": SourceSettings(name="handbook", kind="git", path=str(shared / "handbook/handbook.bundle"),
                              url="https://handbook.sourcegraph.com/{path}", options={"subdir": "content"}),
        "mediawiki": SourceSettings(name="freecad", kind="mediawiki", path=str(shared / "mediawiki-freecad")),
        "files": SourceSettings(name="documents", kind="files", path=str(shared / "documents")),
    }


def embedder(real: bool):  # type: ignore[no-untyped-def]
    if real:
        from index.embedding import load_embedder

        return load_embedder(Settings().embedding)
    from tests.conftest import FakeEmbedder

    return FakeEmbedder()


def bench(cfg: SourceSettings, real: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), sources=[cfg])
        emb = embedder(real)
        t0 = time.monotonic()
        rec = run_ingest(settings, emb)
        seconds = time.monotonic() - t0
        run = rec.sources[cfg.name]
        status = index_status(settings)
        chunks = status.counts["chunks"]
        reasons = collections.Counter(f["reason"] for f in status.failures)
    return {"source": cfg.name, "kind": cfg.kind, "documents": run.added, "failed": run.failed,
            "chunks": chunks, "seconds": round(seconds, 1),
            "documents_per_s": round(run.added / seconds, 1), "chunks_per_s": round(chunks / seconds, 1),
            "embedder": "bundled model" if real else "fake", "error": run.error,
            "failure_reasons": dict(reasons.most_common())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", action="store_true", help="embed with the bundled model")
    ap.add_argument("--kind", action="append", help="only these kinds (repeatable)")
    ap.add_argument("--shared", default=str(REPO.parent / "shared/data"))
    args = ap.parse_args()
    results = []
    for kind, cfg in kinds(Path(args.shared)).items():
        if args.kind and kind not in args.kind:
            continue
        r = bench(cfg, args.real)
        results.append(r)
        print(json.dumps(r), flush=True)
    out = REPO / "benchmarks/results" / f"sources{'-real' if args.real else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
