"""Shared pieces for sources that read a folder: safe walking, size limits, ACL rules, links."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from index.models import EVERYONE, Document, Failure, Unchanged
from index.settings import AclRule, SourceSettings
from ingest.readers import Unreadable
from ingest.readers.isolation import PASSING_REASONS


def walk_files(root: Path, suffixes: tuple[str, ...] | None = None) -> Iterator[Path]:
    """Regular files under ``root`` in a stable order. Symlinks that leave the root are skipped,
    and so are FIFOs, sockets and devices: reading a named pipe blocks until someone writes."""
    root_real = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            if suffixes and p.suffix.lower() not in suffixes:
                continue
            try:
                real = p.resolve()
                regular = stat.S_ISREG(real.stat().st_mode)
            except (OSError, RuntimeError):  # dangling link, link loop (RuntimeError on 3.11), gone since listing
                continue
            if regular and real.is_relative_to(root_real):
                yield p


def acl_for(rel_path: str, rules: list[AclRule], declared: list[str] | None = None) -> list[str]:
    """Visibility of a document: the first matching config rule, else what the document
    declares, else everyone. A config rule wins so an admin can always restrict a path."""
    for rule in rules:
        if fnmatch.fnmatch(rel_path, rule.path) or PurePosixPath(rel_path).match(rule.path):
            return list(rule.visible_to)
    return declared or [EVERYONE]


def link_for(cfg: SourceSettings, rel_path: str, native_id: str = "", anchor: str = "") -> str:
    if not cfg.url:
        return ""
    stem = str(PurePosixPath(rel_path).with_suffix(""))
    if stem.endswith("/index"):
        stem = stem[: -len("/index")]
    url = cfg.url.format(path=stem, id=native_id or rel_path)
    return f"{url}#{anchor}" if anchor else url


def replayed(source: str, state: dict[str, Any], files: Any) -> list[Failure | Unchanged] | None:
    """For a source read from files that kept their sizes and mtimes (``files``, as saved in
    ``state["files"]``): the last run's failures again and every document unchanged; None
    when the files changed (or no run was saved) and they must be read."""
    if state.get("files") != files or "ids" not in state:
        return None
    return ([Failure(source, item, reason) for item, reason in state.get("failures", [])]
            + [Unchanged(doc_id) for doc_id in state["ids"]])


class ListedFolder:
    """For a source that reads one document per file of a folder: a listing the driver can
    make without reading anything (each file's relative path, or ``Unchanged`` for one indexed
    last run with the same mtime and size), and ``read_listed`` for one listed file, which a
    Ray worker can run as well (``ingest/ray_stages.py``). A file that failed is reported with
    the same reason, unread, until it changes (unless the parser timed out or crashed). The subclass sets ``name``,
    ``root``, ``state`` and ``suffixes`` and implements ``read(path, rel, calls)``."""

    name: str
    root: Path
    state: dict[str, Any]
    suffixes: tuple[str, ...] | None = None
    _stamps: dict[str, list[int]]
    _pending: dict[str, list[int]]
    _failed: dict[str, list[Any]]

    def read(self, path: Path, rel: str, calls: Any = None) -> Document | Failure:
        raise NotImplementedError

    def listing(self) -> Iterator[str | Unchanged | Failure]:
        if not self.root.is_dir():
            raise FileNotFoundError(f"source {self.name!r}: folder not found: {self.root}")
        previous = self.state.get("files", {})
        failed = self.state.get("failed", {})  # rel -> [stamp, reason]: the same file fails the same way
        self._stamps, self._pending, self._failed = {}, {}, {}
        for path in walk_files(self.root, self.suffixes):
            rel = path.relative_to(self.root).as_posix()
            try:
                st = path.stat()
            except OSError:
                yield rel  # read_listed says why
                continue
            stamp = [st.st_mtime_ns, st.st_size]
            if previous.get(rel) == stamp:
                self._stamps[rel] = stamp
                yield Unchanged(f"{self.name}/{rel}")
                continue
            if rel in failed and failed[rel][0] == stamp:
                self._failed[rel] = failed[rel]
                yield Failure(self.name, rel, failed[rel][1])
                continue
            self._pending[rel] = stamp
            yield rel

    def read_listed(self, rel: str, calls: Any = None) -> Document | Failure:
        """One listed file as a document, or a failure with its reason (never raises)."""
        try:
            item = self.read(self.root / rel, rel, calls)
        except Unreadable as e:  # the reason users see
            item = Failure(self.name, rel, str(e))
        except Exception as e:  # one bad file never stops the run
            item = Failure(self.name, rel, f"{type(e).__name__}: {e}")
        self.listed_read(rel, item)
        return item

    def listed_read(self, rel: str, item: Document | Failure) -> None:
        """A listed file was read (here or on a Ray worker): an indexed one keeps its stamp."""
        stamp = getattr(self, "_pending", {}).pop(rel, None)
        if stamp is None:
            return
        if isinstance(item, Document):
            self._stamps[rel] = stamp
        elif not item.reason.startswith(PASSING_REASONS):
            self._failed[rel] = [stamp, item.reason]

    def finish_listing(self) -> None:
        """Every listed file was read: the stamps are the state for the next run."""
        self.state = {"files": self._stamps, "failed": self._failed}
