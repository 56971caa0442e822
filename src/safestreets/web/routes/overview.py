"""The overview: recent trend and harm by command unit, what changed, the current plan at a glance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from safestreets.api import Workspace
from safestreets.db.sessions import Active
from safestreets.web.deps import Viewer, record, workspace
from safestreets.web.render import page
from safestreets.web.routes.data import status_json

router = APIRouter()


def overview_json(ws: Workspace) -> dict[str, Any]:
    status = status_json(ws)
    return {"status": status}


@router.get("/api/overview", tags=["overview"], summary="The overview page's data")
def api_overview(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    record(request, active, "view", "/api/overview")
    return overview_json(ws)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def overview_page(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> HTMLResponse:
    record(request, active, "view", "/")
    return page(request, "overview.html.j2", overview=overview_json(ws))
