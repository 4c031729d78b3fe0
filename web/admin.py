"""Admin actions: re-index now. Admin group only, and never on behalf of another site."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from index.settings import ConfigError
from search.status import index_status

from .auth import Authenticator
from .deps import AdminDep, templates
from .pages import StatusPage

if TYPE_CHECKING:
    from ingest.schedule import Scheduler

router = APIRouter()
BUSY = "A re-index is already running; wait for it to finish."


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form body (the body size is capped by the security middleware)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, max_num_fields=20).items()}


def _sources(request: Request, source: str) -> list[str] | None:
    if not source:
        return None
    try:
        request.app.state.settings.source(source)
    except ConfigError as e:
        raise HTTPException(400, str(e)) from None
    return [source]


def _trigger(request: Request, admin: Any, csrf: str, source: str) -> bool:
    auth: Authenticator = request.app.state.auth
    auth.check_csrf(admin, request, csrf)
    reindexer: Scheduler = request.app.state.reindexer
    return reindexer.trigger(_sources(request, source))


@router.post("/admin/reindex", response_class=HTMLResponse, summary="Re-index now (the status page's button)")
async def reindex_form(request: Request, admin: AdminDep) -> Response:
    form = await form_fields(request)
    if _trigger(request, admin, form.get("csrf", ""), form.get("source", "")):
        return RedirectResponse("/admin?reindex=started", status_code=303)
    auth: Authenticator = request.app.state.auth
    page = StatusPage(index_status(request.app.state.settings), csrf=auth.csrf_token(admin, request),
                      notice=BUSY)
    return templates.TemplateResponse(request, "status.html", {"page": page}, status_code=409)


@router.post("/api/reindex", status_code=202,
             summary="Re-index now: 202 when started, 409 when a run is already going")
def api_reindex(request: Request, admin: AdminDep, source: Annotated[str, Query(max_length=200)] = ""
                ) -> JSONResponse:
    # token mode with a Bearer header needs no CSRF token; browsers' requests send X-CSRF-Token
    if not _trigger(request, admin, request.headers.get("x-csrf-token", ""), source):
        return JSONResponse({"started": False, "detail": BUSY}, status_code=409)
    return JSONResponse({"started": True, "source": source or None}, status_code=202)
