"""Hub tactics: transport hubs ranked for knife arches and drug dogs, and the week's deployments (decision
support: never an authorisation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from safestreets.api import Workspace, catalog
from safestreets.api import catalog_models as m
from safestreets.db.sessions import Active
from safestreets.web.deps import Viewer, record, workspace
from safestreets.web.render import page

router = APIRouter()

Budget = Annotated[int, Query(ge=0, le=catalog.MAX_HUB_BUDGET, description="deployments this week")]
Catchment = Annotated[
    float,
    Query(ge=catalog.CATCHMENT_M[0], le=catalog.CATCHMENT_M[1], description="metres around a hub that count"),
]
Kinds = Annotated[
    str,
    Query(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9 _,-]+$",
        description="place kinds, comma-separated",
    ),
]


@router.get(
    "/api/hubs",
    tags=["hubs"],
    summary="Hubs ranked for knife arches and drug dogs, and the week's deployments",
    responses={400: {"description": "an unknown place kind"}},
)
def api_hubs(
    request: Request, budget: Budget = 5, catchment: Catchment = 400.0, kinds: Kinds = "station",
    active: Active = Viewer, ws: Workspace = Depends(workspace),
) -> m.HubRanking:  # fmt: skip
    record(request, active, "view", "/api/hubs", {"budget": budget, "catchment": catchment, "kinds": kinds})
    return catalog.hub_ranking(ws, budget=budget, catchment=catchment, kinds=kinds)


@router.get("/hubs", response_class=HTMLResponse, include_in_schema=False)
def hubs_page(
    request: Request, budget: Budget = 5, catchment: Catchment = 400.0, kinds: Kinds = "station",
    active: Active = Viewer, ws: Workspace = Depends(workspace),
) -> HTMLResponse:  # fmt: skip
    record(request, active, "view", "/hubs", {"budget": budget, "catchment": catchment, "kinds": kinds})
    ranking = catalog.hub_ranking(ws, budget=budget, catchment=catchment, kinds=kinds)
    return page(request, "hubs.html.j2", r=ranking, budget=budget, catchment=catchment, kinds=kinds)
