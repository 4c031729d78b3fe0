"""``mediawiki``: a MediaWiki XML export (Special:Export or dumpBackup), read as a stream.

``path`` is one export file or a folder of them (``.xml``, ``.xml.gz``, ``.xml.bz2``). With
all revisions in the export, everyone who edited a page is credited by the bytes they added
(the positive size change of each revision); with only the last revision, its editor is.
Redirects are skipped; only the namespaces in ``options.namespaces`` are read (default
``[0]``, the main namespace; talk pages are 1). Links: ``url`` with ``{path}`` = the page
title with spaces as underscores, else the wiki's own address from the export's siteinfo.

The XML goes through defusedxml with DTDs forbidden: an export with entity declarations
(XML bombs, external entities) is rejected, never expanded. The wikitext parser takes time
quadratic in some unclosed markup (250 KB of ``<ref>`` took four minutes), so pages over
``ISOLATE_BYTES`` are parsed in a worker process with a time limit (``options.timeout_s``,
default 60; ``options.isolate = false`` parses them in-process, without one).
"""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, cast
from urllib.parse import quote
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from index.models import Contribution, Document, Failure, Person, Section
from index.settings import Settings, SourceSettings
from ingest.readers.isolation import IsolatedCalls, ReaderTimeout

from .authorship import PageHistory
from .files_common import acl_for
from .wikitext import wikitext_to_markdown

SUFFIXES = (".xml", ".xml.gz", ".xml.bz2")
LAST_EDITOR_WEIGHT = 0.5  # an export with one revision per page only says who touched it last
_NO_TIME = datetime.min.replace(tzinfo=UTC)  # revisions without a timestamp sort first
ISOLATE_BYTES = 16 * 1024  # smaller pages parse in well under a second, whatever their markup


@dataclass
class Revision:
    at: datetime | None = None
    user: str = ""  # empty for anonymous (IP) and deleted contributors
    size: int | None = None
    first: bool = True  # no <parentid>: the revision that created the page
    text: str | None = None


