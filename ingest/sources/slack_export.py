"""The files of a Slack workspace export, read from its zip or from the unpacked folder.

Nothing is extracted: zip members are read into memory one at a time, never past
``max_bytes`` whatever their header declares (a zip bomb costs at most that much), and a
member whose name is absolute, climbs out with ``..`` or is not a plain ``.json`` path is
never read. A folder is walked without following symlinks out of it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from .files_common import walk_files

ROSTER_FILES = ("users.json", "channels.json", "groups.json", "mpims.json", "dms.json")
_READ_CHUNK = 1 << 16


class ExportFileError(ValueError):
    """One file of the export could not be read; the reason is the message."""


def looks_like_slack_export(path: Path) -> bool:
    """Whether ``path`` is a Slack export: a folder or zip with users.json and channels.json
    at its top (or inside the one folder a zip was made of)."""
    try:
        if path.is_dir():
            return (path / "users.json").is_file() and (path / "channels.json").is_file()
        if path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                prefix = _common_prefix(zf.namelist())
                names = set(zf.namelist())
                return f"{prefix}users.json" in names and f"{prefix}channels.json" in names
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return False


def _common_prefix(names: list[str]) -> str:
    """``"export/"`` when every member sits in one top folder (zips made of a folder), else ``""``."""
    if any(n in ROSTER_FILES for n in names):
        return ""
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    return f"{tops.pop()}/" if len(tops) == 1 else ""


def safe_name(name: str) -> bool:
    """A member path that stays inside the export: not absolute, no "..", no drive letter."""
    p = PurePosixPath(name)
    if name.startswith("/") or "\\" in name or ".." in p.parts or not p.parts:
        return False
    return ":" not in p.parts[0]


class SlackExport:
    """Read access to the export's JSON files by their path inside it (``general/2024-03-01.json``)."""

    def __init__(self, path: Path, max_bytes: int):
        self.path = path
        self.max_bytes = max_bytes
        self.zip: zipfile.ZipFile | None = None
        self.unsafe: list[str] = []  # member names refused (absolute, "..", backslashes)
        self._members: dict[str, zipfile.ZipInfo] = {}
        if path.is_dir():
            self.names = [p.relative_to(path).as_posix() for p in walk_files(path, (".json",))]
        elif path.is_file():
            try:
                self.zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as e:
                raise ValueError(f"{path.name} is not a readable zip ({e}); the source was left as it was") from None
            prefix = _common_prefix(self.zip.namelist())
            for info in self.zip.infolist():
                if info.is_dir() or not info.filename.lower().endswith(".json"):
                    continue
                if not safe_name(info.filename):
                    self.unsafe.append(info.filename)
                    continue
                self._members[info.filename[len(prefix):]] = info
            self.names = sorted(self._members)
        else:
            raise FileNotFoundError(f"Slack export not found: {path}")

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()

    def __enter__(self) -> SlackExport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, name: str) -> bool:
        return name in self._members if self.zip is not None else (self.path / name).is_file()

    def fingerprint(self) -> list[Any]:
        """What changes when the export changes: the zip's size and mtime, or each file's."""
        if self.zip is not None:
            st = self.path.stat()
            return [st.st_size, st.st_mtime_ns]
        return [[n, (st := (self.path / n).stat()).st_size, st.st_mtime_ns] for n in self.names]

    def read_bytes(self, name: str) -> bytes:
        if self.zip is None:
            p = self.path / name
            size = p.stat().st_size
            if size > self.max_bytes:
                raise ExportFileError(f"larger than max_file_mb ({size} bytes)")
            return p.read_bytes()
        info = self._members[name]
        if info.file_size > self.max_bytes:
            raise ExportFileError(f"larger than max_file_mb ({info.file_size} bytes unpacked)")
        out = bytearray()
        try:
            with self.zip.open(info) as fh:  # a header may lie about the size: count what comes out
                while len(out) <= self.max_bytes and (chunk := fh.read(_READ_CHUNK)):
                    out += chunk
        except Exception as e:  # BadZipFile (CRC), zlib.error, EOFError, encrypted: this member only
            raise ExportFileError(f"damaged in the zip ({type(e).__name__}: {e})") from None
        if len(out) > self.max_bytes:
            raise ExportFileError(f"unpacks to more than max_file_mb ({self.max_bytes} bytes)")
        return bytes(out)

    def read_json(self, name: str) -> Any:
        """The file's JSON; ``ExportFileError`` with the reason when it cannot be read."""
        data = self.read_bytes(name)
        try:
            return json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as e:
            raise ExportFileError(f"not valid UTF-8 (byte {e.start})") from None
        except json.JSONDecodeError as e:
            raise ExportFileError(f"not valid JSON (cut off or damaged?): {e}") from None
