"""Data status: what the store holds, its gaps, the loads (batches) with their provenance, and rejected
rows (page and JSON). The rejected rows' values are shown to analysts only: a force's own records can hold
more than the published data does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from safestreets.api import Workspace, catalog
from safestreets.api import catalog_models as m
from safestreets.db.sessions import Active
from safestreets.web.deps import Analyst, Viewer, record, workspace
from safestreets.web.render import page

router = APIRouter()

BatchId = Annotated[int, Path(ge=1, le=2_147_483_647, description="a load (batch) id")]
Limit = Annotated[int, Query(ge=1, le=catalog.MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=2_000_000_000)]
Kind = Annotated[str | None, Query(max_length=40, description="only loads of this kind (empty: all)")]
NOT_FOUND = {404: {"description": "no such load"}}


def status_json(ws: Workspace) -> dict[str, Any]:
    return catalog.store_status(ws).model_dump()


@router.get("/api/status", tags=["data"], summary="What the store holds")
def api_status(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> m.StoreStatus:
    record(request, active, "view", "/api/status")
    return catalog.store_status(ws)


@router.get("/api/loads", tags=["data"], summary="Loads (batches), newest first: source, kind, rows, when")
def api_loads(
    request: Request, limit: Limit = 50, offset: Offset = 0, kind: Kind = None, active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> m.LoadsPage:  # fmt: skip
    record(request, active, "view", "/api/loads", {"limit": limit, "offset": offset, "kind": kind})
    return catalog.loads(ws, limit=limit, offset=offset, kind=kind or None)


@router.get(
    "/api/loads/{batch_id}", tags=["data"], summary="One load and its provenance", responses=NOT_FOUND
)
def api_load(
    request: Request, batch_id: BatchId, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> m.LoadDetail:
    record(request, active, "view", f"/api/loads/{batch_id}")
    return catalog.load(ws, batch_id)


@router.get(
    "/api/loads/{batch_id}/rejects",
    tags=["data"],
    summary="A load's rejected rows with their values (analysts)",
    responses=NOT_FOUND,
)
def api_rejects(
    request: Request, batch_id: BatchId, limit: Limit = 100, offset: Offset = 0, active: Active = Analyst,
    ws: Workspace = Depends(workspace),
) -> m.RejectsPage:  # fmt: skip
    record(request, active, "view", f"/api/loads/{batch_id}/rejects", {"limit": limit, "offset": offset})
    return catalog.rejected_rows(ws, batch_id, limit=limit, offset=offset)


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
def status_page(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> HTMLResponse:
    record(request, active, "view", "/status")
    return page(request, "status.html.j2", status=status_json(ws), loads=catalog.loads(ws, limit=10))


@router.get("/status/loads", response_class=HTMLResponse, include_in_schema=False)
def loads_page(
    request: Request, limit: Limit = 50, offset: Offset = 0, kind: Kind = None, active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> HTMLResponse:  # fmt: skip
    record(request, active, "view", "/status/loads", {"limit": limit, "offset": offset, "kind": kind})
    return page(
        request, "loads.html.j2", loads=catalog.loads(ws, limit=limit, offset=offset, kind=kind or None)
    )


@router.get("/status/loads/{batch_id}", response_class=HTMLResponse, include_in_schema=False)
def load_page(
    request: Request, batch_id: BatchId, offset: Offset = 0, active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> HTMLResponse:  # fmt: skip
    record(request, active, "view", f"/status/loads/{batch_id}", {"offset": offset})
    detail = catalog.load(ws, batch_id)
    rows = catalog.rejected_rows(ws, batch_id, offset=offset) if active.account.can("analyst") else None
    return page(request, "load.html.j2", d=detail, rejects=rows)