@dataclass
class RawPage:
    title: str = ""
    ns: int = 0
    id: str = ""
    redirect: bool = False
    revisions: list[Revision] = field(default_factory=list)
    problem: str = ""  # a field that could not be read (reported as the page's failure)

    @property
    def latest(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None


@dataclass
class SiteInfo:
    base: str = ""  # the main page's address, e.g. https://wiki.example/index.php?title=Main_Page


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def iter_pages(fh: IO[bytes], site: SiteInfo) -> Iterator[RawPage]:
    """Pages of an export, one at a time; memory stays flat however large the file."""
    root: Element | None = None
    page: RawPage | None = None
    rev: Revision | None = None
    for event, elem in iterparse(fh, events=("start", "end"), forbid_dtd=True):
        tag = _local(elem.tag)
        if event == "start":
            root = elem if root is None else root
            if tag == "page":
                page = RawPage()
            elif tag == "revision" and page is not None:
                rev = Revision()
            continue
        if page is None:
            if tag == "base":
                site.base = (elem.text or "").strip()
        elif rev is not None:
            try:
                _revision_field(rev, tag, elem)
            except ValueError:
                page.problem = page.problem or f"unreadable <{tag}> {(elem.text or '').strip()[:40]!r}"
            if tag == "revision":
                page.revisions.append(rev)
                rev = None
                elem.clear()
        elif tag == "title":
            page.title = (elem.text or "").strip()
        elif tag == "ns":
            try:
                page.ns = int((elem.text or "0").strip() or 0)
            except ValueError:
                page.problem = page.problem or f"unreadable <ns> {(elem.text or '').strip()[:40]!r}"
        elif tag == "id" and not page.id:
            page.id = (elem.text or "").strip()
        elif tag == "redirect":
            page.redirect = True
        elif tag == "page":
            page.revisions.sort(key=lambda r: r.at or _NO_TIME)
            yield page
            page = None
            if root is not None:
                root.clear()


def _revision_field(rev: Revision, tag: str, elem: Element) -> None:
    if tag == "timestamp" and elem.text:
        at = datetime.fromisoformat(elem.text.strip().replace("Z", "+00:00"))
        rev.at = at if at.tzinfo else at.replace(tzinfo=UTC)  # exports write UTC; some drop the Z
    elif tag == "username":
        rev.user = (elem.text or "").strip()
    elif tag == "parentid":
        rev.first = False
    elif tag == "text" and elem.get("deleted") is None:
        rev.text = elem.text or ""
        size = elem.get("bytes")
        rev.size = int(size) if size and size.isdigit() else len(rev.text.encode("utf-8"))


def open_export(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    if path.name.endswith(".bz2"):
        return bz2.open(path, "rb")
    return path.open("rb")


class MediaWikiSource:
    def __init__(self, cfg: SourceSettings, settings: Settings):
        self.cfg = cfg
        self.name = cfg.name
        self.root = settings.resolve(cfg.path)
        self.namespaces = {int(n) for n in cfg.options.get("namespaces", [0])}
        self.site = SiteInfo()
        self.timeout_s = float(cfg.options.get("timeout_s", 60))
        self.isolate = bool(cfg.options.get("isolate", True))
        self._calls: IsolatedCalls | None = None

    def iter_documents(self) -> Iterator[Document | Failure]:
        if self.root.is_dir():
            exports = sorted(p for p in self.root.iterdir() if p.name.lower().endswith(SUFFIXES))
        elif self.root.is_file():
            exports = [self.root]
        else:
            raise FileNotFoundError(f"source {self.name!r}: not found: {self.root}")
        if not exports:
            raise FileNotFoundError(f"source {self.name!r}: no .xml export in {self.root}")
        with IsolatedCalls(self.timeout_s) if self.isolate else nullcontext() as calls:
            self._calls = calls  # started on the first large page only
            for path in exports:
                yield from self._read_export(path)

    def _read_export(self, path: Path) -> Iterator[Document | Failure]:
        pages = 0
        try:
            with open_export(path) as fh:
                for page in iter_pages(fh, self.site):
                    pages += 1
                    if page.redirect or page.ns not in self.namespaces or not page.revisions:
                        continue
                    if page.problem:  # the rest of the export is read on
                        yield Failure(self.name, page.title or f"page {page.id}", page.problem)
                        continue
                    try:
                        yield self._document(page)
                    except Exception as e:  # one bad page never stops the run
                        yield Failure(self.name, page.title, f"{type(e).__name__}: {e}")
        except (ParseError, DefusedXmlException, EOFError, OSError) as e:
            reason = _xml_reason(e)
            if pages == 0:  # nothing readable: the source fails, its previous state is kept
                raise ValueError(f"{path.name}: {reason}") from e
            yield Failure(self.name, path.name, f"{reason}; stopped after {pages} pages")

    def _document(self, page: RawPage) -> Document | Failure:
        latest = page.latest
        assert latest is not None
        if latest.text is None:
            return Failure(self.name, page.title, "last revision has no text (deleted or missing)")
        if len(latest.text.encode("utf-8")) > self.cfg.max_file_mb * 1024 * 1024:
            return Failure(self.name, page.title, f"page text larger than max_file_mb ({self.cfg.max_file_mb})")
        calls = self._calls if len(latest.text) > ISOLATE_BYTES else None
        try:
            wiki = calls.call(wikitext_to_markdown, latest.text) if calls else wikitext_to_markdown(latest.text)
        except ReaderTimeout:
            return Failure(self.name, page.title, f"wikitext parser gave up after {self.timeout_s:g} s "
                                                  "(options.timeout_s); page skipped")
        if not wiki.text:
            return Failure(self.name, page.title, "no text (only templates, links or categories)")
        path = page.title.replace(" ", "_")
        first = page.revisions[0]
        return Document(
            id=f"{self.name}/{path}", source=self.name, kind="wiki", title=page.title,
            sections=[Section(wiki.text)], url=self._link(path, page.id),
            created_at=first.at if first.first else None, updated_at=latest.at,
            visible_to=acl_for(path, self.cfg.acl), tags=sorted(set(wiki.categories)),
            contributions=self._contributions(page), markdown=True,
        )

    def _contributions(self, page: RawPage) -> list[Contribution]:
        revs = page.revisions
        if len(revs) == 1 and not revs[0].first:
            user = revs[0].user
            if not user:
                return []
            person = Person(name=user, handles=[f"{self.name}:{user.lower()}"])
            return [Contribution(person=person, role="editor", weight=LAST_EDITOR_WEIGHT, at=revs[0].at)]
        history = PageHistory()
        previous = 0
        for rev in revs:
            size = rev.size if rev.size is not None else previous
            if rev.user and rev.at is not None:  # anonymous edits count for no one
                history.add(rev.user, "", rev.at, size - previous)
            previous = size
        return history.contributions(self.name)

    def _link(self, path: str, page_id: str) -> str:
        quoted = quote(path, safe="/:()!,*'$@;~")
        if self.cfg.url:
            return self.cfg.url.format(path=quoted, id=page_id)
        base = self.site.base
        if "title=" in base:
            return base.split("title=", 1)[0] + "title=" + quoted
        if "/" in base:
            return base.rsplit("/", 1)[0] + "/" + quoted
        return ""


def _xml_reason(e: Exception) -> str:
    if isinstance(e, DefusedXmlException):
        return f"XML rejected: {type(e).__name__} (DTDs and entities are not allowed)"
    if isinstance(e, ParseError):
        return f"malformed XML: {e}"
    return f"unreadable export: {type(e).__name__}: {e}"
