"""whoknows benchmarks: ``make bench`` or ``.venv/bin/python benchmarks/run.py [--quick] [--only ...]``.

Parts (all by default, in this order):
  encoder  (a) raw encoder throughput per backend and (b) end-to-end ingest on the same chunks
  quality  SciFact train dense nDCG@10 per backend (needs --scifact; skipped when missing)
  http     (c) HTTP latency p50/p99 (1 and 8 clients) on the sample and synthetic 100k / 1M
           indexes, (d) memory per chunk, recall@10 vs exact, (f) search median of 100 queries,
           hybrid / dense latency (issue 5: within 2x; benchmarks/search_latency.py)
  txtai    (e) txtai on the same chunks and model: build time and query latency
  reindex  handbook bundle + cardano dump: full build, unchanged re-run, 10 edited pages
           (needs --shared; skipped when missing)
  load     2,000 mixed /api/search and /api/ask requests, 20 at a time, during a re-index
           (benchmarks/load_during_reindex.py): errors, p50/p99, the generation switch
  browser  keystroke to rendered results on the search page in headless Chromium (median, p90)
  ray      ingest chunks/s local vs Ray with 1 and 2 workers, the driver's time outside encoding
           (benchmarks/ray_ingest.py; needs the ray extra)

Not in the default run (ask with --only):
  ivfpq    one FAISS IVF-PQ index over 10M synthetic 384-d vectors: train and add time, bytes per
           chunk, peak memory, recall@10 vs exact, 1-thread query p50/p99 per nprobe
           (benchmarks/ivfpq_10m.py; 20-40 min, --ivfpq-n, --ivfpq-reuse; --quick: 200k)

Figures are printed as a table and saved as JSON in benchmarks/results/ (latest.json too).
Timings on a shared machine are noisy: compare figures from one run, as ratios.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, Report, load_average, machine_info  # noqa: E402
from sample import Sample  # noqa: E402

PARTS = ("encoder", "quality", "http", "txtai", "reindex", "load", "browser", "ray")
OPTIONAL_PARTS = ("ivfpq",)  # too long for the default run
BACKENDS = ("torch", "onnx", "onnx-int8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(PARTS),
                   help=f"comma-separated parts of {', '.join(PARTS + OPTIONAL_PARTS)}")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run in a few minutes: 300 chunks, 1 repetition, 100k synthetic only, "
                        "no SciFact")
    p.add_argument("--backends", default=",".join(BACKENDS), help="encoder backends to compare")
    p.add_argument("--reps", type=int, default=2, help="repetitions of the encoder/ingest passes (median)")
    p.add_argument("--sizes", default="100000,1000000", help="synthetic index sizes in chunks ('' = none)")
    p.add_argument("--http-backends", default="torch,onnx-int8", help="backends served for the sample corpus")
    p.add_argument("--synthetic-backend", default="onnx-int8", help="backend served for the synthetic indexes")
    p.add_argument("--quality-backends", default="torch,onnx-int8", help="backends scored on SciFact")
    p.add_argument("--scifact", default=os.environ.get("WHOKNOWS_SCIFACT", "/work/shared/data/scifact"),
                   help="BEIR SciFact folder (corpus.jsonl, queries.jsonl, qrels/train.tsv)")
    p.add_argument("--shared", default=os.environ.get("WHOKNOWS_SHARED", "/work/shared/data"),
                   help="data folder with handbook/handbook.bundle and stackexchange/cardano (reindex)")
    p.add_argument("--reindex-backend", default="onnx-int8", help="encoder backend of the reindex part")
    p.add_argument("--reindex-reps", type=int, default=3, help="unchanged and 10-edit runs (median)")
    p.add_argument("--cardano-questions", type=int, default=0,
                   help="reindex: only the first N cardano questions (0 = the whole dump)")
    p.add_argument("--reindex-reuse", action="store_true",
                   help="reindex: no full build; re-run on the home the last reindex run left")
    p.add_argument("--ray-backend", default="torch", help="encoder backend of the ray part")
    p.add_argument("--ivfpq-n", type=int, default=10_000_000, help="ivfpq: vectors in the index")
    p.add_argument("--ivfpq-reuse", action="store_true",
                   help="ivfpq: load the index the last run saved in /work/bench/ivfpq-10m")
    p.add_argument("--sources", default="", help="only these sources of whoknows.toml (default: all of data/)")
    p.add_argument("--work", default=str(RESULTS / "work"), help="scratch folder (homes, exports, synthetic)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    parts = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(parts) - set(PARTS + OPTIONAL_PARTS)
    if unknown:
        print(f"unknown part(s): {', '.join(sorted(unknown))}; choose from {', '.join(PARTS + OPTIONAL_PARTS)}",
              file=sys.stderr)
        return 2
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    backends, reps = split(args.backends), args.reps
    sizes = [int(x) for x in split(args.sizes)]
    single, concurrent = 200, 400
    if args.quick:
        reps, sizes, single, concurrent = 1, [s for s in sizes if s <= 100_000], 50, 80
        args.http_backends = args.synthetic_backend
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    report = Report(command=" ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
                    machine=machine_info())
    print(f"whoknows benchmarks: parts {', '.join(parts)}; load average {load_average()} on "
          f"{os.cpu_count()} cpus (shared machine: compare within one run)", flush=True)
    sample = Sample(work=work, cache_dir=work / "models", only=split(args.sources))
    report.machine["sources"] = [c.name for c in sample.settings(work).sources]
    t0 = time.perf_counter()
    if "encoder" in parts:
        from encoder import bench_encoder

        bench_encoder(report, sample, backends, reps, limit=300 if args.quick else None)
    if "quality" in parts and not args.quick:
        from quality import bench_quality

        bench_quality(report, sample, split(args.quality_backends), Path(args.scifact))
    if "http" in parts:
        from serving import bench_serving

        bench_serving(report, sample, split(args.http_backends), args.synthetic_backend, sizes, single,
                      concurrent)
    if "txtai" in parts:
        from txtai_compare import bench_txtai

        bench_txtai(report, sample, ["torch", "onnx-int8"])
    if "reindex" in parts:
        if (Path(args.shared) / "handbook/handbook.bundle").exists():
            from reindex import bench_reindex

            bench_reindex(report, work, Path(args.shared), args.reindex_backend,
                          1 if args.quick else args.reindex_reps, args.cardano_questions,
                          args.reindex_reuse)
        else:
            print(f"reindex: skipped, no handbook bundle under {args.shared}", file=sys.stderr)
    if "load" in parts:
        from load_during_reindex import bench_load

        bench_load(report, work / "load", 200 if args.quick else 2000)
    if "browser" in parts:
        from browser_typing import bench_browser

        bench_browser(report, sample, n=10 if args.quick else 30)
    if "ray" in parts:
        from ray_ingest import bench_ray

        bench_ray(report, sample, args.ray_backend)
    if "ivfpq" in parts:
        from ivfpq_10m import bench_ivfpq

        bench_ivfpq(report, args.ivfpq_n, args.quick, args.ivfpq_reuse)
    report.seconds = round(time.perf_counter() - t0, 1)
    report.machine["load_average_at_end"] = load_average()
    print("\n" + report.table())
    path = report.save()
    print(f"\n{len(report.figures)} figures in {report.seconds:.0f} s; saved to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
