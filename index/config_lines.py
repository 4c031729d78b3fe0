"""Where each key of a TOML config file is written, so a wrong key can be named by its line.

``tomllib`` gives values, not positions. This reads the file's lines for what a settings file
holds: ``[table]`` and ``[[array.of.tables]]`` headers, ``key = value`` lines (dotted and
quoted keys too) and the keys of one-line inline tables. It only locates keys: the values
come from ``tomllib``, and a line it cannot place simply has no number.
"""

from __future__ import annotations

import re
from dataclasses import is_dataclass
from typing import Any, get_type_hints

from .settings import Settings, known_fields

KeyPath = tuple[str | int, ...]  # ("sources", 0, "path"), ("embedding", "model")

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r'^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\'))*)\s*=')
_INLINE_KEY = re.compile(r'(?:^|[{,])\s*([A-Za-z0-9_-]+|"[^"]*")\s*=')


def _split_key(dotted: str) -> list[str]:
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)', dotted)
    return [a or b or c for a, b, c in parts]


def key_lines(text: str) -> dict[KeyPath, int]:
    """Each key's path and its 1-based line (the first line it appears on)."""
    lines: dict[KeyPath, int] = {}
    counts: dict[KeyPath, int] = {}  # how many [[x]] tables so far, per array path
    table: KeyPath = ()
    depth = 0  # open brackets of a value spanning lines (a multi-line array)
    in_string = ""
    for n, line in enumerate(text.splitlines(), 1):
        if in_string:  # inside a multi-line string: nothing here is a key
            if line.count(in_string) % 2 == 1:
                in_string = ""
            continue
        stripped = line.split("#", 1)[0] if '"' not in line and "'" not in line else line
        if depth:
            depth = max(0, depth + stripped.count("[") + stripped.count("{")
                        - stripped.count("]") - stripped.count("}"))
            continue
        header = _HEADER.match(line)
        if header and not _KEY.match(line):
            path = _resolve(_split_key(header.group(2)), counts)
            if header.group(1) == "[[":
                counts[path] = counts.get(path, -1) + 1
                lines.setdefault(path, n)
                path = (*path, counts[path])
            table = path
            lines.setdefault(table, n)
            continue
        key = _KEY.match(line)
        if not key:
            continue
        path = (*table, *_split_key(key.group(1)))
        lines.setdefault(path, n)
        value = line[key.end():]
        for quote in ('"""', "'''"):
            if value.count(quote) % 2 == 1:
                in_string = quote
        if value.strip().startswith("{") and value.count("{") == value.count("}"):
            for inner in _INLINE_KEY.findall(value.strip()[1:]):
                lines.setdefault((*path, _split_key(inner)[0]), n)
        depth = max(0, value.count("[") + value.count("{") - value.count("]") - value.count("}"))
    return lines


def _resolve(parts: list[str], counts: dict[KeyPath, int]) -> KeyPath:
    """A header's path, each array-of-tables part followed by its latest index."""
    path: KeyPath = ()
    for i, part in enumerate(parts):
        path = (*path, part)
        if path in counts and i < len(parts) - 1:
            path = (*path, counts[path])
    return path


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of ``path``, else of the nearest table or key that holds it."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def dotted(path: KeyPath) -> str:
    """``("sources", 0, "path")`` as ``sources[0].path``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def unknown_keys(data: Any, cls: type | None = None, where: tuple[str | int, ...] = ()
                 ) -> list[tuple[tuple[str | int, ...], list[str]]]:
    """Every key in ``data`` that is not a setting: its path and the names that would fit there."""
    cls = cls or Settings
    if not isinstance(data, dict):
        return []
    known, hints = known_fields(cls), get_type_hints(cls)
    out: list[tuple[tuple[str | int, ...], list[str]]] = []
    for key, value in data.items():
        if key not in known:
            out.append(((*where, key), sorted(known)))
            continue
        tp, args = hints[key], getattr(hints[key], "__args__", ())
        if is_dataclass(tp):
            out += unknown_keys(value, tp, (*where, key))  # type: ignore[arg-type]
        elif getattr(tp, "__origin__", None) is list and args and is_dataclass(args[0]) and isinstance(value, list):
            for i, item in enumerate(value):
                out += unknown_keys(item, args[0], (*where, key, i))  # type: ignore[arg-type]
    return out
