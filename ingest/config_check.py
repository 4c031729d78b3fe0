"""`whoknows check`: what is wrong with a config file, found without indexing anything.

It reads the file with the settings' own loader and the source registry, then looks at what
the loader cannot: every unknown key at once (with its line and the name it was probably
meant to be), paths that are missing, unreadable or of another kind than configured, cron
expressions that never fire, and folders the index cannot be written to.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from croniter import CroniterBadDateError, croniter

from index.config_lines import KeyPath, dotted, key_lines, line_of, unknown_keys
from index.settings import ConfigError, Settings, SourceSettings, settings_from_data

from .detect import detect_discourse, detect_mediawiki, detect_stackexchange, is_git_repo
from .sources import SOURCE_KINDS

MAX_UNREADABLE = 5  # files named per source; the rest are counted


@dataclass
class Problem:
    line: int | None
    key: str
    message: str
    error: bool = True  # False: a warning, which does not fail the check

    def format(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {'' if self.error else 'warning: '}{self.key + ': ' if self.key else ''}{self.message}"


def check_config(path: Path) -> list[Problem]:
    """Every problem of the config at ``path``; an empty list when it can be indexed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [Problem(None, "", "no such file (`whoknows init PATH...` writes one)")]
    except (OSError, UnicodeDecodeError) as e:
        return [Problem(None, "", f"cannot be read: {e}")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"at line (\d+)", str(e))
        return [Problem(int(m.group(1)) if m else None, "", f"not valid TOML: {e}")]
    lines = key_lines(text)
    problems = [_unknown(path_, names, lines) for path_, names in unknown_keys(data)]
    for path_, _ in unknown_keys(data):
        _drop(data, path_)
    try:
        settings = settings_from_data(data, path.resolve())
    except ConfigError as e:
        return [*problems, _config_error(str(e), path.name, lines, data)]
    return problems + _settings_problems(settings, lines)


def _unknown(path: KeyPath, names: list[str], lines: dict[KeyPath, int]) -> Problem:
    close = difflib.get_close_matches(str(path[-1]), names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known here: {', '.join(names)})"
    return Problem(line_of(lines, path), dotted(path), "unknown setting" + hint)


def _drop(data: Any, path: KeyPath) -> None:
    for part in path[:-1]:
        data = data[part]
    data.pop(path[-1], None)


def _config_error(message: str, file: str, lines: dict[KeyPath, int], data: dict[str, Any]) -> Problem:
    """The loader's error, placed on the line of the key it names (``file.sources[0].kind: ...``)."""
    m = re.match(rf"{re.escape(file)}\.([\w.\[\]-]+): (.*)", message)
    if m:
        return Problem(line_of(lines, _key_path(m.group(1))), m.group(1), m.group(2))
    m = re.match(r"sources\.([\w-]+)\.cron: (.*)", message)  # a source's cron, named by the source
    if m:
        names = [s.get("name") for s in data.get("sources", []) if isinstance(s, dict)]
        i = names.index(m.group(1)) if m.group(1) in names else 0
        return Problem(line_of(lines, ("sources", i, "cron")), f"sources[{i}].cron", m.group(2))
    m = re.match(r"(schedule\.cron|auth\.mode)", message)
    return Problem(line_of(lines, _key_path(m.group(1))) if m else None, "", message)


def _key_path(key: str) -> KeyPath:
    return tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", key))


def _settings_problems(settings: Settings, lines: dict[KeyPath, int]) -> list[Problem]:
    problems = _home(settings, lines) + _crons(settings, lines) + _models(settings, lines)
    for i, src in enumerate(settings.sources):
        problems += _source(settings, src, i, lines)
    if settings.auth.mode == "proxy":
        for proxy in settings.auth.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                problems.append(Problem(line_of(lines, ("auth", "trusted_proxies")), "auth.trusted_proxies",
                                        f"{proxy!r} is not an address or CIDR range"))
    if settings.llm.api_key_env and settings.llm.api_key_env not in os.environ:
        problems.append(Problem(line_of(lines, ("llm", "api_key_env")), "llm.api_key_env",
                                f"${settings.llm.api_key_env} is not set here", error=False))
    return problems


