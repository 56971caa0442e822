"""Patrol plans: the stored plans, one plan (per BCU, teams, hot spots with their numbers, the visits),
and its patrol cards as a PDF (analysts: a download is an export)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from safestreets.api import Workspace, catalog
from safestreets.api import catalog_models as m
from safestreets.db.sessions import Active
from safestreets.errors import ParameterError
from safestreets.web.deps import Analyst, Viewer, record, workspace
from safestreets.web.render import page

router = APIRouter()

PlanId = Annotated[int, Path(ge=1, le=2_147_483_647, description="a patrol plan id")]
Bcu = Annotated[str | None, Query(min_length=1, max_length=64, description="only this BCU")]
Team = Annotated[str | None, Query(min_length=1, max_length=64, description="only this team")]
Day = Annotated[date | None, Query(description="only this day of the plan's week")]
NOT_FOUND = {404: {"description": "no such plan, BCU, team or day"}}


@router.get("/api/plans", tags=["plans"], summary="Stored patrol plans, newest first")
def api_plans(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> list[m.PlanSummary]:
    record(request, active, "view", "/api/plans")
    return catalog.plans(ws)


@router.get(
    "/api/plans/{plan_id}", tags=["plans"], summary="One plan: per BCU, teams, hot spots", responses=NOT_FOUND
)
def api_plan(
    request: Request,
    plan_id: PlanId,
    bcu: Bcu = None,
    active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> m.PlanDetail:
    record(request, active, "view", f"/api/plans/{plan_id}", {"bcu": bcu})
    return catalog.plan(ws, plan_id, bcu=bcu)


@router.get(
    "/api/plans/{plan_id}/visits", tags=["plans"], summary="A plan's timed visits", responses=NOT_FOUND
)
def api_visits(
    request: Request, plan_id: PlanId, team: Team = None, day: Day = None, active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> m.PlanVisits:  # fmt: skip
    record(request, active, "view", f"/api/plans/{plan_id}/visits", {"team": team, "day": day})
    return catalog.plan_visits(ws, plan_id, team=team, day=day)


@router.get(
    "/api/plans/{plan_id}/cards.pdf",
    tags=["plans"],
    summary="The plan's patrol cards (PDF download; analysts)",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}}, **NOT_FOUND},
)
def api_cards(
    request: Request, plan_id: PlanId, active: Active = Analyst, ws: Workspace = Depends(workspace)
) -> FileResponse:
    path = catalog.plan_cards(ws, plan_id)
    record(request, active, "export", f"/api/plans/{plan_id}/cards.pdf", {"file": path.name})
    return FileResponse(path, media_type="application/pdf", filename=path.name)


@router.get("/plans", response_class=HTMLResponse, include_in_schema=False)
def plans_page(request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)) -> HTMLResponse:
    record(request, active, "view", "/plans")
    return page(request, "plans.html.j2", plans=catalog.plans(ws))


def _day(text: str | None, week: date) -> date | None:
    """The page's day choice: none given, the plan's first day (a week of visits is a long table);
    ``all`` (or empty), every day; else a date."""
    if text is None:
        return week
    if text in ("", "all"):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"day must be a date like {week}, or all, not {text!r}") from None


@router.get("/plans/{plan_id}", response_class=HTMLResponse, include_in_schema=False)
def plan_page(
    request: Request, plan_id: PlanId, bcu: Bcu = None,
    team: Annotated[str | None, Query(max_length=64)] = None,
    day: Annotated[str | None, Query(max_length=10)] = None,
    active: Active = Viewer, ws: Workspace = Depends(workspace),
) -> HTMLResponse:  # fmt: skip
    record(request, active, "view", f"/plans/{plan_id}", {"bcu": bcu, "team": team, "day": day})
    detail = catalog.plan(ws, plan_id, bcu=bcu)
    chosen = _day(day, detail.plan.week_start)
    visits = catalog.plan_visits(ws, plan_id, team=team or None, day=chosen)
    if bcu is not None:  # the visits of the BCU's teams only
        mine = {t.team_id for t in detail.teams}
        visits.visits = [v for v in visits.visits if v.team_id in mine]
    days = [date.fromordinal(detail.plan.week_start.toordinal() + k) for k in range(7)]
    return page(request, "plan.html.j2", d=detail, visits=visits, days=days, bcu=bcu, team=team or None,
                day=chosen, can_download=active.account.can("analyst"))  # fmt: skip
