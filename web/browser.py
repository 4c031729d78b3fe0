"""Browser integration: the bookmarklet and its popup, OpenSearch and title suggestions."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from search.suggest import suggest_titles

from .deps import CsrfDep, Q, SearcherDep, SettingsDep, ViewerDep, templates
from .pages import BookmarkletPage, SearchPage

router = APIRouter()


def base_url(request: Request, configured: str) -> str:
    return (configured or str(request.base_url)).rstrip("/")


def bookmarklet_code(base: str) -> str:
    """Opens a small window on whoknows' own origin with the selection (or the page title).

    Nothing of whoknows runs in the host page, so its Content-Security-Policy cannot block
    the results and the page cannot read them. ``base`` (from the Host header when no base_url
    is configured) goes in as a JSON string literal, '%' escaped since browsers URL-decode a
    javascript: link before running it.
    """
    popup = json.dumps(f"{base}/popup?q=").replace("%", "%25")
    return (
        "javascript:(function(){var s=String(window.getSelection?window.getSelection():'').trim();"
        "if(!s){s=document.title||''}"
        f"window.open({popup}+encodeURIComponent(s.slice(0,500)),'whoknows',"
        "'popup,width=540,height=720');})();"
    )


@router.get("/bookmarklet", response_class=HTMLResponse, summary="The bookmarklet, with instructions")
def bookmarklet_page(request: Request, settings: SettingsDep) -> Any:
    """A link to drag to the bookmarks bar: on any page it opens whoknows in a small window with
    the selected text (or the page title). Links use `[web] base_url` when set."""
    code = bookmarklet_code(base_url(request, settings.web.base_url))
    return templates.TemplateResponse(request, "bookmarklet.html", {"page": BookmarkletPage(code)})


@router.get("/popup", response_class=HTMLResponse, summary="Compact results and people for the bookmarklet")
def popup(request: Request, s: SearcherDep, viewer: ViewerDep, csrf: CsrfDep, q: Q = "") -> Any:
    """The bookmarklet's window: the query (editable), the people who know and the top results."""
    results = s.search(q, k=5, with_experts=True, viewer=viewer) if q.strip() else None
    ask = request.app.state.asker.whom_to_ask(s.index.get().store, results.experts, q, viewer) if results else []
    page = SearchPage(query=q, results=results, csrf=csrf, ask=ask)
    return templates.TemplateResponse(request, "popup.html", {"page": page})


@router.get("/favicon.ico", include_in_schema=False)
def favicon(request: Request) -> RedirectResponse:
    """Browsers ask for /favicon.ico when a response names no icon (JSON, an error): the same icon."""
    return RedirectResponse(str(request.url_for("static", path="icon.svg")), status_code=301)


@router.get("/opensearch.xml", summary="OpenSearch description: add whoknows as a browser search engine")
def opensearch(request: Request, settings: SettingsDep) -> Response:
    """Lets browsers add whoknows as a search engine, with title suggestions; linked from every page."""
    base = base_url(request, settings.web.base_url)
    xml = templates.get_template("opensearch.xml").render(base=base)
    return Response(xml, media_type="application/opensearchdescription+xml")


@router.get("/api/suggest", summary="Title suggestions in the OpenSearch format: [query, [titles]]")
def suggest(s: SearcherDep, viewer: ViewerDep, q: Q = "") -> JSONResponse:
    """Titles of documents the viewer may see that contain `q`, prefix matches first (at most 8)."""
    titles = suggest_titles(s.index.get().store, q, viewer)
    return JSONResponse([q, titles], media_type="application/x-suggestions+json")
