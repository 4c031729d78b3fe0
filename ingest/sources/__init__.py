"""Source kinds. A source is an object with ``iter_documents()`` yielding ``Document``s
(with their contributions) and ``Failure``s for items it could not read.

Each kind is one module; ``SOURCE_KINDS`` maps the ``kind`` in ``[[sources]]`` to its factory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


def _markdown(cfg: SourceSettings, settings: Settings) -> Source:
    from .markdown import MarkdownSource

    return MarkdownSource(cfg, settings)


def _stackexchange(cfg: SourceSettings, settings: Settings) -> Source:
    from .stackexchange import StackExchangeSource

    return StackExchangeSource(cfg, settings)


def _discourse(cfg: SourceSettings, settings: Settings) -> Source:
    from .discourse import DiscourseSource

    return DiscourseSource(cfg, settings)


def _git(cfg: SourceSettings, settings: Settings) -> Source:
    from .git import GitSource

    return GitSource(cfg, settings)


def _mediawiki(cfg: SourceSettings, settings: Settings) -> Source:
    from .mediawiki import MediaWikiSource

    return MediaWikiSource(cfg, settings)


def _files(cfg: SourceSettings, settings: Settings) -> Source:
    from .files import FilesSource

    return FilesSource(cfg, settings)


SOURCE_KINDS: dict[str, SourceFactory] = {
    "markdown": _markdown,
    "stackexchange": _stackexchange,
    "discourse": _discourse,
    "git": _git,
    "mediawiki": _mediawiki,
    "files": _files,
}


def make_source(cfg: SourceSettings, settings: Settings) -> Source:
    try:
        factory = SOURCE_KINDS[cfg.kind]
    except KeyError:
        kinds = ", ".join(sorted(SOURCE_KINDS))
        raise ValueError(f"source {cfg.name!r}: unknown kind {cfg.kind!r} (known: {kinds})") from None
    return factory(cfg, settings)
