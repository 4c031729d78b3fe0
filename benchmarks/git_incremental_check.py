"""Check that the git source's incremental authorship equals a full history pass.

    python benchmarks/git_incremental_check.py [--bundle ../shared/data/handbook/handbook.bundle] [--back 1500]

Clones the bundle into a temporary folder, reads every page's history at HEAD~BACK (a full
pass), then at HEAD both ways — a full pass, and ``histories_since`` from the old histories
plus the commits since — and compares each page's contributions, created and updated dates.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingest.sources.git_history import histories_since, read_histories, run_git  # noqa: E402


def pages(repo: Path, subdir: str) -> set[str]:
    listed = run_git(repo, "ls-files", subdir).decode().splitlines()
    return {p for p in listed if p.endswith((".md", ".markdown"))}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default=str(REPO.parent / "shared/data/handbook/handbook.bundle"))
    ap.add_argument("--back", type=int, default=1500, help="commits between the two runs")
    ap.add_argument("--subdir", default="content")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", "-b", "main", args.bundle, str(repo)], check=True)
        old_rev = run_git(repo, "rev-parse", f"HEAD~{args.back}").decode().strip()
        run_git(repo, "checkout", "-q", old_rev)
        old = read_histories(repo, pages(repo, args.subdir), args.subdir)
        run_git(repo, "checkout", "-q", "main")
        now = pages(repo, args.subdir)
        t0 = time.perf_counter()
        full = read_histories(repo, now, args.subdir)
        t_full = time.perf_counter() - t0
        t0 = time.perf_counter()
        inc = histories_since(repo, old_rev, old, now, args.subdir)
        t_inc = time.perf_counter() - t0
        if inc is None:
            print("histories_since fell back to a full pass")
            return 1
        hist, touched = inc
        differ = sorted(p for p in now if (full[p].contributions("s"), full[p].created, full[p].updated)
                        != (hist[p].contributions("s"), hist[p].created, hist[p].updated))
        names = run_git(repo, "diff", "--name-status", "-M", old_rev, "HEAD", "--", args.subdir).decode()
        renames = sum(1 for line in names.splitlines() if line.startswith("R"))
        print(f"{len(now)} pages, {args.back} commits since ({renames} renames), {len(touched)} pages touched; "
              f"pages whose authorship differs: {len(differ)} {differ[:5]}; "
              f"full pass {t_full:.1f} s, incremental {t_inc:.1f} s")
        return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
