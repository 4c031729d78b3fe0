"""Documents → chunks with langchain-text-splitters; Markdown is split on headings first."""

from __future__ import annotations

import re

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from index.models import Chunk, Document
from index.settings import ChunkingSettings

_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]
# Text no one searches for: an embedded file's base64 (a Markdown image pasted into a wiki page,
# 150 KB of it made 288 chunks of noise) and any run of 1,000+ printable ASCII characters without
# a space (a one-token page, a minified bundle). Prose in scripts without spaces (CJK) is kept.
_DATA_URI = re.compile(r"(data:[^,\s]{0,100};base64,)[A-Za-z0-9+/=]{64,}")
_LONG_RUN = re.compile(r"(?<![!-~])[!-~]{1000,}")  # from a run's start only: linear
ELIDED = "…"


def without_noise(text: str) -> str:
    """``text`` with embedded files' base64 and 1,000+ character runs without a space cut to
    ``ELIDED`` (a data URI keeps its ``data:type;base64,`` head, so the reader sees what it was)."""
    return _LONG_RUN.sub(ELIDED, _DATA_URI.sub(rf"\g<1>{ELIDED}", text))


def slugify(heading: str) -> str:
    """GitHub-style heading anchor."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return re.sub(r"\s", "-", s)


class Chunker:
    def __init__(self, settings: ChunkingSettings):
        self.splitter = RecursiveCharacterTextSplitter(
            chunk_size=settings.size, chunk_overlap=settings.overlap,
            separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
        )
        self.md = MarkdownHeaderTextSplitter(_HEADERS, strip_headers=True)

    def chunk(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        for si, section in enumerate(doc.sections):
            author_id = section.author.id if section.author else ""
            for heading, anchor, text in self._pieces(doc, without_noise(section.text), section.heading,
                                                      section.anchor):
                for part in self.splitter.split_text(text):
                    if not part.strip():
                        continue
                    chunks.append(Chunk(
                        doc_id=doc.id, position=len(chunks), text=part.strip(), heading=heading,
                        anchor=anchor, author_id=author_id, section=si, title=doc.title,
                    ))
        return chunks

    def _pieces(self, doc: Document, text: str, heading: str, anchor: str
                ) -> list[tuple[str, str, str]]:
        if not doc.markdown:
            return [(heading, anchor, text)]
        out = []
        for part in self.md.split_text(text):
            names = [part.metadata[k] for _, k in _HEADERS if k in part.metadata]
            # the page title is usually the H1; don't repeat it in every heading path
            if names and names[0].strip().lower() == doc.title.strip().lower():
                names = names[1:]
            path = " > ".join(n.strip() for n in names)
            out.append((path or heading, slugify(names[-1]) if names else anchor,
                        part.page_content))
        if not any(t.strip() for _, _, t in out):  # only headings: they are the text (a title slide, a stub)
            return [(heading, anchor, re.sub(r"^#{1,6}\s+", "", text, flags=re.M))]
        return out
