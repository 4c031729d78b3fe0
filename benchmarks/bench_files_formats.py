"""Per-format results of the ``files`` source: files indexed, failed (with reasons) and seconds.

    python benchmarks/bench_files_formats.py [FOLDER] [--in-process]

FOLDER defaults to ../shared/data/documents. Reads every file the way an ingest run does
(one worker process with the default time limit, unless ``--in-process``) without embedding,
and prints a Markdown table; the time of each file is the wait for the source to yield it.
"""

from __future__ import annotations

import collections
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from index.models import Failure  # noqa: E402
from index.settings import Settings, SourceSettings  # noqa: E402
from ingest.sources import make_source  # noqa: E402


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    folder = args[0] if args else str(REPO.parent / "shared/data/documents")
    cfg = SourceSettings(name="documents", kind="files", path=folder,
                         options={"isolate": "--in-process" not in sys.argv})
    stats: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0, 0.0])
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        source = make_source(cfg, Settings(home=Path(tmp), sources=[cfg]))
        t0 = last = time.monotonic()
        for item in source.iter_documents():
            now = time.monotonic()
            rel = item.item if isinstance(item, Failure) else item.id.split("/", 1)[1]
            row = stats[Path(rel).suffix.lower().lstrip(".") or "(none)"]
            row[1 if isinstance(item, Failure) else 0] += 1
            row[2] += now - last
            last = now
            if isinstance(item, Failure):
                failures.append((rel, item.reason))
    total = time.monotonic() - t0
    print("| format | files | indexed | failed | seconds | s/file |\n|---|---|---|---|---|---|")
    for fmt, (ok, bad, secs) in sorted(stats.items()):
        print(f"| {fmt} | {ok + bad:.0f} | {ok:.0f} | {bad:.0f} | {secs:.1f} | {secs / (ok + bad):.2f} |")
    n_ok = sum(r[0] for r in stats.values())
    print(f"\n{n_ok + len(failures):.0f} files, {n_ok:.0f} indexed, {len(failures)} failed, {total:.1f} s")
    for rel, reason in failures:
        print(f"- {rel}: {reason}")


if __name__ == "__main__":
    main()
