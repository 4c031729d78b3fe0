"""Source kinds. A source is an object with ``iter_documents()`` yielding ``Document``s
(with their contributions) and ``Failure``s for items it could not read.

Each kind is one module; ``SOURCE_KINDS`` maps the ``kind`` in ``[[sources]]`` to its factory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from typing import Protocol

from index.models import Document, Failure, Unchanged
from index.settings import Settings, SourceSettings


class Source(Protocol):
    """What every source kind provides.

    Optional, for incremental runs: a ``state`` dict attribute. Before iterating, the pipeline
    sets ``source.state`` to what the source left there after its last successful run (or
    ``{}`` on a full rebuild); the source may then yield ``Unchanged(doc_id)`` for documents it
    knows are as they were, and updates ``state`` for the next run. The state is saved in the
    same transaction as the source's documents, so it never runs ahead of the index.
    """

    name: str

    def iter_documents(self) -> Iterator[Document | Unchanged | Failure]: ...


SourceFactory = Callable[[SourceSettings, Settings], Source]


def _lazy(module: str, cls: str) -> SourceFactory:
    """A factory that imports the kind's module only when a source of that kind is used."""
    def make(cfg: SourceSettings, settings: Settings) -> Source:
        return getattr(import_module(f"{__name__}.{module}"), cls)(cfg, settings)  # type: ignore[no-any-return]
    return make


SOURCE_KINDS: dict[str, SourceFactory] = {
    "markdown": _lazy("markdown", "MarkdownSource"),
    "stackexchange": _lazy("stackexchange", "StackExchangeSource"),
    "discourse": _lazy("discourse", "DiscourseSource"),
    "git": _lazy("git", "GitSource"),
    "mediawiki": _lazy("mediawiki", "MediaWikiSource"),
    "files": _lazy("files", "FilesSource"),
    "beir": _lazy("beir", "BeirSource"),
    "slack": _lazy("slack", "SlackSource"),
    "confluence": _lazy("confluence", "ConfluenceSource"),
}


def make_source(cfg: SourceSettings, settings: Settings) -> Source:
    try:
        factory = SOURCE_KINDS[cfg.kind]
    except KeyError:
        kinds = ", ".join(sorted(SOURCE_KINDS))
        raise ValueError(f"source {cfg.name!r}: unknown kind {cfg.kind!r} (known: {kinds})") from None
    return factory(cfg, settings)
