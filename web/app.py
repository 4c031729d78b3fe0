"""FastAPI app factory. Routes parse input, call one function of ``search/``, render."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

from anyio import CapacityLimiter
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from index.embedding import Embedder, load_query_embedder
from index.feedback import FeedbackLog
from index.filters import ChunkFilter
from index.gaps import NO_EXPERT, NO_RESULTS, GapLog
from index.routed import RoutedLog
from index.generations import Home, LiveIndex, NoIndex
from index.settings import Settings
from search.answers import Answerer
from search.asking import ROUTING_NOTE, AskRouter, Profiles, profile_json
from search.expertise import TopicMap
from search.experts import ExpertFinder, abstention
from search.feedback import Feedback
from search.feedback_report import feedback_report
from search.gaps import gap_report
from search.llm import ChatClient
from search.mentors import MentorFinder, person_learning
from search.permissions import Viewer
from search.profiles import person_profile
from search.recognition import Recognition
from search.rephrase import no_result_help
from search.results import SearchResults
from search.searcher import Searcher
from search.status import index_status

from . import admin as admin_actions
from . import apidocs, asking, browser, document, feedback, login, recognition, topics
from .auth import Authenticator
from .deps import HERE, AdminDep, AnswererDep, CsrfDep, FilterDep, K, Page, Q, SearcherDep, ViewerDep, templates
from .pages import AskPage, GapsPage, PersonPage, SearchPage, StatusPage
from .security import SecurityHeaders

if TYPE_CHECKING:
    from ingest.schedule import Scheduler

def create_app(settings: Settings, embedder: Embedder | None = None,
               scheduler: Scheduler | None = None) -> FastAPI:
    """Build the app. ``embedder`` is injected by tests; otherwise the configured model loads.

    ``scheduler``, when given, runs scheduled re-indexing while the app is up.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if scheduler:
            scheduler.start()
        yield
        if scheduler:
            scheduler.stop()
        live.close()

    app = FastAPI(title="whoknows", summary="Search your organisation's knowledge; find who knows.",
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    live = LiveIndex(Home(settings.home))
    searcher = Searcher(live, embedder or load_query_embedder(settings.embedding), settings.search,
                        ExpertFinder(settings.experts, settings.people))
    gaps = GapLog(Home(settings.home).path / "state.sqlite")
    app.state.feedback = votes = _feedback(settings, searcher)
    llm = ChatClient(settings.llm) if settings.llm.base_url else None
    app.state.settings = settings
    app.state.auth = Authenticator(settings.auth, Home(settings.home).path, settings.web.base_url)
    app.state.reindexer = scheduler or _reindexer(settings)
    app.state.searcher = searcher
    app.state.topics = TopicMap(searcher.expert_finder.excluded if searcher.expert_finder else None)
    app.state.asker = asker = AskRouter(settings.routing, Profiles(settings.profiles, settings.people),
                                        RoutedLog(Home(settings.home).path / "state.sqlite"))
    app.state.answerer = Answerer(searcher, settings.answers, gaps, llm, asker)
    app.state.mentors = mentors = MentorFinder(searcher, asker.profiles)
    app.state.recognition = Recognition(settings.recognition, FeedbackLog(Home(settings.home).path / "state.sqlite"),
                                        searcher.expert_finder.excluded if searcher.expert_finder else None)

    app.include_router(browser.router)
    app.include_router(admin_actions.router)
    app.include_router(login.router)
    app.include_router(feedback.router)
    app.add_exception_handler(HTTPException, login.sign_in_on_401)
    app.include_router(document.router)
    app.include_router(topics.router)
    app.include_router(asking.router)
    app.include_router(recognition.router)
    apidocs.install(app)

    @app.exception_handler(NoIndex)
    async def no_index(request: Request, exc: NoIndex) -> Any:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=503)
        page = SearchPage(error="The index is empty: run `whoknows ingest` first.")
        return templates.TemplateResponse(request, "search.html", {"page": page}, status_code=503)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    @app.get("/search", response_class=HTMLResponse, summary="Search page (HTML)")
    def search_page(request: Request, s: SearcherDep, viewer: ViewerDep, flt: FilterDep, csrf: CsrfDep, q: Q = "",
                    page: Page = 1, like: Annotated[str, Query(max_length=1000)] = "") -> Any:
        results: SearchResults | None = None
        if like:
            results = s.similar(like, flt=flt, viewer=viewer)
        elif q.strip():
            results = s.search(q, page=page, with_experts=True, flt=flt, viewer=viewer)
        if results is not None and not like and page == 1 and flt.is_empty and (
                not results.hits or results.abstained):
            gaps.record(q, NO_EXPERT if results.hits else NO_RESULTS)
        help_ = no_result_help(s, q, viewer) if results is not None and not results.hits and not like else None
        ctx = SearchPage(query=q, results=results, filters=flt, like=like, help=help_,
                         doc_count=s.index.get().store.count_visible(viewer.restrict().groups), csrf=csrf,
                         ask=asker.whom_to_ask(s.index.get().store, results.experts, q, viewer) if results else [])
        return templates.TemplateResponse(request, "search.html", {"page": ctx})

    # one search per core at a time; a search whose client went away while it waited (the
    # page aborts the previous keystroke's request) is dropped instead of delaying the next
    search_slots = CapacityLimiter(max(1, os.cpu_count() or 1))

    async def json_in_a_slot(request: Request, work: Callable[..., dict[str, Any]], *args: Any) -> Response:
        async with search_slots:
            if await request.is_disconnected():
                return Response(status_code=499)
            # a JSONResponse skips FastAPI's jsonable_encoder: ~2 ms of a ~30 ms search on the sample
            return JSONResponse(await run_in_threadpool(work, *args))

    @app.get("/api/search", summary="Search: one hit per document with its best passage")
    async def api_search(request: Request, s: SearcherDep, viewer: ViewerDep, flt: FilterDep, q: Q, k: K = 10,
                         page: Page = 1,
                         experts: Annotated[bool, Query(description="Include the experts (false: faster, as the "
                                                        "page does while you type, then asks /api/experts)")] = True,
                         ) -> Any:
        return await json_in_a_slot(request, _search_json, s, q, k, page, experts, flt, viewer)

    @app.get("/api/similar", summary="More like this: documents closest to a document")
    def api_similar(s: SearcherDep, viewer: ViewerDep, flt: FilterDep,
                    doc_id: Annotated[str, Query(max_length=1000)], k: K = 10) -> dict[str, Any]:
        return s.similar(doc_id, k=k, flt=flt, viewer=viewer).to_json()

    @app.get("/api/experts", summary="People who know about a query, with receipts")
    async def api_experts(request: Request, s: SearcherDep, viewer: ViewerDep, flt: FilterDep, q: Q,
                          k: Annotated[int, Query(ge=1, le=50)] = 5) -> Any:
        return await json_in_a_slot(request, _experts_json, s, q, k, flt, viewer, asker)

    @app.get("/api/people/{person_id}", summary="A person: topics, contributions, sources")
    def api_person(s: SearcherDep, viewer: ViewerDep, person_id: str) -> dict[str, Any]:
        prof = person_profile(s.index.get().store, person_id, viewer)
        if prof is None:
            raise HTTPException(404, "no such person")
        return {**prof.to_json(), "profile": profile_json(asker.profiles.of(s.index.get().store, person_id))}

    @app.get("/people/{person_id}", response_class=HTMLResponse, summary="A person's page (HTML)")
    def person_page(request: Request, s: SearcherDep, viewer: ViewerDep, person_id: str) -> Any:
        prof = person_profile(s.index.get().store, person_id, viewer)
        if prof is None:
            raise HTTPException(404, "no such person")
        topics = [t for t, _ in prof.topics] or [d.title for d in prof.top_documents]
        page = PersonPage(prof, asker.profiles.of(s.index.get().store, person_id),
                          person_learning(mentors, person_id, topics, viewer))
        return templates.TemplateResponse(request, "person.html", {"page": page})

    @app.get("/api/status", summary="Index counts, sources, failures and the last runs")
    def api_status(admin: AdminDep) -> dict[str, Any]:
        return index_status(settings).to_json()

    @app.get("/ask", response_class=HTMLResponse, summary="Ask page: an answer with citations (HTML)")
    def ask_page(request: Request, a: AnswererDep, viewer: ViewerDep, csrf: CsrfDep, q: Q = "") -> Any:
        answer = a.ask(q, viewer) if q.strip() else None
        ctx = AskPage(query=q, answer=answer, streaming=llm is not None, csrf=csrf)
        return templates.TemplateResponse(request, "ask.html", {"page": ctx})

    @app.get("/api/ask", summary="Answer a question with citations, 'asked before' and who to ask")
    def api_ask(a: AnswererDep, viewer: ViewerDep, q: Q) -> dict[str, Any]:
        return a.ask(q, viewer).to_json()

    @app.get("/api/ask/stream", summary="The answer as server-sent events: token events, then the answer")
    def api_ask_stream(a: AnswererDep, viewer: ViewerDep, q: Q) -> StreamingResponse:
        def events() -> Any:
            for kind, value in a.ask_stream(q, viewer):
                data = value if kind == "token" else value.to_json()
                yield f"event: {kind}\ndata: {json.dumps(data)}\n\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/api/gaps", summary="Knowledge gaps: unanswered queries with who could answer them")
    def api_gaps(s: SearcherDep, admin: AdminDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
                 ) -> dict[str, Any]:
        return {"gaps": [g.to_json() for g in gap_report(gaps, s, limit, viewer=admin, router=asker)]}

    @app.get("/admin/gaps", response_class=HTMLResponse, summary="Knowledge gaps page (HTML)")
    def gaps_page(request: Request, s: SearcherDep, admin: AdminDep) -> Any:
        report = gap_report(gaps, s, viewer=admin, router=asker)
        return templates.TemplateResponse(request, "gaps.html", {"page": GapsPage(report)})

    @app.get("/admin", response_class=HTMLResponse, summary="Index status page (HTML)")
    def admin_page(request: Request, s: SearcherDep, admin: AdminDep,
                   reindex: Annotated[str, Query(max_length=20)] = "") -> Any:
        page = StatusPage(index_status(settings), csrf=app.state.auth.csrf_token(admin, request),
                          notice="Re-index started." if reindex == "started" else "",
                          feedback=feedback_report(votes.log, s.index, admin) if votes else None)
        return templates.TemplateResponse(request, "status.html", {"page": page})

    @app.get("/healthz", summary="Liveness: 200 when the app is up")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "generation": live.home.current()}

    return app


