"""What kind of source a path is, and what is in it: the first step of `whoknows init`.

Each kind has one detector: a function that looks at a path and returns a ``Detected`` (the
``[[sources]]`` table to write and a one-line summary such as "git wiki, 883 pages, 441
authors") or ``None``. Detectors only count: they read the files' markup line by line and
never parse a page, so a large export is described in seconds. Only kinds in
``SOURCE_KINDS`` are offered, so a kind another change registers (``slack``) is detected once
it exists.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .sources import SOURCE_KINDS
from .sources.files_common import walk_files
from .sources.git_history import run_git
from .sources.markdown import SUFFIXES as MARKDOWN
from .sources.mediawiki import SUFFIXES as MEDIAWIKI
from .sources.mediawiki import open_export

BUNDLE_HEADS = (b"# v2 git bundle", b"# v3 git bundle")
SE_HOSTS = re.compile(r"\b((?:[\w-]+\.)*(?:stackexchange\.com|stackoverflow\.com|serverfault\.com|"
                      r"superuser\.com|askubuntu\.com|mathoverflow\.net))\b", re.I)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_ROW = re.compile(r"<row\s[^>]*>")


@contextmanager
def open_text_lines(path: Path) -> Iterator[io.TextIOWrapper]:
    """A dump's lines as text (``.gz`` and ``.bz2`` too); bad bytes read as U+FFFD."""
    with open_export(path) as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as text:
        yield text


class DetectError(ValueError):
    """The path is missing, or not a source whoknows can read."""


@dataclass
class Detected:
    """One path, recognised: the ``[[sources]]`` table to write and what was found."""

    kind: str
    path: Path  # what ``path`` in the config should name (a bundle inside a folder, say)
    what: str  # "git wiki"
    counts: dict[str, int]  # {"pages": 883, "authors": 441}, in the order they are said
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # written as comments above the table

    def summary(self) -> str:
        return ", ".join([self.what, *(f"{n:,} {word}" for word, n in self.counts.items())])


Detector = Callable[[Path], "Detected | None"]


def detect(path: Path) -> Detected:
    """The first detector that recognises ``path``; DetectError when none does."""
    if not path.exists():
        raise DetectError(f"{path}: no such file or folder")
    for kind, detector in DETECTORS.items():
        if kind in SOURCE_KINDS:
            found = detector(path)
            if found is not None:
                return found
    raise DetectError(f"{path}: not a source whoknows can read (a git repository or bundle, a "
                      "MediaWiki XML export, a Stack Exchange dump folder, Discourse topic JSON, "
                      "or a folder of documents)")


# --- git ---------------------------------------------------------------------------------

def _bundle(path: Path) -> Path | None:
    if path.is_dir():
        bundles = sorted(path.glob("*.bundle"))
        return bundles[0] if len(bundles) == 1 and not (path / ".git").exists() else None
    try:
        with path.open("rb") as f:
            return path if f.read(16).startswith(BUNDLE_HEADS) else None
    except OSError:
        return None


def _bare(path: Path) -> bool:
    return path.is_dir() and (path / "HEAD").is_file() and (path / "objects").is_dir()


def is_git_repo(path: Path) -> bool:
    """A working copy, a bare repository or a bundle file: what a ``git`` source's path may be."""
    return (path.is_file() and _bundle(path) is not None) or (
        path.is_dir() and ((path / ".git").exists() or _bare(path)))


def detect_git(path: Path) -> Detected | None:
    bundle = _bundle(path)
    if bundle is None and not (path.is_dir() and ((path / ".git").exists() or _bare(path))):
        return None
    with tempfile.TemporaryDirectory(prefix="whoknows-init-") as tmp:
        repo = path
        if bundle is not None:  # a bundle's history can only be read from a clone
            run_git(Path(tmp), "clone", "--quiet", "--bare", "--", str(bundle.resolve()), "repo")
            repo = Path(tmp) / "repo"
        names = run_git(repo, "ls-tree", "-r", "-z", "--name-only", "HEAD").decode("utf-8", "replace")
        pages = [n for n in names.split("\0") if n.lower().endswith(MARKDOWN)]
        subdir = _common_folder(pages)
        log = run_git(repo, "log", "--format=%aN%x09%aE", "HEAD", "--", subdir or ".")
    authors = {line.split("\t")[-1].lower(): line.split("\t")[0]
               for line in log.decode("utf-8", "replace").splitlines() if line.strip()}
    bots = sorted({name for name in authors.values() if name.lower().endswith("[bot]")})
    found = Detected("git", bundle or path, "git wiki", {"pages": len(pages), "authors": len(authors)})
    if subdir:
        found.options["subdir"] = subdir
        found.notes.append(f"every page is under {subdir}/: ids and links are relative to it")
    if bots:
        found.options["ignore_authors"] = bots
    if not pages:
        found.notes.append("no Markdown (.md) page at HEAD: nothing will be indexed")
    return found


