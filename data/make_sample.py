"""Rebuild the sample corpus in data/ from ../shared/data (not needed to run whoknows).

    python data/make_sample.py ../shared/data

handbook/: a slice of the Sourcegraph handbook (Apache-2.0). Each page gets front matter with
its authors (by lines added in git history, strongest first) and created/updated dates, so
the `markdown` source shows real authorship without shipping the repository.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HANDBOOK_DIRS = [
    "benefits-pay-perks", "company-info-and-process", "departments/finance",
    "departments/tech-ops", "departments/legal", "team", "handbook",
]
HERE = Path(__file__).parent


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def page_authors(repo: Path, rel: str) -> tuple[list[str], str, str]:
    """Authors with their share of added lines (>= 5% or top one), first and last dates."""
    out = git(repo, "log", "--follow", "--numstat", "--format=@%an <%ae>|%aI", "--", rel)
    added: collections.Counter[str] = collections.Counter()
    dates: list[str] = []
    author = ""
    for line in out.splitlines():
        if line.startswith("@"):
            author, when = line[1:].rsplit("|", 1)
            dates.append(when)
        elif line.strip() and author:
            a = line.split("\t")[0]
            added[author] += int(a) if a.isdigit() else 0
    total = sum(added.values()) or 1
    ranked = [a for a, n in added.most_common() if n / total >= 0.05][:6]
    return ranked or [a for a, _ in added.most_common(1)], min(dates), max(dates)


def build_handbook(shared: Path) -> None:
    dest = HERE / "handbook"
    shutil.rmtree(dest, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "handbook"
        subprocess.run(["git", "clone", "-q", str(shared / "handbook/handbook.bundle"), str(repo)],
                       check=True)
        for d in HANDBOOK_DIRS:
            for src in sorted((repo / "content" / d).rglob("*.md")):
                rel = src.relative_to(repo / "content").as_posix()
                authors, created, updated = page_authors(repo, f"content/{rel}")
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                names = "\n".join(f'  - "{a}"' for a in authors)
                front = f"---\nauthors:\n{names}\ndate: {created}\nupdated: {updated}\n---\n"
                target.write_text(front + src.read_text(encoding="utf-8"), encoding="utf-8")
        shutil.copy(repo / "LICENSE", dest / "LICENSE")


if __name__ == "__main__":
    build_handbook(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
