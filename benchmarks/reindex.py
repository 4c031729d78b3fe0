"""Re-indexing cost on the handbook git bundle plus the cardano Stack Exchange dump.

In one run, in a scratch home: (a) a full build with an empty embedding cache, (b) unchanged
re-runs, (c) runs after 10 pages of a scratch clone of the handbook were edited and committed.
Each run is ``run_ingest`` as ``whoknows reindex`` calls it, timed from the call to its return
(the encoder is loaded once before, its load time reported apart); the unchanged re-run is
also timed as a whole ``whoknows reindex`` process (interpreter, imports, encoder, run), as
cron or a systemd timer would start it. The embedding cache is the home's own
(``<home>/embeddings.sqlite``), so the fresh home of the full build starts it empty (cold).
Targets from issue 4: unchanged ≤ 2% of the full build, 10 edited pages ≤ 5%.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, Report, load_average, median

from index.embedding import load_embedder
from index.runs import RunLog, RunRecord, SourceRun
from index.settings import EmbeddingSettings, Settings, SourceSettings
from ingest.pipeline import IngestOptions, run_ingest

PART = "reindex"
EDITED_PAGES = 10
BENCH_AUTHOR = ("Bench Editor", "bench.editor@example.invalid")


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": BENCH_AUTHOR[0], "GIT_AUTHOR_EMAIL": BENCH_AUTHOR[1],
           "GIT_COMMITTER_NAME": BENCH_AUTHOR[0], "GIT_COMMITTER_EMAIL": BENCH_AUTHOR[1]}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout


def scratch_clone(bundle: Path, dest: Path) -> Path:
    """A fresh working copy of the handbook that the benchmark may commit to."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # main explicitly: the bundle's HEAD names another branch (at the same commit today)
    subprocess.run(["git", "clone", "-q", "-b", "main", str(bundle), str(dest)], check=True)
    return dest


