"""Asking people: the record of whom a viewer asked (fair routing's loads and weekly caps)
and the mentors for a topic."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from search.asking import AskRouter
from search.mentors import MentorFinder, for_topic

from .auth import Authenticator
from .deps import Q, SearcherDep, ViewerDep

router = APIRouter()
TopicQ = Annotated[str, Query(max_length=200, description="A topic: a document tag, or a phrase.")]


class AskedIn(BaseModel):
    query: Annotated[str, Field(min_length=1, max_length=2000)]
    person_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(min_length=1, max_length=10)]


@router.post("/api/asked", summary="The viewer followed an 'ask' link: count the question as routed to them")
def api_asked(body: AskedIn, request: Request, s: SearcherDep, viewer: ViewerDep) -> JSONResponse:
    """Sent by the pages when an "ask" link (or "Ask them") is followed, with the page's CSRF
    token as `X-CSRF-Token`; the count feeds fair routing's loads and weekly caps. 422 for a
    person whoknows would not suggest (unknown, or not taking questions)."""
    auth: Authenticator = request.app.state.auth
    auth.check_csrf(viewer, request, request.headers.get("x-csrf-token", ""))
    asker: AskRouter = request.app.state.asker
    try:
        added = asker.record(s.index.get().store, body.person_ids, body.query, auth.viewer_key(viewer, request))
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    return JSONResponse({"recorded": added})


@router.get("/api/mentors", summary="Mentors: people who know a topic and have shown they teach it, with receipts")
def api_mentors(request: Request, viewer: ViewerDep, topic: TopicQ = "", q: Q = "",
                k: Annotated[int, Query(ge=1, le=20)] = 5) -> dict[str, Any]:
    """`topic` (a document tag, or a phrase) or `q` (a query): people the expert model finds for
    it who answered others' questions, wrote pages others built on or gave accepted answers to
    newcomers, counted only in documents the viewer may see. People not taking questions and
    people on the consent list never appear."""
    if not (topic.strip() or q.strip()):
        raise HTTPException(422, "give topic= or q=")
    finder: MentorFinder = request.app.state.mentors
    found = for_topic(finder, topic.strip(), viewer, k) if topic.strip() else finder.find(q, viewer, k)
    return {"topic": topic, "query": q, "mentors": [m.to_json() for m in found]}
