"""Template inputs: one dataclass per page, so what a template may use is written down."""

from __future__ import annotations

from dataclasses import dataclass, field

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

    @property
    def title(self) -> str:
        return f"{self.query} · whoknows" if self.query else "whoknows"


@dataclass
class StatusPage:
    status: IndexStatus
    title: str = "Index status · whoknows"


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
