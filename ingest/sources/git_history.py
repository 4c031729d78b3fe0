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

from .authorship import PageHistory

_HEADER = "\x1e"  # starts each commit header in the log output
_FORMAT = f"--format={_HEADER}%H%x1f%aN%x1f%aE%x1f%aI"  # %aN/%aE honour .mailmap
_NUMSTAT = re.compile(r"^(\d+|-)\t(\d+|-)\t(.*)$", re.S)


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
    return _walk(commits, head_paths, ignore or set()).histories


@dataclass
class _Walk:
    histories: dict[str, PageHistory]
    alias: dict[str, str]  # path at the oldest commit walked -> path at HEAD
    touched: set[str]  # pages at HEAD that some walked commit changed (ignored authors too)


def _walk(commits: Iterator[Commit], head_paths: set[str], ignore: set[str]) -> _Walk:
    alias = {p: p for p in head_paths}  # path at this point in history -> path at HEAD
    out = {p: PageHistory() for p in head_paths}
    touched: set[str] = set()
    for commit in commits:
        skip = commit.name.lower() in ignore or commit.email.lower() in ignore
        for ch in commit.changes:
            page = alias.get(ch.path)
            if page is None:
                continue
            touched.add(page)
            if not skip:
                out[page].add(commit.name, commit.email, commit.at, ch.added)
            if ch.old_path:  # before this commit the page's text lived at old_path
                del alias[ch.path]
                alias[ch.old_path] = page
    return _Walk(out, alias, touched)


def _log_args(subdir: str, revs: str) -> list[str]:
    args = ["log", "-z", "--numstat", "-M", "-l10000", "--no-merges", "--no-color", _FORMAT, revs]
    return args + ["--", subdir] if subdir else args


def read_histories(repo: Path, head_paths: set[str], subdir: str = "",
                   ignore: set[str] | None = None, timeout: float = 600) -> dict[str, PageHistory]:
    """One ``git log`` pass over the repository (or ``subdir``) for the pages at HEAD.

    Paths are relative to the repository root. Merges are skipped: their changes are already
    counted in the commits they merge.
    """
    raw = run_git(repo, *_log_args(subdir, "HEAD"), timeout=timeout)
    return page_histories(parse_log(raw), head_paths, ignore)


def histories_since(repo: Path, since: str, old: dict[str, PageHistory], head_paths: set[str],
                    subdir: str = "", ignore: set[str] | None = None, timeout: float = 600
                    ) -> tuple[dict[str, PageHistory], set[str]] | None:
    """The pages' histories from ``old`` (the histories at commit ``since``) and the commits
    after it, and the pages those commits changed; the same result as ``read_histories`` for
    the cost of reading only the new commits.

    None when that cannot be done and a full pass is needed: ``since`` is not an ancestor of
    HEAD (history rewritten), ``.mailmap`` changed (it renames old commits' authors too), or a
    page was renamed from a file that was not a page at ``since``.
    """
    try:
        run_git(repo, "merge-base", "--is-ancestor", since, "HEAD", timeout=timeout)
        if run_git(repo, "diff", "--name-only", since, "HEAD", "--", ".mailmap", timeout=timeout).strip():
            return None
    except RuntimeError:  # not an ancestor, or an unknown commit (e.g. a re-cloned repository)
        return None
    raw = run_git(repo, *_log_args(subdir, f"{since}..HEAD"), timeout=timeout)
    walk = _walk(parse_log(raw), head_paths, ignore or set())
    unknown = [path for path in walk.alias if path not in old]
    if unknown and run_git(repo, "ls-tree", "-r", "--name-only", since, "--", *unknown, timeout=timeout).strip():
        return None
    for path, page in walk.alias.items():
        if path in old:
            walk.histories[page].merge_older(old[path])
    return walk.histories, walk.touched