def _common_folder(pages: list[str]) -> str:
    """The one top-level folder holding every page, if there is one (a handbook's content/)."""
    tops = {PurePosixPath(p).parts[0] if len(PurePosixPath(p).parts) > 1 else "" for p in pages}
    return tops.pop() if len(tops) == 1 and "" not in tops else ""


# --- MediaWiki ---------------------------------------------------------------------------

def _exports(path: Path) -> list[Path]:
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    return [p for p in files if p.name.lower().endswith(MEDIAWIKI) and _head(p).find("<mediawiki") >= 0]


def _head(path: Path) -> str:
    try:
        with open_text_lines(path) as text:
            return text.read(4096)
    except (OSError, EOFError, ValueError):  # a broken .gz or .bz2 is not an export we can read
        return ""


_WIKI_TAGS = re.compile(r"<page>|</page>|<ns>([^<]*)</ns>|<redirect|<revision|<username>([^<]*)</username>")


def detect_mediawiki(path: Path) -> Detected | None:
    if path.is_dir() and (path / "Posts.xml").exists():
        return None
    exports = _exports(path)
    if not exports:
        return None
    pages = revisions = 0
    editors: set[str] = set()
    for export in exports:
        ns, redirect = "0", False
        with open_text_lines(export) as lines:
            for line in lines:  # tags by regex: an export need not be one tag a line
                for m in _WIKI_TAGS.finditer(line):
                    tag = m.group(0)
                    if tag == "<page>":
                        ns, redirect = "0", False
                    elif tag.startswith("<ns>"):
                        ns = m.group(1).strip()
                    elif tag == "<redirect":
                        redirect = True
                    elif tag == "<revision":
                        revisions += 1
                    elif tag.startswith("<username>"):
                        editors.add(m.group(2))
                    elif tag == "</page>" and ns == "0" and not redirect:
                        pages += 1
    found = Detected("mediawiki", exports[0] if len(exports) == 1 and path.is_file() else path,
                     "MediaWiki export", {"pages": pages, "editors": len(editors)})
    if revisions and revisions <= pages + pages // 10:
        found.notes.append("about one revision per page: only each page's last editor is known; "
                           "an export with full history (dumpBackup --full) credits every writer")
    return found


# --- Stack Exchange ------------------------------------------------------------------------

def detect_stackexchange(path: Path) -> Detected | None:
    folder = path.parent if path.is_file() and path.name == "Posts.xml" else path
    posts = folder / "Posts.xml"
    if not posts.is_file():
        return None
    kinds: Counter[str] = Counter()
    people: set[str] = set()
    with open_text_lines(posts) as lines:
        for line in lines:
            for row in _ROW.findall(line):
                attrs = dict(_ATTR.findall(row))
                kinds[attrs.get("PostTypeId", "")] += 1
                if attrs.get("OwnerUserId"):
                    people.add(attrs["OwnerUserId"])
    site, guessed = _se_site(folder)
    found = Detected("stackexchange", folder, "Stack Exchange dump",
                     {"questions": kinds["1"], "answers": kinds["2"], "people who posted": len(people)},
                     options={"site": site})
    if guessed:
        found.notes.append(f"site {site!r} is a guess from the folder's name: links to threads and "
                           "authors use it (CC BY-SA attribution), so check it")
    missing = [n for n in ("Users.xml", "Comments.xml", "PostHistory.xml") if not (folder / n).exists()]
    if "Users.xml" in missing:
        found.notes.append("no Users.xml: authors are named from the dump (user<id>)")
    if "PostHistory.xml" in missing:
        found.notes.append("no PostHistory.xml: a post's editor is its last editor only")
    return found


