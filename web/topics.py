"""Who knows what: every topic with the people who know most about it, and the topics that
rest on one person (for whoever looks after the organisation's knowledge)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from search.expertise import TopicCoverage, TopicMap
from search.mentors import for_topic

from .deps import SearcherDep, ViewerDep, templates
from .pages import TopicPage, TopicsPage

router = APIRouter()
Limit = Annotated[int, Query(ge=1, le=2000, description="at most this many topics, most documents first")]


def _topics(request: Request, s: SearcherDep, viewer: ViewerDep, limit: int) -> list[TopicCoverage]:
    topic_map: TopicMap = request.app.state.topics
    return topic_map.topics(s.index.get(), viewer)[:limit]


@router.get("/api/topics", summary="Topics (document tags) with who knows them and their bus factor")
def api_topics(request: Request, s: SearcherDep, viewer: ViewerDep, limit: Limit = 200) -> dict[str, Any]:
    """Each topic of the documents the viewer may see: documents, contributors, the bus factor
    (fewest people who made more than half of its answers and pages) and the people who know most."""
    return {"topics": [t.to_json() for t in _topics(request, s, viewer, limit)]}


@router.get("/topics", response_class=HTMLResponse, summary="Who knows what (HTML)")
def topics_page(request: Request, s: SearcherDep, viewer: ViewerDep, limit: Limit = 200) -> Any:
    """The same as a page: the topics that rest on one person first, then every topic with
    its documents, contributors, bus factor and the people who know most about it."""
    return templates.TemplateResponse(request, "topics.html", {"page": TopicsPage(_topics(request, s, viewer, limit))})


@router.get("/topics/{topic:path}", response_class=HTMLResponse, summary="One topic with whom to learn it from (HTML)")
def topic_page(request: Request, s: SearcherDep, viewer: ViewerDep, topic: str) -> Any:
    """A topic's documents, contributors, bus factor and who knows most, and the "learn this
    from" box: its mentors (`/api/mentors?topic=`)."""
    coverage = next((t for t in _topics(request, s, viewer, 2000) if t.topic == topic.lower()), None)
    page = TopicPage(topic, coverage, for_topic(request.app.state.mentors, topic, viewer))
    return templates.TemplateResponse(request, "topic.html", {"page": page})
