"""Votes and result opens from the pages and the bookmarklet window: the same sign-in as
searching, and a CSRF token (the page's, sent as X-CSRF-Token) like the admin's POSTs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from search.feedback import Feedback, Refused
from search.permissions import Viewer

from .auth import Authenticator
from .deps import SearcherDep, ViewerDep

router = APIRouter()
QueryText = Annotated[str, Field(min_length=1, max_length=2000)]
ItemId = Annotated[str, Field(min_length=1, max_length=1000)]


class VoteIn(BaseModel):
    kind: Literal["result", "answer", "expert"]
    query: QueryText
    doc_id: ItemId | None = None  # result, answer (the document the answer is drawn from)
    person_id: ItemId | None = None  # expert
    vote: Literal[1, -1]


class OpenIn(BaseModel):
    query: QueryText
    doc_id: ItemId
    rank: int = Field(ge=1, le=10_000)


def sender(request: Request, viewer: ViewerDep) -> tuple[Feedback, Viewer, str]:
    """The feedback store, the viewer and their key, once the CSRF check has passed."""
    feedback: Feedback | None = request.app.state.feedback
    if feedback is None:
        raise HTTPException(404, "feedback is switched off ([feedback] enabled = false)")
    auth: Authenticator = request.app.state.auth
    auth.check_csrf(viewer, request, request.headers.get("x-csrf-token", ""))
    return feedback, viewer, auth.viewer_key(viewer, request)


SenderDep = Annotated[tuple[Feedback, Viewer, str], Depends(sender)]


@router.post("/api/feedback", status_code=204, summary="Vote a result, an answer or an expert up (1) or down (-1)")
def api_feedback(body: VoteIn, s: SearcherDep, who: SenderDep) -> Response:
    """One vote per viewer, item and query: a second replaces the first. 403 for an item the
    viewer may not see; browsers send the page's CSRF token as `X-CSRF-Token`."""
    item = body.person_id if body.kind == "expert" else body.doc_id
    if not item:
        raise HTTPException(422, "an expert vote needs person_id, a result or answer vote doc_id")
    _refusing(lambda: who[0].vote(s, who[1], who[2], body.kind, body.query, item, body.vote))
    return Response(status_code=204)


@router.post("/api/click", status_code=204, summary="A result was opened (the pages' beacon)")
def api_click(body: OpenIn, s: SearcherDep, who: SenderDep) -> Response:
    """Sent by the pages when a result is opened (`fetch` with `keepalive`), with its rank."""
    _refusing(lambda: who[0].click(s, who[1], who[2], body.query, body.doc_id, body.rank))
    return Response(status_code=204)


def _refusing(record: Callable[[], None]) -> None:
    try:
        record()
    except Refused as e:
        raise HTTPException(403, str(e)) from None
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
