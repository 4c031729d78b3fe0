"""Formats unstructured reads offline: docx, pptx, html, eml, msg.

unstructured's elements become Markdown-ish text: ``Title`` elements are ``#`` headings (by
their depth), list items ``- `` lines, tables one row a line. Authors come from the file's
own metadata: Office core properties, an e-mail's From.
"""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, datetime
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from . import FileAuthor, ParsedFile, ParsedSection, Unreadable
from .text import decode

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SKIPPED = {"PageBreak", "Header", "Footer", "PageNumber", "Image"}
# unstructured detects each element's language unless told; that is 99% of the time of a
# partition, and whoknows does not use the result
LANGUAGES = ["eng"]
MAX_HEADING_CHARS = 200  # a "Title" longer than this is a paragraph unstructured misjudged


def read(path: Path) -> ParsedFile:
    suffix = path.suffix.lower()
    if suffix in (".docx", ".pptx"):
        with path.open("rb") as fh:
            if fh.read(8) == OLE_MAGIC:
                raise Unreadable(f"{suffix[1:]}: encrypted (password-protected Office file)")
        if not zipfile.is_zipfile(path):
            raise Unreadable(f"{suffix[1:]}: corrupt file (not a zip package)")
        refuse_dtds(path)
        require_office_package(path, suffix[1:])
    from ingest import unstructured_offline

    unstructured_offline.install()
    if suffix == ".docx":
        from unstructured.partition.docx import partition_docx

        return _with_text(ooxml_core(path), partition_docx(filename=str(path), include_page_breaks=False,
                                                              languages=LANGUAGES))
    if suffix == ".pptx":
        from unstructured.partition.pptx import partition_pptx

        return _with_text(ooxml_core(path), partition_pptx(filename=str(path), include_page_breaks=False,
                                                              languages=LANGUAGES))
    if suffix in (".eml", ".msg"):
        return _email(path, suffix)
    return html_file(path)


def html_file(path: Path) -> ParsedFile:
    raw = path.read_bytes()
    text = decode(raw)
    return html_text(text)


MAX_TEXT_RUN = 10_000_000  # libxml2's limit for one text node: past it lxml returns no document at all
_LONG_RUN = re.compile(rf"[^<]{{{MAX_TEXT_RUN // 4},}}")


def html_text(text: str) -> ParsedFile:
    from unstructured.partition.html import partition_html

    if any(len(m[0].encode()) > MAX_TEXT_RUN for m in _LONG_RUN.finditer(text)):
        # lxml gave up silently: the file came out as "no text found" or an AttributeError
        raise Unreadable(f"html: one run of text without markup is over {MAX_TEXT_RUN // 1_000_000} MB, "
                         "more than the HTML parser takes")

    parsed = ParsedFile([], title=_html_title(text))
    m = re.search(r"""<meta\s+name=["']author["']\s+content=["']([^"']+)""", text[:65536], re.I)
    if m:
        parsed.authors = [FileAuthor(m[1].strip())]
    return _with_text(parsed, partition_html(text=text, languages=LANGUAGES))


def _html_title(text: str) -> str:
    m = re.search(r"<title[^>]*>(.*?)</title>", text[:65536], re.I | re.S)
    return " ".join(m[1].split()) if m else ""


def _email(path: Path, suffix: str) -> ParsedFile:
    if suffix == ".eml":  # the e-mail parser takes any bytes: a zip renamed .eml came out as its bytes
        try:
            decode(path.read_bytes()[:20000])
        except Unreadable as e:
            raise Unreadable(f"eml: {e} (not an e-mail; wrong extension?)") from None
    if suffix == ".msg":
        from unstructured.partition.msg import partition_msg

        elements = partition_msg(filename=str(path), process_attachments=False, languages=LANGUAGES)
    else:
        from unstructured.partition.email import partition_email

        elements = partition_email(filename=str(path), process_attachments=False, languages=LANGUAGES)
    if not elements and _encrypted(path.read_bytes()):
        raise Unreadable("encrypted e-mail (PGP or S/MIME); cannot be read without the key")
    parsed = ParsedFile([])
    if elements:
        md = elements[0].metadata
        parsed.title = (md.subject or "").strip()
        for name, email in getaddresses(md.sent_from or []):
            if name or email:
                parsed.authors.append(FileAuthor(name or email.split("@")[0], email.lower()))
        parsed.modified = _time(md.last_modified)
    return _with_text(parsed, elements)


