"""Core types shared by ingest (which writes them) and search (which reads them)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

EVERYONE = "everyone"
USER_PREFIX = "user:"  # a visible_to entry naming one person rather than a group


def user_entry(user: str) -> str:
    """The ``visible_to`` entry that lets one user (by the name they sign in with) see a document."""
    return USER_PREFIX + user.strip().lower()

# Roles a person can play for a document. Weights for expertise live in search settings.
ROLES = (
    "author",
    "editor",
    "asker",
    "answerer",
    "accepted-answerer",
    "commenter",
)


@dataclass
class Person:
    """Someone behind a document. ``id`` is assigned by the store's identity resolver.

    Sources fill ``handles`` with source-scoped keys (``"cardano:1234"``) and ``emails``
    when they know them; identities are merged by e-mail and by the configured alias table.
    """

    name: str
    handles: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    id: str = ""
    profile_url: str = ""


@dataclass
class Contribution:
    """One thing a person did to a document: wrote it, edited it, answered in it."""

    person: Person
    role: str
    weight: float = 1.0
    at: datetime | None = None
    section: int | None = None  # the section (e.g. forum post) this person wrote, if one
    score: int | None = None  # votes/likes when the source has them
    doc_id: str = ""


@dataclass
class Section:
    """A part of a document with its own author and anchor, e.g. one post of a thread."""

    text: str
    heading: str = ""
    anchor: str = ""
    author: Person | None = None


@dataclass
class Document:
    """One unit of knowledge as a source yields it: a page, a thread, a file."""

    id: str  # stable across runs: "<source>/<native id>"
    source: str
    kind: str  # wiki | forum | document
    title: str
    sections: list[Section]
    url: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    visible_to: list[str] = field(default_factory=lambda: [EVERYONE])
    tags: list[str] = field(default_factory=list)
    contributions: list[Contribution] = field(default_factory=list)
    markdown: bool = False  # sections are Markdown: chunk on headings

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)

    def content_hash(self) -> str:
        """Hash of everything that, when changed, should update the stored document."""
        h = hashlib.sha256()
        for part in (self.title, self.url, ",".join(sorted(self.visible_to)), ",".join(self.tags)):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\0")
        for s in self.sections:
            for part in (s.text, s.heading, s.anchor, s.author.name if s.author else ""):
                h.update(part.encode("utf-8", "surrogatepass"))
                h.update(b"\0")
        for c in self.contributions:
            h.update(f"{c.person.name}|{c.role}|{c.weight}|{c.at}|{c.section}|{c.score}".encode())
        if self.updated_at:
            h.update(self.updated_at.isoformat().encode())
        return h.hexdigest()


@dataclass
class Chunk:
    """A passage of a document, the unit that is embedded and retrieved."""

    doc_id: str
    position: int
    text: str
    heading: str = ""  # heading path, "Expenses > Home office"
    anchor: str = ""
    author_id: str = ""
    section: int = 0
    title: str = ""  # the document's title, part of what is embedded
    id: int = 0  # assigned by the store; also the FAISS id

    @property
    def text_hash(self) -> str:
        return text_hash(self.embed_text)

    @property
    def embed_text(self) -> str:
        """What the encoder sees: title and heading path give a passage its context."""
        context = " > ".join(p for p in (self.title, self.heading) if p)
        return f"{context}\n{self.text}" if context else self.text


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Unchanged:
    """A source's word that a document is as it was last run, so it need not be read again.

    Sources that can tell ("changed since": git commits, forum bump times, file mtimes)
    yield this instead of re-reading; the pipeline keeps the stored document.
    """

    doc_id: str


@dataclass
class Failure:
    """An item a source could not read, with the reason; the run goes on."""

    source: str
    item: str
    reason: str
