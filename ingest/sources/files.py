"""``files``: a folder of documents (pdf, docx, pptx, xlsx, html, eml, msg, odt, rtf, epub,
md, rst, txt, csv, json, ...), each file one document; readers live in ``ingest/readers``.

Authors come from the files' own metadata (Office core properties, PDF Author, e-mail From).
Each file is parsed in a worker process with a time limit (``options.timeout_s``, default
300), so a pathological file is skipped with a reason instead of hanging the run; set
``options.isolate = false`` to parse in-process (faster start, no time limit). Files larger
than ``max_file_mb``, unreadable, encrypted or of an unknown format are reported by
``whoknows status`` with the reason. A file with the size and
mtime it had when last indexed is not read again. Symlinks that leave the folder are not followed.
Tools' default author names (python-pptx's "Steve Canny", "Microsoft Office User", ...) credit
no one; ``options.ignore_authors`` adds names or e-mails to that list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.models import Contribution, Document, Failure, Person, Section, Unchanged
from index.settings import Settings, SourceSettings
from ingest.readers import READERS, FileAuthor, ParsedFile, read_file
from ingest.readers.isolation import IsolatedCalls

from .files_common import ListedFolder, acl_for, link_for

EDITOR_WEIGHT = 0.3  # "last modified by" touched the file; the author wrote it
# names and titles that tools write by default: they say nothing about who wrote the file
PLACEHOLDER_AUTHORS = {"anonymous", "unknown", "user", "admin", "administrator", "author", "owner",
                       "python-docx", "python-pptx", "openpyxl", "calc",
                       "microsoft office user", "windows user", "unregistered user",
                       "steve canny"}  # python-pptx's template: "last modified by" of every generated deck
_PLACEHOLDER_TITLE = re.compile(
    r"^(untitled.*|slide \d+|powerpoint presentation|document\d*|presentation\d*|book\d*|"
    r".*\.(docx?|pptx?|xlsx?|pdf|html?|txt))$", re.I)
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)  # the first H1


class FilesSource(ListedFolder):
    def __init__(self, cfg: SourceSettings, settings: Settings):
        self.cfg = cfg
        self.name = cfg.name
        extra = {str(a).strip().lower() for a in cfg.options.get("ignore_authors", [])}
        self.ignore = PLACEHOLDER_AUTHORS | extra  # names that say nothing about who wrote a file
        self.root = settings.resolve(cfg.path)
        self.timeout_s = float(cfg.options.get("timeout_s", 300))
        self.isolate = bool(cfg.options.get("isolate", True))
        # incremental runs: {"files": {relative path: [mtime_ns, size]}} of indexed files
        self.state: dict[str, Any] = {}

    def iter_documents(self) -> Iterator[Document | Unchanged | Failure]:
        with IsolatedCalls(self.timeout_s) if self.isolate else nullcontext() as calls:
            for item in self.listing():
                yield self.read_listed(item, calls) if isinstance(item, str) else item
        self.finish_listing()

    def read(self, path: Path, rel: str, calls: IsolatedCalls | None = None) -> Document | Failure:  # type: ignore[override]
        if path.suffix.lower() not in READERS:
            return Failure(self.name, rel, f"unsupported format {path.suffix.lower() or '(no suffix)'}")
        stat = path.stat()
        if stat.st_size > self.cfg.max_file_mb * 1024 * 1024:
            return Failure(self.name, rel, f"larger than max_file_mb ({stat.st_size / 1048576:.1f} MB > "
                                           f"{self.cfg.max_file_mb:g} MB)")
        if stat.st_size == 0:
            return Failure(self.name, rel, "empty file")
        parsed = calls.call(read_file, path) if calls is not None else read_file(path)
        mtime = datetime.fromtimestamp(stat.st_mtime, tz=UTC).replace(microsecond=0)
        return self.document(rel, parsed, mtime)

    def document(self, rel: str, parsed: ParsedFile, mtime: datetime) -> Document:
        updated = parsed.modified or mtime
        return Document(
            id=f"{self.name}/{rel}", source=self.name, kind="document", title=title_for(parsed, rel),
            sections=[Section(s.text, s.heading, s.anchor) for s in parsed.sections if s.text.strip()],
            url=link_for(self.cfg, rel, native_id=rel), created_at=parsed.created, updated_at=updated,
            visible_to=acl_for(rel, self.cfg.acl), contributions=self._contributions(parsed.authors, updated),
            markdown=parsed.markdown,
        )

    def _contributions(self, authors: list[FileAuthor], at: datetime) -> list[Contribution]:
        out: list[Contribution] = []
        seen: set[str] = set()
        for a in authors:
            name = " ".join(a.name.split())
            key = (a.email or name).lower()
            if not name or key in seen or {name.lower(), key} & self.ignore or "://" in name:
                continue
            seen.add(key)
            person = Person(name=name, emails=[a.email] if a.email else [], handles=[f"{self.name}:{key}"])
            n_authors = sum(1 for c in out if c.role == "author")
            weight = EDITOR_WEIGHT if a.role == "editor" else 1.0 / (1 + n_authors)
            out.append(Contribution(person=person, role=a.role, weight=weight, at=at))
        return out


def title_for(parsed: ParsedFile, rel: str) -> str:
    """The file's own title unless it is a tool's placeholder, else its first heading, else its name."""
    title = " ".join(parsed.title.split())
    if title and not _PLACEHOLDER_TITLE.match(title):
        return title
    if parsed.markdown:
        m = _HEADING.search(parsed.sections[0].text if parsed.sections else "")
        if m and len(m[1]) <= 120:
            return re.sub(r"[*_`]+", "", m[1]).strip()
    stem = Path(rel).stem
    return stem.replace("-", " ").replace("_", " ").strip() or stem
