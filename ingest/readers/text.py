"""Plain-text formats: txt, Markdown, reStructuredText, Org. Also ``decode`` for any text file.

reStructuredText and Org headings become Markdown ``#`` headings so the chunker keeps them.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from . import FileAuthor, ParsedFile, ParsedSection, Unreadable

_BOMS = [  # longest first: a UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
MAX_CONTROL_SHARE = 0.02  # more control characters than this: binary data, not text


def decode(raw: bytes) -> str:
    """Text of a file in whatever encoding it uses; ``Unreadable`` for binary data."""
    text = _decode(raw)
    sample = text[:20000]
    if sample and len(_CONTROL.findall(sample)) / len(sample) > MAX_CONTROL_SHARE:
        raise Unreadable("binary data, not text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode(raw: bytes) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(encoding)
            except UnicodeDecodeError:
                raise Unreadable(f"invalid {encoding} text") from None
    if b"\x00" in raw[:4096]:  # UTF-16 without a BOM: every other byte of ASCII text is zero
        head = raw[:4096]
        even, odd = head[0::2].count(0), head[1::2].count(0)
        encoding = "utf-16-be" if even > odd else "utf-16-le"
        if max(even, odd) > len(head) // 4:
            try:
                return raw[: len(raw) // 2 * 2].decode(encoding)
            except UnicodeDecodeError:
                pass
        raise Unreadable("binary data, not text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:200_000]).best()
    if best is None:
        raise Unreadable("unknown text encoding")
    return raw.decode(best.encoding, errors="replace")


def read(path: Path) -> ParsedFile:
    text = decode(path.read_bytes())
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        return _markdown(text)
    if suffix == ".rst":
        return ParsedFile([ParsedSection(rst_to_markdown(text))])
    if suffix == ".org":
        return ParsedFile([ParsedSection(org_to_markdown(text))])
    return ParsedFile([ParsedSection(text)], markdown=False)


def _markdown(text: str) -> ParsedFile:
    from ingest.sources.markdown import as_list, parse_author, scalar, split_front_matter

    meta, body = split_front_matter(text)
    authors = []
    for a in as_list(meta.get("authors") or meta.get("author")):
        person = parse_author(a, "")
        if person:
            authors.append(FileAuthor(person.name, person.emails[0] if person.emails else ""))
    return ParsedFile([ParsedSection(body)], title=scalar(meta.get("title")), authors=authors)


_RST_ADORNMENT = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")
_RST_DIRECTIVE = re.compile(r"^\.\. (include|raw|image|figure)::.*$", re.M)


def rst_to_markdown(text: str) -> str:
    """Section titles (a line underlined, optionally overlined, by punctuation) become ``#``
    headings, levels in the order the adornment styles first appear, as docutils does.
    Include/raw/image directives are dropped: an include would read another file."""
    lines = _RST_DIRECTIVE.sub("", text).split("\n")
    styles: list[tuple[str, bool]] = []
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        over = bool(_RST_ADORNMENT.match(line)) and i + 2 < len(lines)
        title_at = i + 1 if over else i
        if title_at + 1 < len(lines) and lines[title_at].strip() and not _RST_ADORNMENT.match(lines[title_at]):
            under = lines[title_at + 1]
            m = _RST_ADORNMENT.match(under)
            if m and len(under.rstrip()) >= len(lines[title_at].rstrip()) and (
                    not over or line.strip()[0] == m[1]):
                style = (m[1], over)
                if style not in styles:
                    styles.append(style)
                out.append("#" * min(styles.index(style) + 1, 6) + " " + lines[title_at].strip())
                i = title_at + 2
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


_ORG_HEADING = re.compile(r"^(\*+)\s+(?:(?:TODO|DONE)\s+)?(.*?)(?:\s+:[\w:@]+:)?\s*$")
_ORG_META = re.compile(r"^#\+(\w+):\s*(.*)$", re.I)


def org_to_markdown(text: str) -> str:
    out = []
    for line in text.split("\n"):
        m = _ORG_HEADING.match(line)
        meta = _ORG_META.match(line)
        if m:
            out.append("#" * min(len(m[1]), 6) + " " + m[2])
        elif meta:
            if meta[1].lower() == "title":
                out.append("# " + meta[2])
        else:
            out.append(line)
    return "\n".join(out)
