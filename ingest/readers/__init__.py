"""Readers turn one document file into text with its headings and its author's name.

One reader per family of formats, chosen by the file's suffix in ``READERS``. A reader
returns a ``ParsedFile`` or raises ``Unreadable`` with a short reason that a person can act
on ("encrypted PDF (needs a password)", "doc: needs LibreOffice ..."). Readers import their
parsers lazily, so this module is cheap to import in a worker process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


class Unreadable(Exception):
    """The file cannot be turned into text; the message is the reason shown to users."""


@dataclass
class FileAuthor:
    name: str
    email: str = ""
    role: str = "author"  # author | editor (e.g. an Office file's "last modified by")


@dataclass
class ParsedSection:
    text: str
    heading: str = ""
    anchor: str = ""


@dataclass
class ParsedFile:
    """What a reader found in a file. With ``markdown`` the text's ``#`` lines are headings."""

    sections: list[ParsedSection]
    title: str = ""
    authors: list[FileAuthor] = field(default_factory=list)
    created: datetime | None = None
    modified: datetime | None = None
    markdown: bool = True

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)


Reader = Callable[[Path], ParsedFile]


def _office(path: Path) -> ParsedFile:
    from . import office

    return office.read(path)


def _pdf(path: Path) -> ParsedFile:
    from . import pdf

    return pdf.read(path)


def _text(path: Path) -> ParsedFile:
    from . import text

    return text.read(path)


def _data(path: Path) -> ParsedFile:
    from . import data

    return data.read(path)


def _packaged(path: Path) -> ParsedFile:
    from . import packaged

    return packaged.read(path)


def _needs_libreoffice(path: Path) -> ParsedFile:
    fmt = path.suffix.lower().lstrip(".")
    raise Unreadable(f"{fmt}: needs LibreOffice (apt install libreoffice-core), or save it as {fmt}x")


READERS: dict[str, Reader] = {
    ".pdf": _pdf,
    ".docx": _office, ".pptx": _office, ".html": _office, ".htm": _office, ".xhtml": _office,
    ".eml": _office, ".msg": _office,
    ".txt": _text, ".text": _text, ".md": _text, ".markdown": _text, ".rst": _text, ".org": _text,
    ".csv": _data, ".tsv": _data, ".json": _data, ".ndjson": _data, ".jsonl": _data, ".xml": _data,
    ".xlsx": _data, ".xlsm": _data, ".xls": _data,
    ".odt": _packaged, ".epub": _packaged, ".rtf": _packaged,
    ".doc": _needs_libreoffice, ".ppt": _needs_libreoffice,
}


def read_file(path: Path) -> ParsedFile:
    """Parse one file by its suffix. Raises ``Unreadable`` with the reason."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise Unreadable(f"unsupported format {path.suffix or '(no suffix)'}")
    parsed = reader(path)
    if not parsed.text.strip():
        raise Unreadable("no text found (empty, or only images)")
    return parsed
