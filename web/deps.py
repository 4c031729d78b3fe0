"""Typed dependencies shared by the routers: the searcher, the answerer, who is asking."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.templating import Jinja2Templates

from index.filters import ChunkFilter
from index.settings import Settings
from search.answers import Answerer
from search.experts import role_label
from search.permissions import Viewer
from search.searcher import MAX_QUERY_CHARS, Searcher

from .auth import Authenticator
from .security import safe_url

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["safe_url"] = safe_url  # every link that comes from a source goes through it


templates.env.filters["role_label"] = role_label  # "7 accepted answers" on person pages


def get_searcher(request: Request) -> Searcher:
    return request.app.state.searcher  # type: ignore[no-any-return]


def get_answerer(request: Request) -> Answerer:
    return request.app.state.answerer  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_viewer(request: Request) -> Viewer:
    auth: Authenticator = request.app.state.auth
    viewer = auth.viewer(request)
    request.state.viewer = viewer
    return viewer


def get_admin(viewer: Annotated[Viewer, Depends(get_viewer)]) -> Viewer:
    if not viewer.admin:
        raise HTTPException(403, "this page is for administrators")
    return viewer


def get_csrf(request: Request, viewer: Annotated[Viewer, Depends(get_viewer)]) -> str:
    """The page's token for its POSTs (votes, opens), sent back as X-CSRF-Token."""
    auth: Authenticator = request.app.state.auth
    return auth.csrf_token(viewer, request)


SearcherDep = Annotated[Searcher, Depends(get_searcher)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]
AdminDep = Annotated[Viewer, Depends(get_admin)]
CsrfDep = Annotated[str, Depends(get_csrf)]
Q = Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="The query text.")]
Page = Annotated[int, Query(ge=1, le=100, description="Page of results, from 1.")]
K = Annotated[int, Query(ge=1, le=100, description="Results per page.")]
Many = Annotated[list[str] | None, Query(max_length=200)]


Day = Annotated[str, Query(max_length=10, description="A day, YYYY-MM-DD; empty for none.")]


def _day(name: str, value: str) -> date | None:
    """A date from a form field; the search form sends empty fields as ``since=``."""
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(422, f"{name} must be a day like 2024-03-01") from None


def get_filter(viewer: Annotated[Viewer, Depends(get_viewer)], source: Many = None, kind: Many = None,
               author: Many = None, tag: Many = None, since: Day = "", until: Day = "") -> ChunkFilter:
    """Filters from the query string (a list parameter may repeat: any of its values), limited
    to what the viewer may see."""
    return viewer.restrict(ChunkFilter.build(sources=source, kinds=kind, authors=author, tags=tag,
                                             since=_day("since", since), until=_day("until", until)))


FilterDep = Annotated[ChunkFilter, Depends(get_filter)]
