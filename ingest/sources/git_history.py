"""Who wrote each page of a git repository: one pass over ``git log --numstat -M``.

``git log --follow`` works on one file at a time (883 pages = 883 history walks). Instead the
whole history is read once, newest first, and renames are followed by hand: a map from each
path *as it was at that point in history* to the page's path at HEAD. A rename ``old → new``
seen while walking back means the commits before it wrote ``new``'s text under ``old``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

_HEADER = "\x1e"  # starts each commit header in the log output
_FORMAT = f"--format={_HEADER}%H%x1f%aN%x1f%aE%x1f%aI"  # %aN/%aE honour .mailmap
_NUMSTAT = re.compile(r"^(\d+|-)\t(\d+|-)\t(.*)$", re.S)

# weight = LINE_SHARE_WEIGHT * share of lines added + (1 - LINE_SHARE_WEIGHT) * share of commits
LINE_SHARE_WEIGHT = 0.9


@dataclass
class Change:
    added: int
    deleted: int
    path: str
    old_path: str = ""  # set for renames


@dataclass
class Commit:
    sha: str
    name: str
    email: str
    at: datetime
    changes: list[Change] = field(default_factory=list)


@dataclass
class AuthorStats:
    name: str
    email: str
    lines_added: int = 0
    commits: int = 0
    first: datetime | None = None
    last: datetime | None = None


@dataclass
class PageHistory:
    authors: dict[str, AuthorStats] = field(default_factory=dict)  # by e-mail (or name)
    created: datetime | None = None
    updated: datetime | None = None

    def add(self, commit: Commit, added: int) -> None:
        key = (commit.email or commit.name).lower()
        a = self.authors.get(key)
        if a is None:  # newest first: the first name seen is the latest one used
            a = self.authors[key] = AuthorStats(commit.name, commit.email.lower())
        a.lines_added += added
        a.commits += 1
        a.first = commit.at if a.first is None or commit.at < a.first else a.first
        a.last = commit.at if a.last is None or commit.at > a.last else a.last
        self.created = commit.at if self.created is None or commit.at < self.created else self.created
        self.updated = commit.at if self.updated is None or commit.at > self.updated else self.updated

    def weights(self) -> dict[str, float]:
        """Each author's share of the page: mostly lines added, a little the number of commits.

        Lines added say how much of the text a person wrote; a one-line typo fix in a
        300-line page gets ~0.3% of the lines. Commits count a little (10%) so that someone who
        kept a page up to date over many small edits is not ignored. With one writer and one
        typo fixer (one commit each) that gives about 0.95 against 0.05.
        """
        total_lines = sum(a.lines_added for a in self.authors.values())
        total_commits = sum(a.commits for a in self.authors.values()) or 1
        out = {}
        for key, a in self.authors.items():
            line_share = a.lines_added / total_lines if total_lines else a.commits / total_commits
            out[key] = LINE_SHARE_WEIGHT * line_share + (1 - LINE_SHARE_WEIGHT) * a.commits / total_commits
        return out


def run_git(repo: Path, *args: str, timeout: float = 600) -> bytes:
    """Output of a git command; a clear error when git is missing or fails."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=timeout,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    except FileNotFoundError:
        raise RuntimeError("git is not installed (apt install git)") from None
    if done.returncode != 0:
        msg = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"git {args[0]} failed: {msg[-1] if msg else done.returncode}")
    return done.stdout


def parse_log(raw: bytes) -> Iterator[Commit]:
    """Commits from ``git log -z --numstat -M`` with ``_FORMAT``, in the log's order."""
    tokens = raw.decode("utf-8", "surrogateescape").split("\0")
    commit: Commit | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i].lstrip("\n")
        i += 1
        if tok.startswith(_HEADER):
            if commit is not None:
                yield commit
            sha, name, email, when = tok[1:].split("\x1f")
            commit = Commit(sha, name, email, datetime.fromisoformat(when))
            continue
        m = _NUMSTAT.match(tok)
        if commit is None or not m:
            continue
        added = int(m[1]) if m[1] != "-" else 0
        deleted = int(m[2]) if m[2] != "-" else 0
        if m[3]:
            commit.changes.append(Change(added, deleted, m[3]))
        elif i + 1 < len(tokens):  # a rename: the old and new paths follow as two tokens
            commit.changes.append(Change(added, deleted, tokens[i + 1], old_path=tokens[i]))
            i += 2
    if commit is not None:
        yield commit


def page_histories(commits: Iterator[Commit], head_paths: set[str],
                   ignore: set[str] | None = None) -> dict[str, PageHistory]:
    """History of each page at HEAD, following renames. ``commits`` must be newest first.

    ``ignore``: lower-cased names or e-mails whose commits are skipped (bots, mass reformats).
    """
    ignore = ignore or set()
    alias = {p: p for p in head_paths}  # path at this point in history -> path at HEAD
    out = {p: PageHistory() for p in head_paths}
    for commit in commits:
        skip = commit.name.lower() in ignore or commit.email.lower() in ignore
        for ch in commit.changes:
            page = alias.get(ch.path)
            if page is None:
                continue
            if not skip:
                out[page].add(commit, ch.added)
            if ch.old_path:  # before this commit the page's text lived at old_path
                del alias[ch.path]
                alias[ch.old_path] = page
    return out


def read_histories(repo: Path, head_paths: set[str], subdir: str = "",
                   ignore: set[str] | None = None, timeout: float = 600) -> dict[str, PageHistory]:
    """One ``git log`` pass over the repository (or ``subdir``) for the pages at HEAD.

    Paths are relative to the repository root. Merges are skipped: their changes are already
    counted in the commits they merge.
    """
    args = ["log", "-z", "--numstat", "-M", "-l10000", "--no-merges", "--no-color", _FORMAT, "HEAD"]
    if subdir:
        args += ["--", subdir]
    return page_histories(parse_log(run_git(repo, *args, timeout=timeout)), head_paths, ignore)
