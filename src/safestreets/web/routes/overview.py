"""The overview: recent trend and harm by command unit, what changed, the current plan at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from safestreets.api import Workspace, catalog
from safestreets.api import catalog_models as m
from safestreets.db.sessions import Active
from safestreets.web.deps import Viewer, record, workspace
from safestreets.web.render import page
from safestreets.web.svg import sparkline

router = APIRouter()


@router.get("/api/overview", tags=["overview"], summary="The overview: trend per BCU, what changed, the plan")
def api_overview(request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)) -> m.Overview:
    record(request, active, "view", "/api/overview")
    return catalog.overview(ws)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def overview_page(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> HTMLResponse:
    record(request, active, "view", "/")
    data = catalog.overview(ws)
    sparks = {
        s.name: sparkline(s.events, label=f"{s.name}: events per month")
        for s in (data.trend.series if data.trend else [])
    }
    return page(request, "overview.html.j2", overview=data, sparks=sparks)