def _se_site(folder: Path) -> tuple[str, bool]:
    """The site's host, from a text file in the dump (SOURCE.txt, README) or else the folder's name."""
    for note in sorted(folder.glob("*.txt")) + sorted(folder.glob("*.md")):
        try:
            m = SE_HOSTS.search(note.read_text(encoding="utf-8", errors="replace")[:20000])
        except OSError:
            continue
        if m:
            return m.group(1).lower(), False
    name = folder.resolve().name.lower()
    if SE_HOSTS.fullmatch(name):
        return name, False
    name = re.sub(r"[-_]\d{4}$", "", name)  # "coffee-2015": a dated copy of coffee's dump
    if name.endswith("-meta"):
        return f"{name[:-5]}.meta.stackexchange.com", True
    return f"{name}.stackexchange.com", True


# --- Discourse ---------------------------------------------------------------------------

def detect_discourse(path: Path) -> Detected | None:
    if not path.is_dir():
        return None
    topics = 0
    posters: set[str] = set()
    for p in walk_files(path, (".json",)):
        data = _json(p)
        stream = data.get("post_stream") if isinstance(data, dict) else None
        if not isinstance(stream, dict):
            continue
        topics += 1
        posters.update(str(post.get("username")) for post in stream.get("posts", []) if isinstance(post, dict))
    if not topics:
        return None
    found = Detected("discourse", path, "Discourse topics", {"topics": topics, "people who posted": len(posters)})
    found.notes.append("set options.base_url to the forum's address for links to its topics")
    return found


def _json(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            if f.read(1).strip() not in (b"{", b""):
                return None
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


# --- Slack (once the kind is registered) ----------------------------------------------------

def detect_slack(path: Path) -> Detected | None:
    from .sources.slack_export import ExportFileError, SlackExport, looks_like_slack_export

    if not looks_like_slack_export(path):
        return None
    counts: dict[str, int] = {}
    with SlackExport(path, max_bytes=64 << 20) as export:
        for name, word in (("channels.json", "channels"), ("groups.json", "private channels"),
                           ("users.json", "people")):
            try:
                listed = export.read_json(name) if export.has(name) else []
            except ExportFileError:
                listed = []
            if listed or word != "private channels":
                counts[word] = len(listed) if isinstance(listed, list) else 0
    return Detected("slack", path, "Slack export", counts)


# --- BEIR, Markdown and document folders -----------------------------------------------------

def detect_beir(path: Path) -> Detected | None:
    corpus = path / "corpus.jsonl" if path.is_dir() else path
    if corpus.name != "corpus.jsonl" or not corpus.is_file():
        return None
    with corpus.open("rb") as f:
        n = sum(1 for line in f if line.strip())
    return Detected("beir", corpus, "BEIR corpus", {"documents": n})


def _folder_files(path: Path) -> Iterator[Path]:
    return walk_files(path) if path.is_dir() else iter(())


def detect_markdown(path: Path) -> Detected | None:
    files = list(_folder_files(path))
    pages = [p for p in files if p.suffix.lower() in MARKDOWN]
    if not pages or len(pages) < 0.8 * len(files):
        return None
    found = Detected("markdown", path, "folder of Markdown", {"pages": len(pages)})
    found.notes.append("authors come from each page's front matter (author, authors)")
    return found


def detect_files(path: Path) -> Detected | None:
    from .readers import READERS

    files = list(_folder_files(path))
    if not files:
        return None
    by_type = Counter(p.suffix.lower() or "(none)" for p in files)
    known = sum(n for ext, n in by_type.items() if ext in READERS)
    found = Detected("files", path, "folder of documents", {"files": known})
    found.notes.append("types: " + ", ".join(f"{ext.lstrip('.')} {n}" for ext, n in by_type.most_common(8)))
    if known < len(files):
        found.notes.append(f"{len(files) - known} files of other types will be reported, not indexed")
    return found


# the order matters: the most specific shape first, a folder of anything last
DETECTORS: dict[str, Detector] = {
    "git": detect_git,
    "stackexchange": detect_stackexchange,
    "mediawiki": detect_mediawiki,
    "slack": detect_slack,
    "discourse": detect_discourse,
    "beir": detect_beir,
    "markdown": detect_markdown,
    "files": detect_files,
}