def _home(settings: Settings, lines: dict[KeyPath, int]) -> list[Problem]:
    home = Path(settings.home)
    existing = next((p for p in (home, *home.parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return [Problem(line_of(lines, ("home",)), "home", f"{home}: the index cannot be written here "
                        f"({existing} is not a writable folder)")]
    return []


def _crons(settings: Settings, lines: dict[KeyPath, int]) -> list[Problem]:
    crons: list[tuple[KeyPath, str]] = [(("schedule", "cron"), settings.schedule.cron)]
    crons += [(("sources", i, "cron"), s.cron) for i, s in enumerate(settings.sources)]
    problems = []
    for key, expr in crons:
        if not expr:
            continue
        try:
            croniter(expr, datetime.now()).get_next(datetime)
        except CroniterBadDateError:
            problems.append(Problem(line_of(lines, key), dotted(key), f"{expr!r} never fires (no such date)"))
    return problems


def _models(settings: Settings, lines: dict[KeyPath, int]) -> list[Problem]:
    problems = []
    model = "" if settings.embedding.model == "bundled" else settings.embedding.model
    for key, folder in ((("embedding", "model"), model), (("search", "cross_encoder"), settings.search.cross_encoder)):
        if folder and not settings.resolve(folder).is_dir():
            problems.append(Problem(line_of(lines, key), dotted(key), f"no model folder {settings.resolve(folder)}"))
    return problems


def _source(settings: Settings, src: SourceSettings, i: int, lines: dict[KeyPath, int]) -> list[Problem]:
    def problem(key: str, message: str, error: bool = True) -> Problem:
        return Problem(line_of(lines, ("sources", i, key)), f"sources[{i}].{key}", message, error)

    if src.kind not in SOURCE_KINDS:
        return [problem("kind", f"unknown kind {src.kind!r} (known: {', '.join(sorted(SOURCE_KINDS))})")]
    if not src.path:
        return [problem("path", "no path")]
    problems = []
    env = str(src.options.get("api_key_env", ""))
    if env and env not in os.environ:
        problems.append(problem("options", f"${env} (options.api_key_env) is not set here", error=False))
    if "://" in src.path or src.path.startswith("git@"):
        if src.kind not in ("git", "discourse"):
            problems.append(problem("path", f"a {src.kind} source reads a local path, not a URL"))
        return problems
    path = settings.resolve(src.path)
    if not path.exists():
        return [*problems, problem("path", f"{path}: no such file or folder")]
    if not os.access(path, os.R_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
        return [*problems, problem("path", f"{path}: cannot be read (permissions)")]
    shape = _shape(src.kind, path)
    if shape:
        problems.append(problem("path", f"{path}: {shape}"))
    unreadable = [p for p in _files(path) if not os.access(p, os.R_OK)]
    if unreadable:
        named = ", ".join(str(p.relative_to(path)) for p in unreadable[:MAX_UNREADABLE])
        more = f" and {len(unreadable) - MAX_UNREADABLE} more" if len(unreadable) > MAX_UNREADABLE else ""
        problems.append(problem("path", f"{len(unreadable)} unreadable file(s): {named}{more}", error=False))
    return problems


def _shape(kind: str, path: Path) -> str:
    """Why ``path`` is not what a ``kind`` source reads, or "" when it is."""
    if kind == "git" and not is_git_repo(path):
        return "not a git repository, bare repository or bundle"
    if kind == "stackexchange" and detect_stackexchange(path) is None:
        return "no Posts.xml: not a Stack Exchange dump folder"
    if kind == "mediawiki" and detect_mediawiki(path) is None:
        return "no MediaWiki XML export (.xml, .xml.gz, .xml.bz2 starting with <mediawiki>)"
    if kind == "discourse" and detect_discourse(path) is None:
        return "no Discourse topic JSON (files with a post_stream)"
    if kind in ("markdown", "files") and not path.is_dir():
        return f"a {kind} source reads a folder"
    return ""


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        out += [Path(dirpath) / f for f in filenames]
    return out
