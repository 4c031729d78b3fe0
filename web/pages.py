"""Template inputs: one dataclass per page, so what a template may use is written down."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from index.filters import ChunkFilter
from search.answers import Answer
from search.gaps import GapReport
from search.profiles import PersonProfile
from search.results import SearchResults
from search.status import IndexStatus


@dataclass
class SearchPage:
    query: str = ""
    results: SearchResults | None = None
    error: str = ""
    doc_count: int = 0
    sources: list[str] = field(default_factory=list)
    filters: ChunkFilter = field(default_factory=ChunkFilter)
    like: str = ""  # "more like this" document id

    @property
    def title(self) -> str:
        return f"{self.query} · whoknows" if self.query else "whoknows"

    def value(self, name: str) -> str:
        """The current value of a filter field, for the form (first one if repeated)."""
        values = self.filters.describe().get(name, [])
        return values[0] if values else ""

    def link(self, page: int = 1, **extra: str) -> str:
        """/search URL for this query and filters, on ``page``, with ``extra`` filters added."""
        params = [("q", self.query)]
        params += [(k, v) for k, vs in self.filters.describe().items() for v in vs]
        params += [(k, v) for k, v in extra.items() if (k, v) not in params]
        if page > 1:
            params.append(("page", str(page)))
        return "/search?" + urlencode(params)


@dataclass
class StatusPage:
    status: IndexStatus
    title: str = "Index status · whoknows"
    csrf: str = ""  # the re-index form's token
    notice: str = ""


@dataclass
class PersonPage:
    person: PersonProfile

    @property
    def title(self) -> str:
        return f"{self.person.name} · whoknows"


@dataclass
class BookmarkletPage:
    code: str  # the javascript: URL


@dataclass
class AskPage:
    query: str = ""
    answer: Answer | None = None
    streaming: bool = False  # an LLM is configured: the page streams its answer

    @property
    def title(self) -> str:
        return f"{self.query} · ask whoknows" if self.query else "Ask · whoknows"


@dataclass
class GapsPage:
    gaps: list[GapReport]
    title: str = "Knowledge gaps · whoknows"
