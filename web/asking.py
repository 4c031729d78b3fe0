"""Asking people: the record of whom a viewer asked (fair routing's loads and weekly caps)
and the mentors for a topic."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from search.asking import AskRouter

from .auth import Authenticator
from .deps import SearcherDep, ViewerDep

router = APIRouter()


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