def _feedback(settings: Settings, searcher: Searcher) -> Feedback | None:
    """Votes and opens, attached to the searcher's ranking (None when switched off)."""
    if not settings.feedback.enabled:
        return None
    log = FeedbackLog(Home(settings.home).path / "state.sqlite", settings.feedback.retention_days)
    log.prune()
    found = Feedback(log, settings.feedback, searcher.embedder.model_id, searcher.embedder.dim)
    searcher.attach_feedback(found)
    return found


def _reindexer(settings: Settings) -> Scheduler:
    """Runs re-indexing on request (the admin page's button) when no scheduler was given."""
    from ingest.schedule import Scheduler

    return Scheduler(settings)


def _experts_json(s: Searcher, q: str, k: int, flt: ChunkFilter, viewer: Viewer, asker: AskRouter
                  ) -> dict[str, Any]:
    experts = s.experts(q, k, viewer, flt)
    ask = asker.whom_to_ask(s.index.get().store, experts, q, viewer)
    return {"query": q, "experts": [e.to_json() for e in experts], "abstained": abstention(q, experts),
            "ask": [a.to_json() for a in ask], "routing": ROUTING_NOTE}


def _search_json(s: Searcher, q: str, k: int, page: int, experts: bool, flt: ChunkFilter, viewer: Viewer
                 ) -> dict[str, Any]:
    results = s.search(q, k=k, page=page, with_experts=experts, flt=flt, viewer=viewer)
    if results.hits or not results.query:
        return results.to_json()
    return {**results.to_json(), "help": no_result_help(s, q, viewer).to_json()}