def _encrypted(raw: bytes) -> bool:
    low = raw[:1_000_000].lower()
    markers = (b"multipart/encrypted", b"pgp-encrypted", b"pkcs7-mime", b"smime.p7m")
    return any(m in low or m.decode().encode("utf-16-le") in low for m in markers)


def _with_text(parsed: ParsedFile, elements: list[Any]) -> ParsedFile:
    parsed.sections = [ParsedSection(elements_to_markdown(elements))]
    return parsed


def elements_to_markdown(elements: list[Any]) -> str:
    blocks: list[str] = []
    for el in elements:
        kind = type(el).__name__
        text = (el.text or "").strip()
        if kind in SKIPPED or not text:
            continue
        if kind == "Title" and len(text) <= MAX_HEADING_CHARS:
            depth = getattr(el.metadata, "category_depth", None) or 0
            blocks.append("#" * min(depth + 1, 4) + " " + " ".join(text.split()))
        elif kind == "ListItem":
            blocks.append("- " + text)
        elif kind == "Table":
            blocks.append(table_rows(getattr(el.metadata, "text_as_html", None)) or text)
        else:
            blocks.append("\\" + text if text.startswith("#") else text)
    return "\n\n".join(blocks)


def table_rows(html: str | None) -> str:
    """One line per table row, cells joined by " | "."""
    if not html:
        return ""
    import lxml.html

    try:
        root = lxml.html.fromstring(html)
    except Exception:
        return ""
    rows = []
    for tr in root.iter("tr"):
        cells = [" ".join(td.text_content().split()) for td in tr if td.tag in ("td", "th")]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def refuse_dtds(path: Path) -> None:
    """Office Open XML never needs a DTD; one in any part is an entity bomb or an external
    entity aimed at the parsers behind unstructured and openpyxl, so the file is refused."""
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if info.filename.endswith((".xml", ".rels", ".vml")):
                    with z.open(info) as member:
                        prolog = member.read(4096)
                    if b"<!DOCTYPE" in prolog.upper().replace(b"\x00", b""):
                        raise Unreadable(f"XML rejected: a DTD in {info.filename} (DTDs and entities are not allowed)")
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as e:
        raise Unreadable(f"corrupt package: {type(e).__name__}") from None


def require_office_package(path: Path, fmt: str) -> None:
    """A zip without ``[Content_Types].xml`` is no Office file (an OpenDocument file or EPUB
    renamed, a plain zip); say so rather than let the parser fail on the missing part."""
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        if "[Content_Types].xml" in names:
            return
        kind = z.read("mimetype")[:100].decode("ascii", "replace").strip() if "mimetype" in names else ""
    raise Unreadable(f"{fmt}: not an Office file (a zip package{f' of {kind}' if kind else ''} "
                     "without [Content_Types].xml; wrong extension?)")


def ooxml_core(path: Path) -> ParsedFile:
    """Title, author, last editor and dates from an Office package's docProps/core.xml."""
    parsed = ParsedFile([])
    try:
        with zipfile.ZipFile(path) as z:
            raw = z.read("docProps/core.xml")
    except (KeyError, zipfile.BadZipFile, OSError):
        return parsed
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(raw, forbid_dtd=True)
    except Exception:
        return parsed
    props = {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in root}
    parsed.title = props.get("title", "")
    creator, editor = props.get("creator", ""), props.get("lastModifiedBy", "")
    if creator:
        parsed.authors.append(FileAuthor(creator))
    if editor and editor.lower() != creator.lower():
        parsed.authors.append(FileAuthor(editor, role="editor"))
    parsed.created = _time(props.get("created"))
    parsed.modified = _time(props.get("modified"))
    return parsed


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)
