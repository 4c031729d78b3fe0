"""The document page: a document's text with the passages matching the query marked."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from search.documents import document_view

from .deps import Q, SearcherDep, ViewerDep, templates
from .pages import DocumentPage

router = APIRouter()


@router.get("/doc/{doc_id:path}", response_class=HTMLResponse, summary="A document's page (HTML)")
def document_page(request: Request, s: SearcherDep, viewer: ViewerDep, doc_id: str, q: Q = "") -> Any:
    """The document's text in passages, those closest to `q` marked, its contributors and a
    link to the original. 404 when it does not exist or the viewer may not see it."""
    view = document_view(s.index.get(), s.embedder, doc_id, q, viewer)
    if view is None:
        raise HTTPException(404, "no such document")
    return templates.TemplateResponse(request, "document.html", {"page": DocumentPage(view, q)})