def edit_pages(repo: Path, round_no: int, n: int = EDITED_PAGES) -> list[str]:
    """Append a paragraph to n pages spread over the handbook and commit them as one commit."""
    pages = sorted(p for p in git(repo, "ls-files", "content").splitlines() if p.endswith(".md"))
    step = max(1, len(pages) // n)
    chosen = [pages[(i * step + round_no) % len(pages)] for i in range(n)]
    for rel in chosen:
        with open(repo / rel, "a", encoding="utf-8") as f:
            f.write(f"\n\n## Benchmark note {round_no}\n\nEdited in round {round_no} of the re-index "
                    f"benchmark: {rel} now mentions quarterly review {round_no}.\n")
    git(repo, "commit", "-q", "-am", f"benchmark edit round {round_no}")
    return chosen


def limit_cardano(dump: Path, dest: Path, questions: int) -> Path:
    """A copy of the dump whose Posts.xml keeps the first ``questions`` questions and their answers."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for f in dump.glob("*.xml"):
        if f.name != "Posts.xml":
            shutil.copy(f, dest / f.name)
    kept: set[str] = set()
    lines = []
    for line in (dump / "Posts.xml").read_text(encoding="utf-8").splitlines():
        if 'PostTypeId="1"' in line and len(kept) < questions:
            kept.add(line.split('Id="', 1)[1].split('"', 1)[0])
        elif "<row" in line and not any(f'ParentId="{q}"' in line for q in kept):
            continue
        lines.append(line)
    (dest / "Posts.xml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def bench_settings(home: Path, handbook: Path, cardano: Path, backend: str, models: Path) -> Settings:
    return Settings(home=home, embedding=EmbeddingSettings(backend=backend, cache_dir=str(models)), sources=[
        SourceSettings(name="handbook", kind="git", path=str(handbook), options={"subdir": "content"},
                       url="https://handbook.sourcegraph.com/{path}"),
        SourceSettings(name="cardano", kind="stackexchange", path=str(cardano),
                       options={"site": "cardano.stackexchange.com"}),
    ])


def write_config(settings: Settings, path: Path) -> Path:
    """The benchmark's settings as a whoknows.toml, for the ``whoknows reindex`` process."""
    q = json.dumps  # a JSON string is a valid TOML basic string
    lines = [f"home = {q(str(settings.home))}", "[embedding]", f"backend = {q(settings.embedding.backend)}",
             f"cache_dir = {q(settings.embedding.cache_dir)}"]
    for c in settings.sources:
        opts = ", ".join(f"{k} = {q(v)}" for k, v in c.options.items())
        lines += ["[[sources]]", f"name = {q(c.name)}", f"kind = {q(c.kind)}", f"path = {q(c.path)}",
                  f"url = {q(c.url)}", f"options = {{ {opts} }}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def timed_cli(config: Path) -> tuple[float, RunRecord]:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "web.cli", "--config", str(config), "reindex", "--json"],
                          cwd=REPO, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - t0
    data = json.loads(done.stdout)
    rec = RunRecord(id=data["id"], status=data["status"], chunks_embedded=data["chunks_embedded"],
                    seconds=data["seconds"], sources={n: SourceRun(**s) for n, s in data["sources"].items()})
    return seconds, rec


def timed_run(settings: Settings, embedder: object) -> tuple[float, RunRecord, list[float]]:
    t0 = time.perf_counter()
    rec = run_ingest(settings, embedder, IngestOptions())  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    if rec.status != "ok":
        raise RuntimeError(f"run {rec.id} {rec.status}: {rec.error}")
    return seconds, rec, load_average()


def describe(rec: RunRecord) -> str:
    parts = []
    for name, s in rec.sources.items():
        parts.append(f"{name}: +{s.added} ~{s.updated} -{s.deleted} ={s.unchanged} !{s.failed} "
                     f"emb {s.chunks_embedded} cached {s.chunks_cached} {s.seconds:.1f}s")
    return "; ".join(parts)


def bench_reindex(report: Report, work: Path, shared: Path, backend: str, reps: int,
                  cardano_questions: int = 0, reuse: bool = False) -> None:
    """Full build, unchanged re-runs and 10-page-edit runs; figures into ``report``.

    ``reuse``: skip the full build and re-run on the home (and clone) an earlier invocation
    left, comparing with that invocation's full build (its first run record).
    """
    root = work / "reindex"
    handbook, home = root / "handbook", root / "home"
    cardano = shared / "stackexchange/cardano"
    if cardano_questions:
        cardano = root / "cardano" if reuse else limit_cardano(cardano, root / "cardano", cardano_questions)
    if not reuse:
        scratch_clone(shared / "handbook/handbook.bundle", handbook)
        shutil.rmtree(home, ignore_errors=True)
    settings = bench_settings(home, handbook, cardano, backend, work / "models")
    t0 = time.perf_counter()
    embedder = load_embedder(settings.embedding)
    report.add(PART, "encoder load", time.perf_counter() - t0, "s", f"{backend}; not in the run times")
    what = "whole dump" if not cardano_questions else f"first {cardano_questions} questions only"
    report.add(PART, "corpus", f"handbook (whole, git) + cardano ({what})")

    if reuse:  # the full build of an earlier invocation: the home's first run record
        log = RunLog(home / "state.sqlite")
        rec = next(r for r in log.last(10_000) if r.id == 1)
        log.close()
        full = rec.seconds
        report.add(PART, "full build", full, "s", f"run 1 of this home, from an EARLIER invocation ({rec.started_at})")
    else:
        full, rec, load = timed_run(settings, embedder)
        report.add(PART, "full build", full, "s", f"fresh home, cold embedding cache, {backend}; "
                   f"load {load[0]}")
    report.add(PART, "full build record", describe(rec))
    report.add(PART, "full build chunks embedded", rec.chunks_embedded)

    unchanged: list[float] = []
    for _ in range(reps):
        s, rec, load = timed_run(settings, embedder)
        unchanged.append(s)
        report.add(PART, "unchanged re-run", s, "s", f"load {load[0]}; {describe(rec)}")
    config = write_config(settings, root / "whoknows.toml")
    process: list[float] = []
    for _ in range(reps):
        try:
            s, rec = timed_cli(config)
        except (subprocess.CalledProcessError, ValueError, KeyError) as e:  # report it, keep the figures
            report.add(PART, "unchanged re-run, whole process", "failed", "", f"{type(e).__name__}: {e}")
            break
        process.append(s)
        report.add(PART, "unchanged re-run, whole process", s, "s",
                   f"`whoknows reindex`; run {rec.seconds:.1f} s of it; {describe(rec)}")
    edited: list[float] = []
    first_round = int(git(handbook, "rev-list", "--count", "--author", BENCH_AUTHOR[1], "HEAD") or 0) + 1
    for r in range(first_round, first_round + reps):
        edit_pages(handbook, r)
        s, rec, load = timed_run(settings, embedder)
        edited.append(s)
        report.add(PART, "10-edit run", s, "s", f"load {load[0]}; {describe(rec)}")
    report.add(PART, "unchanged re-run (median)", median(unchanged), "s", f"of {reps}")
    report.add(PART, "10-edit run (median)", median(edited), "s", f"of {reps}")
    report.add(PART, "unchanged re-run, whole process (median)", median(process), "s", f"of {reps}")
    report.add(PART, "unchanged / full", median(unchanged) / full * 100, "%", "target <= 2%")
    report.add(PART, "unchanged process / full", median(process) / full * 100, "%", "the cron/systemd case")
    report.add(PART, "10-edit / full", median(edited) / full * 100, "%", "target <= 5%")
