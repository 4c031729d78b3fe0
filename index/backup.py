"""`whoknows backup` / `whoknows restore`: the served generation and the home's databases.

A backup is a folder: the published generation (its store and vectors), every SQLite
database at the top of the home (``state.sqlite``: run records, gaps, API tokens, feedback and
whatever later migrations keep there; other ``*.sqlite`` files beside it alike), the server's
``secret`` and a ``backup.json`` manifest. The embedding cache is left out unless asked for
(it is a cache: a restored home re-encodes only text it has never seen). Source clones and
forum mirrors (``cache/``, ``discourse/``) are re-made by the next run.

Consistent while serving: every database is copied with SQLite's online backup API, which
copies a transaction-consistent snapshot while other connections read and write; the
generation's files are opened before anything is copied, so a run that publishes and removes
old generations meanwhile cannot pull them away (an open file outlives its name). Nothing is
written to the home being backed up.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from .generations import STORE_FILE, VECTORS_FILE, Home

MANIFEST = "backup.json"
CACHE_DB = "embeddings.sqlite"
FORMAT = 1


class BackupError(RuntimeError):
    """The backup cannot be made or restored; nothing was changed."""


@dataclass
class BackupManifest:
    generation: str
    databases: list[str]  # files at the top of the home, copied with the backup API
    files: list[str] = field(default_factory=list)  # other files at the top (the secret)
    made_at: float = 0.0
    format: int = FORMAT
    bytes: int = 0


def backup_home(home: Home, dest: Path, with_cache: bool = False) -> BackupManifest:
    """Copy ``home``'s served generation and databases into the new folder ``dest``."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} exists and is not empty: back up into a new folder")
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "generations").mkdir(parents=True)
    os.chmod(tmp, 0o700)  # it holds the server's secret and the API tokens' hashes
    try:
        generation = _copy_generation(home, tmp / "generations")
        databases = sorted(p.name for p in home.path.glob("*.sqlite")
                           if p.is_file() and (with_cache or p.name != CACHE_DB))
        for name in databases:
            sqlite_copy(home.path / name, tmp / name)
        files = [n for n in ("secret",) if (home.path / n).is_file()]
        for name in files:
            shutil.copy2(home.path / name, tmp / name)
        manifest = BackupManifest(generation, databases, files, time.time())
        manifest.bytes = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        (tmp / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


@dataclass
class OpenGeneration:
    """A generation's files, opened: copying them needs no name in the home any more."""

    name: str
    store: sqlite3.Connection
    files: dict[str, BinaryIO]

    def copy_to(self, dest: Path) -> None:
        (dest / self.name).mkdir()
        _backup(self.store, dest / self.name / STORE_FILE)
        for fname, fh in self.files.items():
            with open(dest / self.name / fname, "wb") as out:
                shutil.copyfileobj(fh, out, 1 << 20)

    def close(self) -> None:
        self.store.close()
        for fh in self.files.values():
            fh.close()


def open_generation(home: Home, attempts: int = 3) -> OpenGeneration:
    """Open the served generation's files; try again if a run removed it between reading
    CURRENT and opening them (runs keep two generations, so that takes two publishes)."""
    for _ in range(attempts):
        name = home.current()
        if name is None:
            raise BackupError(f"no index in {home.path}: nothing to back up (run `whoknows ingest` first)")
        src = home.generations / name
        files: dict[str, BinaryIO] = {}
        try:
            store = sqlite3.connect(f"file:{src / STORE_FILE}?mode=ro", uri=True)
            store.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the file now
            for p in sorted(src.iterdir()):
                if p.is_file() and p.name != STORE_FILE:
                    files[p.name] = open(p, "rb")
        except (FileNotFoundError, sqlite3.OperationalError):
            for fh in files.values():
                fh.close()
            continue
        return OpenGeneration(name, store, files)
    raise BackupError(f"{home.path}: the served generation changed {attempts} times while being opened")


def _copy_generation(home: Home, dest: Path) -> str:
    generation = open_generation(home)
    try:
        generation.copy_to(dest)
    finally:
        generation.close()
    return generation.name


def sqlite_copy(src: Path, dst: Path) -> None:
    """A transaction-consistent copy of a live SQLite database (the online backup API)."""
    db = sqlite3.connect(src, timeout=30)  # read-write: a WAL database's reader needs its -shm
    try:
        _backup(db, dst)
    finally:
        db.close()


def _backup(db: sqlite3.Connection, dst: Path) -> None:
    out = sqlite3.connect(dst)
    try:
        db.backup(out, pages=4096)  # in steps, so writers are not held off for the whole copy
        out.execute("PRAGMA journal_mode=DELETE")
    finally:
        out.close()


def read_manifest(src: Path) -> BackupManifest:
    try:
        data = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
        manifest = BackupManifest(**data)
    except FileNotFoundError:
        raise BackupError(f"{src}: no {MANIFEST}: not a whoknows backup") from None
    except (ValueError, TypeError) as e:
        raise BackupError(f"{src}/{MANIFEST}: not readable ({e})") from None
    if manifest.format > FORMAT:
        raise BackupError(f"{src}: made by a newer whoknows (format {manifest.format}); upgrade first")
    return manifest


def verify_backup(src: Path) -> BackupManifest:
    """The manifest, after checking every file it names is there and every database is whole."""
    manifest = read_manifest(src)
    gen = src / "generations" / manifest.generation
    for p in (gen / STORE_FILE, gen / VECTORS_FILE, *(src / n for n in manifest.databases + manifest.files)):
        if not p.is_file():
            raise BackupError(f"{src}: {p.relative_to(src)} is missing")
    for p in (gen / STORE_FILE, *(src / n for n in manifest.databases)):
        db = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            result = db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as e:
            result = str(e)
        finally:
            db.close()
        if result != "ok":
            raise BackupError(f"{src}: {p.relative_to(src)} is damaged ({result})")
    return manifest


def restore_home(src: Path, home: Home) -> BackupManifest:
    """Restore the backup ``src`` into ``home``, which must hold no index yet."""
    manifest = verify_backup(src)
    if home.current() is not None or any((home.path / n).exists() for n in manifest.databases):
        raise BackupError(f"{home.path} already holds an index: restore into an empty home "
                          "(stop the server and move the old home aside first)")
    home.ensure()
    gen_dst = home.generations / manifest.generation
    tmp = home.generations / f".restore-{manifest.generation}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src / "generations" / manifest.generation, tmp)
    for name in manifest.databases + manifest.files:
        shutil.copy2(src / name, home.path / name)
    shutil.rmtree(gen_dst, ignore_errors=True)
    tmp.rename(gen_dst)
    current = home.path / "CURRENT.tmp"  # published last: a half-restored home has no index
    current.write_text(manifest.generation + "\n")
    os.replace(current, home.path / "CURRENT")
    return manifest
