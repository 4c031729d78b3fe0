"""PDF text with pypdf, one section per page (``#page=N`` anchors work in browsers' viewers).

unstructured's PDF support needs its ``[pdf]`` extra (layout models, torchvision, poppler),
which cannot work offline here; pypdf reads the text layer. Scanned PDFs have none.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from . import FileAuthor, ParsedFile, ParsedSection, Unreadable


def read(path: Path) -> ParsedFile:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # warnings about sloppy PDFs are common
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("encrypted PDF (needs a password)")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (FileNotDecryptedError, DependencyError) as e:
        raise Unreadable(f"encrypted PDF ({e})") from None
    except PdfReadError as e:
        raise Unreadable(f"corrupt PDF: {e}") from None
    sections = [ParsedSection(_tidy(text), heading=f"Page {n}", anchor=f"page={n}")
                for n, text in enumerate(pages, 1) if text.strip()]
    if not sections:
        raise Unreadable(f"PDF has no text layer ({len(pages)} pages; scanned? OCR is not available)")
    parsed = ParsedFile(sections, markdown=False)
    meta = reader.metadata
    if meta is not None:
        parsed.title = str(meta.title or "").strip()
        author = str(meta.author or "").strip()
        if author:
            parsed.authors = [FileAuthor(a.strip()) for a in author.split(";") if a.strip()]
        parsed.created = _time(meta, "creation_date")
        parsed.modified = _time(meta, "modification_date")
    return parsed


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.replace("\x00", "").splitlines()]
    return "\n".join(line for line in lines if line)


def _time(meta: object, attr: str) -> datetime | None:
    try:
        t = getattr(meta, attr)
    except Exception:  # malformed date strings raise on access
        return None
    if not isinstance(t, datetime):
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)
