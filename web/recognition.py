"""Recognition: who shared knowledge others found useful in a period, rising contributors and
first contributions, as a page, JSON and CSV (for the people who look after the knowledge)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from search.recognition import Recognition, RecognitionReport
from search.recognition_period import PeriodError
from search.searcher import MAX_QUERY_CHARS

from .deps import Day, SearcherDep, ViewerDep, _day, templates
from .pages import RecognitionPage

router = APIRouter()
Topic = Annotated[str, Query(max_length=MAX_QUERY_CHARS, description=(
    "Only contributions about this topic (documents tagged with it and its best search results)."))]
Format = Annotated[Literal["json", "csv"], Query(description="csv: the same figures as a spreadsheet")]


def _report(request: Request, s: SearcherDep, viewer: ViewerDep, since: str, until: str, topic: str
            ) -> RecognitionReport:
    recognition: Recognition = request.app.state.recognition
    try:
        return recognition.for_search(s, viewer, _day("since", since), _day("until", until), topic)
    except PeriodError as e:
        raise HTTPException(422, str(e)) from None


def _csv(report: RecognitionReport) -> Response:
    name = f"recognition-{report.period.since}-{report.period.until}.csv"
    return Response(report.to_csv(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/recognition", summary="Recognition: who shared useful knowledge, rising contributors, "
            "first contributions")
def api_recognition(request: Request, s: SearcherDep, viewer: ViewerDep, since: Day = "", until: Day = "",
                    topic: Topic = "", format: Format = "json") -> Any:
    """In a period (default: the latest 90 days with activity): accepted and voted answers,
    documents readers opened or voted up, with the receipts; rising contributors against their
    own earlier periods; first contributions. Counted from documents the viewer may see."""
    report = _report(request, s, viewer, since, until, topic)
    return _csv(report) if format == "csv" else report.to_json()


@router.get("/api/recognition.csv", summary="Recognition as CSV (the same figures)")
def api_recognition_csv(request: Request, s: SearcherDep, viewer: ViewerDep, since: Day = "", until: Day = "",
                        topic: Topic = "") -> Response:
    """The figures of /api/recognition as a spreadsheet: one row per person and list (sharers,
    rising, first_contributions), with the period's days in each row."""
    return _csv(_report(request, s, viewer, since, until, topic))


@router.get("/recognition", response_class=HTMLResponse, summary="Recognition (HTML)")
def recognition_page(request: Request, s: SearcherDep, viewer: ViewerDep, since: Day = "", until: Day = "",
                     topic: Topic = "") -> Any:
    """The same as a page, with how each figure is counted."""
    try:
        page = RecognitionPage(_report(request, s, viewer, since, until, topic))
    except HTTPException as e:  # a bad day: the form again, with the reason
        page = RecognitionPage(None, error=str(e.detail), since=since, until=until, topic=topic)
        return templates.TemplateResponse(request, "recognition.html", {"page": page}, status_code=e.status_code)
    return templates.TemplateResponse(request, "recognition.html", {"page": page})
