"""``git``: a git-backed Markdown wiki (GitHub/GitLab wikis, docs-as-code, handbooks).

Pages come from the working tree at HEAD; who wrote them comes from one pass over the
history (``git_history``), following renames. Later runs read only what changed: with HEAD
where it was, no page is read; after new commits, only the pages those commits touched are
read, and their authorship is the saved history of the last run plus the new commits.

``path`` is either a working copy (read in place, never modified) or anything ``git clone``
accepts (a bundle file, a bare repository, a URL), which is cloned into
``<home>/cache/<source>/repo`` and fetched on later runs.

Options: ``subdir`` (only pages under this folder; ids and links are relative to it),
``ignore_authors`` (names or e-mails whose commits don't count, e.g. bots),
``timeout_s`` (for each git command, default 600).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from index.models import Document, Failure, Unchanged
from index.settings import Settings, SourceSettings

from .authorship import PageHistory
from .files_common import walk_files
from .git_history import histories_since, read_histories, run_git
from .markdown import SUFFIXES, MarkdownSource


class GitSource:
    def __init__(self, cfg: SourceSettings, settings: Settings):
        self.cfg = cfg
        self.name = cfg.name
        self.settings = settings
        opts = cfg.options
        subdir = PurePosixPath(str(opts.get("subdir", "")).strip("/"))
        if ".." in subdir.parts:
            raise ValueError(f"source {cfg.name!r}: options.subdir may not contain '..'")
        self.subdir = "" if subdir.as_posix() == "." else subdir.as_posix()
        self.ignore = {str(a).strip().lower() for a in opts.get("ignore_authors", [])}
        self.timeout = float(opts.get("timeout_s", 600))
        self.last_commit = ""  # HEAD after iter_documents; lets a later run ask "changed since"
        # incremental runs: {"commit": HEAD of the last good run, "pages": [indexed page paths]}
        self.state: dict[str, Any] = {}

    def iter_documents(self) -> Iterator[Document | Unchanged | Failure]:
        repo = self.checkout()
        self.last_commit = run_git(repo, "rev-parse", "HEAD", timeout=self.timeout).decode().strip()
        root = repo / self.subdir if self.subdir else repo
        if not root.is_dir():
            raise FileNotFoundError(f"source {self.name!r}: no folder {self.subdir!r} in {repo}")
        pages = {p.relative_to(root).as_posix(): p for p in walk_files(root, SUFFIXES)}
        reader = MarkdownSource(self.cfg, self.settings)
        indexed_before = set(self.state.get("indexed", []))
        if self.state.get("commit") == self.last_commit and set(self.state.get("pages", [])) == set(pages):
            # nothing committed since the last good run: no history pass; indexed pages are not
            # even read, pages that failed are read again so their failures stay reported
            for rel, path in pages.items():
                yield Unchanged(f"{self.name}/{rel}") if rel in indexed_before else self._read(reader, path, rel)
            return
        prefix = f"{self.subdir}/" if self.subdir else ""
        head_paths = {prefix + rel for rel in pages}
        since = self._histories_since(repo, head_paths)
        if since is None:
            histories = read_histories(repo, head_paths, self.subdir, self.ignore, self.timeout)
            touched = head_paths
        else:
            histories, touched = since
        indexed: list[str] = []
        for rel, path in pages.items():
            if rel in indexed_before and prefix + rel not in touched:
                indexed.append(rel)  # no commit changed it since the last run: not read again
                yield Unchanged(f"{self.name}/{rel}")
                continue
            item = self._read(reader, path, rel)
            if isinstance(item, Document):
                self._apply_history(item, histories[prefix + rel])
                indexed.append(rel)
            yield item
        self.state = {"commit": self.last_commit, "pages": list(pages), "indexed": indexed,
                      "histories": {p: h.to_json() for p, h in histories.items()}}

    def _histories_since(self, repo: Path, head_paths: set[str]) -> tuple[dict[str, PageHistory], set[str]] | None:
        """Page histories from the last run's plus the commits since, or None for a full pass."""
        since, saved = self.state.get("commit"), self.state.get("histories")
        if not since or not isinstance(saved, dict):
            return None
        old = {path: PageHistory.from_json(rows) for path, rows in saved.items()}
        return histories_since(repo, since, old, head_paths, self.subdir, self.ignore, self.timeout)

    def _read(self, reader: MarkdownSource, path: Path, rel: str) -> Document | Failure:
        try:
            return reader.read(path, rel)
        except Exception as e:  # one bad page never stops the run
            return Failure(self.name, rel, f"{type(e).__name__}: {e}")

    def checkout(self) -> Path:
        """The working tree to read: the configured working copy, or a clone kept in the cache."""
        path = self.cfg.path
        if "://" not in path and not path.startswith("git@"):
            local = self.settings.resolve(path)
            if (local / ".git").exists():
                return local
            if not local.exists():
                raise FileNotFoundError(f"source {self.name!r}: not found: {local}")
            path = str(local.resolve())
        dest = Path(self.settings.home) / "cache" / self.name / "repo"
        if (dest / ".git").is_dir() and self._origin(dest) == path:
            run_git(dest, "fetch", "--quiet", "--force", "origin", timeout=self.timeout)
            run_git(dest, "reset", "--hard", "--quiet", "@{upstream}", timeout=self.timeout)
            return dest
        shutil.rmtree(dest, ignore_errors=True)
        tmp = dest.with_name("repo.partial")  # a killed clone never looks like a finished one
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        run_git(tmp.parent, "clone", "--quiet", "--", path, tmp.name, timeout=self.timeout)
        tmp.rename(dest)
        return dest

    def _origin(self, repo: Path) -> str:
        try:
            return run_git(repo, "config", "--get", "remote.origin.url").decode().strip()
        except RuntimeError:
            return ""

    def _apply_history(self, doc: Document, history: PageHistory) -> None:
        if not history.authors:
            return  # not committed yet: keep what the page itself says
        doc.created_at = history.created
        doc.updated_at = history.updated
        doc.contributions = history.contributions(self.name)
