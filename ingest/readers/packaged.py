"""OpenDocument text (odt), EPUB and RTF, without LibreOffice or pandoc.

odt and epub are zip packages of XML: read with zipfile and defusedxml (no DTDs). EPUB
chapters are XHTML and go through unstructured's HTML partitioner. RTF through striprtf.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from typing import Any

from . import FileAuthor, ParsedFile, ParsedSection, Unreadable

ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
ODF_META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
DC = "http://purl.org/dc/elements/1.1/"
MAX_MEMBER_BYTES = 200 * 1024 * 1024  # an uncompressed zip member larger than this is a zip bomb


def read(path: Path) -> ParsedFile:
    suffix = path.suffix.lower()
    if suffix == ".rtf":
        return _rtf(path)
    try:
        with zipfile.ZipFile(path) as z:
            return _odt(z) if suffix == ".odt" else _epub(z)
    except zipfile.BadZipFile:
        raise Unreadable(f"{suffix[1:]}: corrupt file (not a zip package)") from None


def _xml(z: zipfile.ZipFile, name: str) -> Any:
    from defusedxml.ElementTree import fromstring

    try:
        info = z.getinfo(name)
    except KeyError:
        raise Unreadable(f"missing {name} in the package") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise Unreadable(f"{name} unpacks to {info.file_size} bytes (zip bomb?)")
    try:
        return fromstring(z.read(name), forbid_dtd=True)
    except Exception as e:
        raise Unreadable(f"bad XML in {name}: {type(e).__name__}") from None


def _odt(z: zipfile.ZipFile) -> ParsedFile:
    blocks: list[str] = []
    _odf_blocks(_xml(z, "content.xml"), blocks)
    parsed = ParsedFile([ParsedSection("\n\n".join(b for b in blocks if b.strip()))])
    if "meta.xml" in z.namelist():
        meta = {el.tag: (el.text or "").strip() for el in _xml(z, "meta.xml").iter()}
        parsed.title = meta.get(f"{{{DC}}}title", "")
        creator = meta.get(f"{{{ODF_META}}}initial-creator", "")
        editor = meta.get(f"{{{DC}}}creator", "")
        parsed.authors = [FileAuthor(creator)] if creator else []
        if editor and editor != creator:
            parsed.authors.append(FileAuthor(editor, role="editor"))
    return parsed


def _odf_blocks(el: Any, out: list[str]) -> None:
    """Headings, paragraphs, list items and table rows in document order."""
    for child in el:
        tag = child.tag
        if tag == f"{{{ODF_TEXT}}}h":
            level = int(child.get(f"{{{ODF_TEXT}}}outline-level", "1") or 1)
            out.append("#" * min(level, 4) + " " + " ".join(_odf_text(child).split()))
        elif tag == f"{{{ODF_TEXT}}}p":
            out.append(_odf_text(child))
        elif tag == f"{{{ODF_TEXT}}}list-item":
            out.append("- " + " ".join(_odf_text(child).split()))
        elif tag == f"{{{ODF_TABLE}}}table-row":
            cells = [" ".join(_odf_text(c).split()) for c in child if c.tag == f"{{{ODF_TABLE}}}table-cell"]
            if any(cells):
                out.append(" | ".join(cells))
        else:
            _odf_blocks(child, out)


def _odf_text(el: Any) -> str:
    """Text of an element with ODF's space, tab and line-break elements."""
    out = [el.text or ""]
    for child in el:
        tag = child.tag
        if tag == f"{{{ODF_TEXT}}}s":
            out.append(" " * int(child.get(f"{{{ODF_TEXT}}}c", "1") or 1))
        elif tag in (f"{{{ODF_TEXT}}}tab", f"{{{ODF_TEXT}}}line-break"):
            out.append(" ")
        elif tag in (f"{{{ODF_TEXT}}}note",):
            pass
        else:
            out.append(_odf_text(child))
        out.append(child.tail or "")
    return "".join(out)


def _epub(z: zipfile.ZipFile) -> ParsedFile:
    from .office import LANGUAGES, elements_to_markdown
    from .text import decode

    container = _xml(z, "META-INF/container.xml")
    rootfile = next((el.get("full-path") for el in container.iter() if el.tag.endswith("rootfile")), None)
    if not rootfile:
        raise Unreadable("epub: no rootfile in META-INF/container.xml")
    opf = _xml(z, rootfile)
    items = {el.get("id"): el.get("href") for el in opf.iter() if el.tag.endswith("}item")}
    spine = [el.get("idref") for el in opf.iter() if el.tag.endswith("}itemref")]
    base = posixpath.dirname(rootfile)
    from unstructured.partition.html import partition_html

    from ingest import unstructured_offline

    unstructured_offline.install()
    chapters = []
    for idref in spine:
        href = items.get(idref)
        if not href:
            continue
        name = posixpath.normpath(posixpath.join(base, href))
        try:
            info = z.getinfo(name)
        except KeyError:
            continue
        if info.file_size > MAX_MEMBER_BYTES:
            raise Unreadable(f"{name} unpacks to {info.file_size} bytes (zip bomb?)")
        chapters.append(elements_to_markdown(partition_html(text=decode(z.read(name)), languages=LANGUAGES)))
    parsed = ParsedFile([ParsedSection("\n\n".join(c for c in chapters if c))])
    meta = {el.tag: (el.text or "").strip() for el in opf.iter() if el.tag.startswith(f"{{{DC}}}")}
    parsed.title = meta.get(f"{{{DC}}}title", "")
    creators = [(el.text or "").strip() for el in opf.iter() if el.tag == f"{{{DC}}}creator"]
    parsed.authors = [FileAuthor(c) for c in creators if c]
    return parsed


_RTF_INFO = re.compile(r"\{\\(author|title|operator)\s+([^{}]*)\}")


def _rtf(path: Path) -> ParsedFile:
    from striprtf.striprtf import rtf_to_text

    raw = path.read_bytes()
    if not raw.lstrip().startswith(b"{\\rtf"):
        raise Unreadable("rtf: not an RTF file (no {\\rtf header)")
    source = raw.decode("latin-1")  # RTF is 7-bit; \'xx escapes carry the code page's bytes
    text = rtf_to_text(source, errors="ignore")
    info = {k: v.strip() for k, v in _RTF_INFO.findall(source[:20000])}
    parsed = ParsedFile([ParsedSection(text)], title=info.get("title", ""), markdown=False)
    if info.get("author"):
        parsed.authors.append(FileAuthor(info["author"]))
    if info.get("operator") and info.get("operator") != info.get("author"):
        parsed.authors.append(FileAuthor(info["operator"], role="editor"))
    return parsed
