"""Briefings: the weekly tactical assessments in the outputs folder, each viewable as HTML (sandboxed:
it carries its own inline style) and, for analysts, downloadable as PDF."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from safestreets.api import Workspace, outputs
from safestreets.api import catalog_models as m
from safestreets.db.sessions import Active
from safestreets.errors import NotFoundError
from safestreets.web.deps import Analyst, Viewer, record, workspace
from safestreets.web.render import page

router = APIRouter()

Week = Annotated[date, Path(description="the briefing's week (its Monday, YYYY-MM-DD)")]
NOT_FOUND = {404: {"description": "no briefing for that week"}}

#: The briefing is a self-contained document with a <style> element and inline images: it gets a policy of
#: its own that allows exactly that, runs no script at all (sandbox) and cannot be framed.
BRIEFING_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


@router.get(
    "/api/briefings", tags=["briefings"], summary="Briefings in the outputs folder, latest week first"
)
def api_briefings(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> list[m.Briefing]:
    record(request, active, "view", "/api/briefings")
    return outputs.briefings(ws)


@router.get(
    "/api/briefings/{week}.pdf",
    tags=["briefings"],
    summary="A briefing as PDF (download; analysts)",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}}, **NOT_FOUND},
)
def api_briefing_pdf(
    request: Request, week: Week, active: Active = Analyst, ws: Workspace = Depends(workspace)
) -> FileResponse:
    path = outputs.briefing_file(ws, week, "pdf")
    record(request, active, "export", f"/api/briefings/{week}.pdf", {"file": path.name})
    return FileResponse(path, media_type="application/pdf", filename=path.name)


@router.get(
    "/api/briefings/{week}", tags=["briefings"], summary="One week's briefing files", responses=NOT_FOUND
)
def api_briefing(
    request: Request, week: Week, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> m.Briefing:
    record(request, active, "view", f"/api/briefings/{week}")
    found = [b for b in outputs.briefings(ws) if b.week == week]
    if not found:
        raise NotFoundError(f"no briefing for the week of {week} in the outputs folder")
    return found[0]


@router.get("/briefings", response_class=HTMLResponse, include_in_schema=False)
def briefings_page(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> HTMLResponse:
    record(request, active, "view", "/briefings")
    return page(request, "briefings.html.j2", briefings=outputs.briefings(ws),
                can_download=active.account.can("analyst"))  # fmt: skip


@router.get("/briefings/{week}", include_in_schema=False)
def briefing_html(
    request: Request, week: Week, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> Response:
    path = outputs.briefing_file(ws, week, "html")
    record(request, active, "view", f"/briefings/{week}", {"file": path.name})
    return Response(
        path.read_bytes(),
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": BRIEFING_CSP,
            "Content-Disposition": f'inline; filename="{path.name}"',
        },
    )
