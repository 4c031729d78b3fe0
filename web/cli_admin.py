"""The admin's verbs: ``init`` (a config for your sources), ``check`` (validate it without
indexing), ``backup`` and ``restore`` (the served index and the home's databases), split from
``web/cli.py``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from index.settings import DEFAULT_CONFIG, Settings

from .cli_eval import Verb


def cmd_init(settings: Settings, args: argparse.Namespace) -> int:
    from ingest.detect import DetectError, detect
    from ingest.init_config import write_config

    found, failed = [], 0
    for p in args.paths:
        try:
            d = detect(Path(p).expanduser())
        except (DetectError, OSError, RuntimeError) as e:  # RuntimeError: git could not read it
            print(f"whoknows: {e}", file=sys.stderr)
            failed += 1
            continue
        found.append(d)
        print(f"{p}: {d.summary()} -> kind {d.kind!r}")
    if failed or not found:
        print("whoknows: no config written", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        write_config(found, out, force=args.force)
    except FileExistsError as e:
        print(f"whoknows: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}: check it with `whoknows --config {out} check`, then `whoknows --config {out} ingest`")
    return 0


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from ingest.config_check import check_config

    path = Path(getattr(args, "config", None) or os.environ.get("WHOKNOWS_CONFIG") or DEFAULT_CONFIG)
    problems = check_config(path)
    for p in problems:
        print(p.format(str(path)), file=sys.stderr if p.error else sys.stdout)
    errors = sum(p.error for p in problems)
    if errors:
        print(f"{path}: {errors} error(s)", file=sys.stderr)
        return 1
    print(f"{path}: ok ({len(settings_sources(path))} sources)")
    return 0


def settings_sources(path: Path) -> list[str]:
    from index.settings import load_settings

    return [s.name for s in load_settings(path).sources]


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from index.backup import BackupError, backup_home
    from index.generations import Home

    try:
        m = backup_home(Home(settings.home), Path(args.dest), with_cache=args.with_cache)
    except BackupError as e:
        print(f"whoknows: {e}", file=sys.stderr)
        return 1
    print(f"backed up generation {m.generation} and {', '.join(m.databases) or 'no databases'} "
          f"to {args.dest} ({m.bytes / 1e6:.1f} MB)")
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from index.backup import BackupError, restore_home
    from index.generations import Home

    try:
        m = restore_home(Path(args.src), Home(settings.home))
    except BackupError as e:
        print(f"whoknows: {e}", file=sys.stderr)
        return 1
    print(f"restored generation {m.generation} and {', '.join(m.databases) or 'no databases'} into {settings.home}")
    return 0


def add_parser(verb: Verb) -> None:
    sp = verb("init", cmd_init, "look at your sources' paths and write a commented config for them")
    sp.add_argument("paths", nargs="+", metavar="PATH",
                    help="a git repository or bundle, MediaWiki export, Stack Exchange dump folder, "
                         "Discourse topic JSON folder, Slack export or folder of documents")
    sp.add_argument("--out", default=DEFAULT_CONFIG, help=f"config file to write (default {DEFAULT_CONFIG})")
    sp.add_argument("--force", action="store_true", help="replace --out if it exists")
    sp.set_defaults(reads_config=False)
    sp = verb("check", cmd_check, "validate the config without indexing: unknown keys (with their line), "
              "missing or unreadable paths, cron expressions that never fire; exits 1 on errors")
    sp.set_defaults(reads_config=False)
    sp = verb("backup", cmd_backup, "copy the served index and the home's databases (consistent while serving)")
    sp.add_argument("dest", help="a new folder for the backup")
    sp.add_argument("--with-cache", action="store_true", help="include the embedding cache (large)")
    sp = verb("restore", cmd_restore, "restore a backup into the configured home, which must hold no index")
    sp.add_argument("src", help="a folder made by `whoknows backup`")
