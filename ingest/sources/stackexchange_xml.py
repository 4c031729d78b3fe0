"""Streaming the ``<row .../>`` elements of a Stack Exchange dump file, safely and tolerantly.

Rows are parsed incrementally with defusedxml's parser (no entity expansion, no external
entities, no network), one line at a time, so memory stays flat whatever the file's size.
Dumps hold one row per line; when a line breaks the XML (a bad byte, a wrong encoding, a
cut-off row) the break is reported with its line number and parsing resumes on the next
line, so one bad row costs that row only. A file that declares entities is refused whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder, XMLPullParser

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

MAX_LINE = 1 << 20  # bytes fed at once: a file without line breaks is still read in pieces
MAX_BREAKS = 100  # a file broken this often is not worth reading on
_DECLARATION = re.compile(rb"<\?xml[^>]*\?>")


@dataclass
class DumpBreak:
    """A place where a dump file stopped being well-formed XML."""

    file: str
    line: int
    reason: str
    rows_before: int

    @property
    def item(self) -> str:
        return f"{self.file} line {self.line}"


def _parser() -> XMLPullParser:
    return XMLPullParser(events=("start", "end"), _parser=DefusedXMLParser(target=TreeBuilder()))


class _RowReader:
    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self.line = 0
        self.breaks = 0
        self.root_tag = ""
        self.declaration = b""  # the XML declaration, kept for resumed parsers (encoding)
        self._root: Element | None = None

    def read(self) -> Iterator[dict[str, str] | DumpBreak]:
        with open(self.path, "rb") as f:
            parser = _parser()
            while True:
                raw = f.readline(MAX_LINE)
                if self.line == 0 and (m := _DECLARATION.search(raw[:200])):
                    self.declaration = m.group(0)
                self.line += 1 if raw else 0
                try:
                    if raw:
                        parser.feed(raw)
                    else:
                        parser.close()
                    yield from self._rows(parser.read_events())
                except ParseError as e:
                    what = str(e.msg).split(":")[0]  # expat repeats the position after a colon
                    reason = (f"malformed XML at line {self.line}: {what}; that line was skipped" if raw else
                              f"the file ends inside the XML ({what}): cut short?")
                    yield DumpBreak(self.path.name, self.line, reason, self.rows)
                    self.breaks += 1
                    if not raw or self.breaks >= MAX_BREAKS:
                        return
                    parser = self._resume()
                except DefusedXmlException as e:
                    reason = f"rejected unsafe XML ({type(e).__name__}: {e}); nothing read from this file"
                    yield DumpBreak(self.path.name, self.line, reason, self.rows)
                    return
                if not raw:
                    return

    def _rows(self, events: Iterator[Any]) -> Iterator[dict[str, str]]:
        for event, elem in events:
            if event == "start":
                if self._root is None:
                    self._root = elem
                    self.root_tag = self.root_tag or elem.tag
            elif elem.tag == "row":
                self.rows += 1
                yield dict(elem.attrib)
                if self._root is not None:
                    self._root.clear()  # drop finished rows so memory stays flat

    def _resume(self) -> XMLPullParser:
        """A fresh parser that goes on after the broken line inside the same root element."""
        parser = _parser()
        self._root = None
        parser.feed(self.declaration + f"<{self.root_tag or 'rows'}>".encode())
        return parser


def iter_rows(path: Path) -> Iterator[dict[str, str] | DumpBreak]:
    """The attributes of each ``<row>`` in a dump file, and a ``DumpBreak`` at each break."""
    return _RowReader(path).read()
