"""API documentation at ``/docs``: Swagger UI served from the ``swagger-ui-bundle-v2`` package,
so it works offline and under the page's Content-Security-Policy (no CDN, no inline script).

Every operation gets a description: its docstring, else the entry in ``DESCRIPTIONS`` (for
the routes defined in ``app.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from .deps import templates

ASSETS = "/swagger-ui"

DESCRIPTIONS = {
    "/search": "The search page: results grouped per document with highlighted snippets, facets "
               "with counts, paging and the people who know. Takes the same filters as `/api/search`; "
               "`like=<doc id>` shows documents similar to one.",
    "/api/search": "Hybrid (keyword + meaning) search. One hit per document with its best passage, "
                   "facet counts (source, kind, author, year) over the ranked documents, and experts "
                   "with receipts (`experts=false` leaves them out: faster). Filters repeat for alternatives: "
                   "`source=a&source=b`. When nothing "
                   "is found the reply has `help`: rephrasings and the people who know, without filters.",
    "/api/similar": "Documents whose passages are closest in meaning to a document's (\"more like this\").",
    "/api/experts": "People who know about a query, ranked from what they wrote, answered or edited, "
                    "each with the documents that show it. Takes the same filters as `/api/search`.",
    "/api/people/{person_id}": "A person's profile: contributions per role and source, topics, the "
                               "documents they contribute most to and their recent contributions.",
    "/people/{person_id}": "A person's page (HTML): topics, top documents, recent contributions and "
                           "how whoknows inferred them.",
    "/api/status": "Index status for administrators: counts, sources, failures, runs and the schedule.",
    "/ask": "The ask page (HTML): an answer quoted or written from the passages, with citations, "
            "\"asked before\" and who to ask.",
    "/api/ask": "Answer a question with citations; when not confident, the people most likely to know.",
    "/api/ask/stream": "The answer as server-sent events: `token` events while a configured model writes, "
                       "then one `answer` event with the checked answer.",
    "/api/gaps": "Knowledge gaps for administrators: queries that found nothing or got no confident "
                 "answer, most frequent first, with who could answer them.",
    "/admin/gaps": "The knowledge gaps page (HTML) for administrators.",
    "/admin": "The index status page (HTML) for administrators.",
    "/healthz": "Liveness: 200 and the current index generation while the app is up.",
}


def install(app: FastAPI) -> None:
    """Serve Swagger UI's files locally and add ``/docs``; describe every operation."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs(request: Request) -> Any:
        return templates.TemplateResponse(request, "apidocs.html", {"assets": ASSETS, "openapi": app.openapi_url})

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:  # routes added after install() are described too
            describe(app)
        return build()

    app.openapi = openapi  # type: ignore[method-assign]


def describe(app: FastAPI) -> None:
    for route in app.routes:
        if isinstance(route, APIRoute) and route.include_in_schema and not route.description:
            route.description = DESCRIPTIONS.get(route.path, "")
