"""Impact: stored evaluations (did it work, did crime move next door), the near-repeat advice, fairness
audits (who bore the cost), and the feedback-loop simulation. Read-only: the dashboard shows what the
CLI or a notebook computed and stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from safestreets.api import Workspace, impact_catalog
from safestreets.db.sessions import Active
from safestreets.web.deps import Viewer, record, workspace
from safestreets.web.render import page

router = APIRouter()

ResultId = Annotated[int, Path(ge=1, le=2_147_483_647, description="a stored impact result id")]
Rounds = Annotated[int, Query(ge=1, le=impact_catalog.MAX_ROUNDS, description="simulated rounds")]
Seed = Annotated[int, Query(ge=0, le=2**31 - 1, description="random seed")]
NOT_FOUND = {404: {"description": "no such stored result"}}


@router.get("/api/impact", tags=["impact"], summary="Stored impact results, the near-repeat advice, fairness")
def api_impact(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> impact_catalog.ImpactOverview:
    record(request, active, "view", "/api/impact")
    return impact_catalog.overview(ws)


@router.get("/api/impact/feedback", tags=["impact"], summary="The feedback-loop simulation, both targets")
def api_feedback(
    request: Request, rounds: Rounds = 300, seed: Seed = 0, active: Active = Viewer
) -> list[impact_catalog.FeedbackRun]:
    record(request, active, "view", "/api/impact/feedback", {"rounds": rounds, "seed": seed})
    return impact_catalog.feedback(rounds, seed)


@router.get(
    "/api/impact/{result_id}", tags=["impact"], summary="One stored impact result", responses=NOT_FOUND
)
def api_impact_result(
    request: Request, result_id: ResultId, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> impact_catalog.ImpactDetail:
    # A fairness audit carries stop and search counts per area: every read is on the record.
    record(request, active, "view", f"/api/impact/{result_id}")
    return impact_catalog.detail(ws, result_id)


@router.get("/impact", response_class=HTMLResponse, include_in_schema=False)
def impact_page(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> HTMLResponse:
    record(request, active, "view", "/impact")
    return page(request, "impact.html.j2", o=impact_catalog.overview(ws), feedback=impact_catalog.feedback())


@router.get("/impact/{result_id}", response_class=HTMLResponse, include_in_schema=False)
def impact_result_page(
    request: Request, result_id: ResultId, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> HTMLResponse:
    record(request, active, "view", f"/impact/{result_id}")
    return page(request, "impact_result.html.j2", d=impact_catalog.detail(ws, result_id))
