"""`whoknows init`: a commented whoknows.toml for the sources found at the given paths."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from .detect import Detected

ESSENTIALS = '''
# --- the rest is optional; every setting is in docs/configuration.md ----------------------

# Re-index while `whoknows serve` runs (server local time); or run `whoknows reindex` from cron.
# [schedule]
# cron = "*/30 * * * *"

# Who is asking: "local" (one user, bind to 127.0.0.1), "proxy" (an SSO reverse proxy sets
# X-Forwarded-User / X-Forwarded-Groups) or "token" (`whoknows token create`).
# [auth]
# mode = "proxy"
# trusted_proxies = ["127.0.0.1"]

# [web]
# host = "127.0.0.1"
# port = 8000
# base_url = "https://whoknows.example.com"

# onnx-int8 indexes about 2x faster on CPU (vectors at cosine ~0.99 to the default's).
# [embedding]
# backend = "onnx-int8"

# One person's names, e-mails and handles across sources.
# [people]
# "Ada Lovelace" = ["ada@corp.example", "forum:ada"]
'''

_URL_HINTS = {
    "git": 'url = "https://wiki.example.com/{path}"   # link to each page; {path} is its path without .md',
    "markdown": 'url = "https://wiki.example.com/{path}"',
    "files": 'url = "https://drive.example.com/{id}"    # {id} is the file\'s path',
    "mediawiki": 'url = "https://wiki.example.com/wiki/{path}"   # default: the wiki named in the export',
}


def source_name(path: Path, taken: set[str]) -> str:
    """A unique source name from the path: letters, digits, - and _ only."""
    stem = path.name
    for suffix in (".bz2", ".gz", ".xml", ".bundle", ".git", ".zip", ".jsonl"):
        stem = stem.removesuffix(suffix)
    if path.is_file() and stem.lower() in ("", "corpus", "posts", "export", "dump"):
        stem = path.parent.name  # scifact/corpus.jsonl is "scifact"
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-").lower()[:40] or "source"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def toml_value(value: Any) -> str:
    """A TOML literal for the plain values a source table holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _config_path(path: Path, out_dir: Path) -> str:
    """Relative to the config's folder when inside it (the config can move with its data)."""
    path = path.resolve()
    try:
        return path.relative_to(out_dir.resolve()).as_posix() or "."
    except ValueError:
        return str(path)


def render_config(found: list[Detected], out: Path, home: str = "var") -> str:
    """The config file's text: one commented ``[[sources]]`` table per detected path."""
    lines = ["# whoknows configuration, written by `whoknows init`.",
             "# Check it with `whoknows check`, then index with `whoknows ingest` and serve with",
             "# `whoknows serve`. Relative paths are read from this file's folder.", "",
             f"home = {toml_value(home)}   # the index: generations, caches, run records"]
    taken: set[str] = set()
    for d in found:
        lines += ["", f"# {d.summary()}", *(f"# {note}" for note in d.notes), "[[sources]]",
                  f"name = {toml_value(source_name(d.path, taken))}",
                  f"kind = {toml_value(d.kind)}",
                  f"path = {toml_value(_config_path(d.path, out.parent))}"]
        if d.options:
            lines.append(f"options = {toml_value(d.options)}")
        if d.kind in _URL_HINTS:
            lines.append(f"# {_URL_HINTS[d.kind]}")
        lines.append('# acl = [{ path = "private/**", visible_to = ["staff"] }]   # who may see what')
    return "\n".join(lines) + "\n" + ESSENTIALS


def write_config(found: list[Detected], out: Path, force: bool = False) -> str:
    """Write the config to ``out`` (never over an existing file unless ``force``)."""
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists: choose another --out, or --force to replace it")
    text = render_config(found, out)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return text
