"""Shared pieces for sources that read a folder: safe walking, size limits, ACL rules, links."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from index.models import EVERYONE, Failure, Unchanged
from index.settings import AclRule, SourceSettings


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
