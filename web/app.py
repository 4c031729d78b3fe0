"""FastAPI app factory. Routes parse input, call one function of ``search/``, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from index.embedding import Embedder, load_query_embedder
from index.generations import Home, LiveIndex, NoIndex
from index.settings import Settings
from search.searcher import MAX_QUERY_CHARS, Searcher
from search.status import index_status

from .pages import SearchPage

HERE = Path(__file__).parent


def get_searcher(request: Request) -> Searcher:
    return request.app.state.searcher  # type: ignore[no-any-return]


SearcherDep = Annotated[Searcher, Depends(get_searcher)]
Q = Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="The query text.")]
Page = Annotated[int, Query(ge=1, le=100, description="Page of results, from 1.")]
K = Annotated[int, Query(ge=1, le=100, description="Results per page.")]


def create_app(settings: Settings, embedder: Embedder | None = None) -> FastAPI:
    """Build the app. ``embedder`` is injected by tests; otherwise the configured model loads."""
    app = FastAPI(title="whoknows", summary="Search your organisation's knowledge; find who knows.")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    live = LiveIndex(Home(settings.home))
    searcher = Searcher(live, embedder or load_query_embedder(settings.embedding), settings.search)
    app.state.settings = settings
    app.state.searcher = searcher

    @app.exception_handler(NoIndex)
    async def no_index(request: Request, exc: NoIndex) -> Any:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=503)
        page = SearchPage(error="The index is empty: run `whoknows ingest` first.")
        return templates.TemplateResponse(request, "search.html", {"page": page}, status_code=503)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    @app.get("/search", response_class=HTMLResponse, summary="Search page (HTML)")
    def search_page(request: Request, s: SearcherDep, q: Q = "", page: Page = 1) -> Any:
        results = s.search(q, page=page) if q.strip() else None
        ctx = SearchPage(query=q, results=results,
                         doc_count=s.index.get().store.counts()["documents"])
        return templates.TemplateResponse(request, "search.html", {"page": ctx})

    @app.get("/api/search", summary="Search: one hit per document with its best passage")
    def api_search(s: SearcherDep, q: Q, k: K = 10, page: Page = 1) -> dict[str, Any]:
        return s.search(q, k=k, page=page).to_json()

    @app.get("/api/status", summary="Index counts, sources, failures and the last runs")
    def api_status() -> dict[str, Any]:
        return index_status(settings).to_json()

    @app.get("/healthz", summary="Liveness: 200 when the app is up")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "generation": live.home.current()}

    return app
