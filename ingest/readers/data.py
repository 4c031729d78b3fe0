"""Tabular and structured data: csv, tsv, json, ndjson, xml, xlsx, xls.

Rows become lines of ``column: value`` pairs so each row still makes sense alone in a chunk;
each sheet of a workbook is a ``##`` heading. XML goes through defusedxml (no DTDs).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from . import FileAuthor, ParsedFile, ParsedSection, Unreadable
from .office import OLE_MAGIC, ooxml_core, refuse_dtds
from .text import decode

MAX_ROWS = 100_000  # rows read from one table; the rest of a huge sheet is not indexed
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def read(path: Path) -> ParsedFile:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return ParsedFile([ParsedSection(_csv(decode(path.read_bytes()), suffix == ".tsv"))], markdown=False)
    if suffix == ".json":
        return ParsedFile([ParsedSection(_json(decode(path.read_bytes())))], markdown=False)
    if suffix in (".ndjson", ".jsonl"):
        return ParsedFile([ParsedSection(_ndjson(decode(path.read_bytes())))], markdown=False)
    if suffix == ".xml":
        return ParsedFile([ParsedSection(_xml(path.read_bytes()))], markdown=False)
    if suffix == ".xls":
        return _xls(path)
    return _xlsx(path)


def rows_as_text(rows: Iterable[list[Any]]) -> str:
    """The first non-empty row names the columns; each later row becomes ``name: value; ...``."""
    header: list[str] | None = None
    lines = []
    for n, row in enumerate(rows):
        if n >= MAX_ROWS:
            break
        cells = ["" if v is None else " ".join(str(v).split()) for v in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            lines.append(" | ".join(c for c in cells if c))
            continue
        pairs = [f"{header[i] if i < len(header) and header[i] else f'column {i + 1}'}: {c}"
                 for i, c in enumerate(cells) if c]
        lines.append("; ".join(pairs))
    return "\n".join(lines)


def _csv(text: str, tabs: bool) -> str:
    sample = text[:20000]
    delimiter = "\t"
    if not tabs:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    csv.field_size_limit(10_000_000)
    try:
        return rows_as_text(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as e:
        raise Unreadable(f"malformed CSV: {e}") from None


def _json(text: str) -> str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise Unreadable(f"invalid JSON: {e.msg} at line {e.lineno}") from None
    return "\n".join(_flatten(value, ""))


def _ndjson(text: str) -> str:
    records, bad = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            records.append("\n".join(_flatten(json.loads(line), "")))
        except json.JSONDecodeError:
            bad += 1
    if bad and not records:
        raise Unreadable(f"invalid NDJSON: none of {bad} lines is JSON")
    return "\n\n".join(records)


def _flatten(value: Any, prefix: str) -> Iterator[str]:
    """``a.b[0].c: value`` lines; a list of records gives one paragraph per record."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if not prefix and isinstance(v, dict) and i:
                yield ""
            yield from _flatten(v, f"{prefix}[{i}]" if prefix else "")
    elif value is not None and str(value).strip():
        yield f"{prefix}: {value}" if prefix else str(value)


def _xml(raw: bytes) -> str:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        try:
            root = fromstring(raw, forbid_dtd=True)
        except ParseError as e:
            if "encoding" not in str(e):
                raise
            # the declaration names another encoding than the file's (e.g. UTF-16 saying UTF-8)
            root = fromstring(_XML_DECLARATION.sub("", decode(raw), count=1), forbid_dtd=True)
    except DefusedXmlException as e:
        raise Unreadable(f"XML rejected: {type(e).__name__} (DTDs and entities are not allowed)") from None
    except ParseError as e:
        raise Unreadable(f"malformed XML: {e}") from None
    lines = []
    for elem in root.iter():
        text = " ".join((elem.text or "").split())
        if text:
            lines.append(f"{elem.tag.rsplit('}', 1)[-1]}: {text}")
    return "\n".join(lines)


def _xlsx(path: Path) -> ParsedFile:
    with path.open("rb") as fh:
        if fh.read(8) == OLE_MAGIC:
            raise Unreadable("encrypted workbook (password-protected Office file)")
    from openpyxl import load_workbook

    refuse_dtds(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:
        raise Unreadable(f"corrupt workbook: {type(e).__name__}: {e}") from None
    try:
        parts = [f"## {ws.title}\n\n{rows_as_text(ws.iter_rows(values_only=True))}" for ws in wb.worksheets]
    finally:
        wb.close()
    parsed = ooxml_core(path)
    parsed.sections = [ParsedSection("\n\n".join(parts))]
    return parsed


def _xls(path: Path) -> ParsedFile:
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except xlrd.XLRDError as e:
        raise Unreadable(f"unreadable xls: {e}") from None
    parts = []
    for sheet in book.sheets():
        rows = (sheet.row_values(i) for i in range(min(sheet.nrows, MAX_ROWS)))
        parts.append(f"## {sheet.name}\n\n{rows_as_text(rows)}")
    author = (book.user_name or "").strip()
    return ParsedFile([ParsedSection("\n\n".join(parts))], authors=[FileAuthor(author)] if author else [])
