"""Template inputs: one dataclass per page, so what a template may use is written down."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from index.filters import ChunkFilter
from index.settings import ProfileSettings
from search.answers import Answer
from search.asking import ROUTING_NOTE, AskSuggestion
from search.documents import DocumentView
from search.expertise import AT_RISK_MIN_DOCUMENTS, TopicCoverage
from search.experts import NOBODY
from search.feedback_report import FeedbackReport
from search.gaps import GapReport
from search.mentors import Mentor, PersonLearning
from search.profiles import PersonProfile
from search.recognition import RecognitionReport
from search.rephrase import NoResultHelp
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
    help: NoResultHelp | None = None  # when nothing was found
    csrf: str = ""  # the token the page's votes and opens are sent with
    nobody: str = NOBODY  # said when nobody has a receipt on the query
    ask: list[AskSuggestion] = field(default_factory=list)  # whom to ask: the experts, fairly routed
    routing_note: str = ROUTING_NOTE

    @property
    def title(self) -> str:
        return f"{self.query} · whoknows" if self.query else "whoknows"

    def value(self, name: str) -> str:
        """The current value of a filter field, for the form (first one if repeated)."""
        values = self.filters.describe().get(name, [])
        return values[0] if values else ""

    def link(self, page: int = 1, **extra: str) -> str:
        """/search URL for this query and filters, on ``page``, with ``extra`` filters added
        (``since``/``until`` replace the current ones: a date range has one start and end)."""
        single = {"since", "until"}
        params = [("q", self.query)]
        params += [(k, v) for k, vs in self.filters.describe().items() for v in vs
                   if not (k in single and k in extra)]
        params += [(k, v) for k, v in extra.items() if (k, v) not in params]
        if page > 1:
            params.append(("page", str(page)))
        return "/search?" + urlencode(params)

    def facet_link(self, facet: str, value: str) -> str:
        """The link a facet value leads to; a year is a date range."""
        if facet == "year":
            return self.link(since=f"{value}-01-01", until=f"{value}-12-31")
        return self.link(1, **{facet: value})

    def active(self) -> list[tuple[str, str, str]]:
        """(field, value, link without it) for each filter in force, for removable chips."""
        out = []
        for name, values in self.filters.describe().items():
            for v in values:
                rest = [(k, x) for k, xs in self.filters.describe().items() for x in xs if (k, x) != (name, v)]
                out.append((name, v, "/search?" + urlencode([("q", self.query), *rest])))
        return out

    @property
    def unfiltered(self) -> str:
        return "/search?" + urlencode([("q", self.query)])

    def doc_link(self, doc_id: str, chunk_id: int | None = None) -> str:
        """The document page for a hit, with the query (to mark its passages) and the passage."""
        link = f"/doc/{quote(doc_id)}" + (f"?{urlencode([('q', self.query)])}" if self.query else "")
        return link + (f"#c{chunk_id}" if chunk_id is not None else "")


@dataclass
class StatusPage:
    status: IndexStatus
    title: str = "Index status · whoknows"
    csrf: str = ""  # the re-index form's token
    notice: str = ""
    feedback: FeedbackReport | None = None  # None: feedback is switched off


@dataclass
class PersonPage:
    person: PersonProfile
    profile: ProfileSettings | None = None  # their own [people.<who>] entry
    learning: PersonLearning | None = None  # how they helped others learn; others who teach their topic

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
    csrf: str = ""  # the token the page's votes are sent with
    nobody: str = NOBODY  # said when nobody has a receipt on the question
    routing_note: str = ROUTING_NOTE

    @property
    def title(self) -> str:
        return f"{self.query} · ask whoknows" if self.query else "Ask · whoknows"


@dataclass
class GapsPage:
    gaps: list[GapReport]
    title: str = "Knowledge gaps · whoknows"
    routing_note: str = ROUTING_NOTE


@dataclass
class TopicsPage:
    topics: list[TopicCoverage]
    title: str = "Who knows what · whoknows"
    at_risk_min_documents: int = AT_RISK_MIN_DOCUMENTS

    @property
    def at_risk(self) -> list[TopicCoverage]:
        return [t for t in self.topics if t.at_risk]


@dataclass
class TopicPage:
    topic: str
    coverage: TopicCoverage | None  # None: not a document tag (a phrase)
    mentors: list[Mentor] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.topic} · whoknows"


@dataclass
class DocumentPage:
    doc: DocumentView
    query: str = ""

    @property
    def title(self) -> str:
        return f"{self.doc.title} · whoknows"


@dataclass
class RecognitionPage:
    report: RecognitionReport | None  # None: the period asked for could not be read (``error``)
    error: str = ""
    since: str = ""  # the form's values when there is no report
    until: str = ""
    topic: str = ""
    title: str = "Recognition · whoknows"
    receipts: int = 3  # shown per person

    def __post_init__(self) -> None:
        if self.report is not None:
            self.since, self.until = self.report.period.since.isoformat(), self.report.period.until.isoformat()
            self.topic = self.report.topic

    def link(self, path: str = "/recognition", shift: int = 0) -> str:
        """``path`` for this period (``shift`` periods later, or earlier when negative) and topic."""
        if self.report is None:
            return path
        p = self.report.period.earlier(-shift) if shift else self.report.period
        params = [("since", p.since.isoformat()), ("until", p.until.isoformat())]
        return f"{path}?" + urlencode(params + ([("topic", self.topic)] if self.topic else []))
