"""Data status: what the store holds, its gaps, loads and rejected rows (page and JSON)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from safestreets.api import Workspace
from safestreets.db.sessions import Active
from safestreets.web.deps import Viewer, record, workspace
from safestreets.web.render import page

router = APIRouter()


def status_json(ws: Workspace) -> dict[str, Any]:
    s = ws.status().status
    return {
        "crs": s.crs,
        "timezone": s.timezone,
        "loads": s.batches,
        "tables": {k: v.__dict__ for k, v in s.tables.items()},
        "forces": s.forces,
        "gaps": [{"what": w, "first": a, "last": b, "months": n} for w, a, b, n in s.gaps],
        "areas": s.areas,
        "places": s.places,
        "unassigned": s.unassigned,
        "rejected": s.rejected,
        "rejected_reasons": [{"column": c, "reason": r, "rows": n} for c, r, n in s.rejected_reasons],
    }


@router.get("/api/status", tags=["data"], summary="What the store holds")
def api_status(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    record(request, active, "view", "/api/status")
    return status_json(ws)


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
def status_page(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> HTMLResponse:
    record(request, active, "view", "/status")
    return page(request, "status.html.j2", status=status_json(ws))
