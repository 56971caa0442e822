"""Accountability: stop and search (outcomes and disproportionality), the operations register (analysts
record operations and tallies through a form or JSON, with CSRF), and the Section 60 register (recorded
through a form or JSON, checked against the configured limits)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from safestreets.api import Workspace
from safestreets.api import operations as api_ops
from safestreets.api import s60 as s60_api
from safestreets.api import stopsearch as api_ss
from safestreets.db import Database
from safestreets.db.sessions import Active
from safestreets.errors import ParameterError, SafestreetsError
from safestreets.vocab import TACTICS
from safestreets.web.deps import Analyst, Viewer, database, record, workspace
from safestreets.web.render import page
from safestreets.web.svg import sparkline

router = APIRouter()

OpId = Annotated[int, Path(ge=1, le=2_147_483_647, description="an operation id")]
AuthId = Annotated[int, Path(ge=1, le=2_147_483_647, description="a Section 60 authorisation id")]
Months = Annotated[
    str | None, Query(max_length=64, pattern=r"^[0-9:, -]*$", description="e.g. 2022-04:2023-03")
]
Force = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9-]*$", description="police.uk force id")]
By = Annotated[str, Query(max_length=32, pattern=r"^[a-z_]+$", description="breakdown")]
NOT_FOUND = {404: {"description": "no such operation"}}
COUNTS = ("knives", "weapons", "drugs", "arrests", "community_events", "sweeps", "searches", "visits")


# --- stop and search -----------------------------------------------------------------------------------


def _stopsearch(ws: Workspace, months: str | None, force: str | None) -> api_ss.StopSearchReport:
    return api_ss.stopsearch_report(ws.con, None, force=force or None, months=months or None, write=False)


@router.get(
    "/api/stopsearch",
    tags=["accountability"],
    summary="Stop and search: rates, breakdowns, disproportionality",
)
def api_stopsearch(request: Request, months: Months = None, force: Force = None, active: Active = Viewer,
                   ws: Workspace = Depends(workspace)) -> dict[str, Any]:  # fmt: skip
    record(request, active, "view", "/api/stopsearch", {"months": months, "force": force})
    return api_ss.stopsearch_json(ws.con, force=force or None, months=months or None)


@router.get("/accountability/stopsearch", response_class=HTMLResponse, include_in_schema=False)
def stopsearch_page(request: Request, months: Months = None, force: Force = None, by: By = "legislation",
                    active: Active = Viewer, ws: Workspace = Depends(workspace)) -> HTMLResponse:  # fmt: skip
    record(
        request, active, "view", "/accountability/stopsearch", {"months": months, "force": force, "by": by}
    )
    try:
        r = _stopsearch(ws, months, force)
    except SafestreetsError as err:
        return page(
            request,
            "accountability_stopsearch.html.j2",
            r=None,
            error=str(err),
            months=months,
            force=force,
            by=by,
        )
    dims = sorted({row["dimension"] for row in r.analysis.breakdown.to_pylist()} - {"all"})
    monthly = r.analysis.by("month")
    sparks = {
        "searches": sparkline([m["searches"] for m in monthly], width=320, label="searches a month"),
        "positive": sparkline([m["positive_rate"] for m in monthly], width=320, label="positive outcome rate a month"),
        "first": monthly[0]["value"] if monthly else "", "last": monthly[-1]["value"] if monthly else "",
    }  # fmt: skip
    return page(request, "accountability_stopsearch.html.j2", r=r, rows=r.analysis.by(by), dims=dims, months=months,
                force=force, by=by, error=None, sparks=sparks)  # fmt: skip


# --- operations ----------------------------------------------------------------------------------------


class NewOperation(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    start: date
    end: date
    areas: list[str] = Field(
        min_length=1, max_length=50, description="BCUs or boroughs (code or name), or WKT"
    )
    tactics: list[str] = Field(min_length=1, max_length=20)
    plan_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    notes: str = Field(default="", max_length=4000)


class TallyRow(BaseModel):
    day: date
    bcu: str = Field(default="", max_length=64)
    tactic: str = Field(default="", max_length=64)
    knives: int = Field(default=0, ge=0, le=1_000_000)
    weapons: int = Field(default=0, ge=0, le=1_000_000)
    drugs: int = Field(default=0, ge=0, le=1_000_000)
    arrests: int = Field(default=0, ge=0, le=1_000_000)
    community_events: int = Field(default=0, ge=0, le=1_000_000)
    sweeps: int = Field(default=0, ge=0, le=1_000_000)
    searches: int = Field(default=0, ge=0, le=1_000_000)
    visits: int = Field(default=0, ge=0, le=1_000_000)


def _report_dict(r: Any) -> dict[str, Any]:
    return {"operation": r.operation.to_dict(), "headline": r.headline, "totals": r.totals, "by_day": r.by_day,
            "by_bcu": r.by_bcu, "by_tactic": r.by_tactic, "delivery": r.delivery, "notes": r.notes}  # fmt: skip


@router.get("/api/operations", tags=["accountability"], summary="Recorded operations, newest first")
def api_operations(
    request: Request, active: Active = Viewer, db: Database = Depends(database)
) -> list[dict[str, Any]]:
    record(request, active, "view", "/api/operations")
    return [o.to_dict() for o in api_ops.list_operations(db)]


@router.post("/api/operations", tags=["accountability"], summary="Record an operation", status_code=201)
def api_add_operation(body: NewOperation, active: Active = Analyst, db: Database = Depends(database),
                      ws: Workspace = Depends(workspace)) -> dict[str, Any]:  # fmt: skip
    op = api_ops.add_operation(db, ws.con, name=body.name, start=body.start, end=body.end, areas=body.areas,
                               tactics=body.tactics, plan_id=body.plan_id, notes=body.notes,
                               actor=active.account.username)  # fmt: skip
    return op.to_dict()


@router.get("/api/operations/{op_id}", tags=["accountability"], summary="An operation's results report",
            responses=NOT_FOUND)  # fmt: skip
def api_operation(request: Request, op_id: OpId, active: Active = Viewer, db: Database = Depends(database),
                  ws: Workspace = Depends(workspace)) -> dict[str, Any]:  # fmt: skip
    record(request, active, "view", f"/api/operations/{op_id}")
    return _report_dict(api_ops.operation_report(db, ws.con, op_id))


@router.get("/api/operations/{op_id}/history", tags=["accountability"], summary="Every version and tally entered",
            responses=NOT_FOUND)  # fmt: skip
def api_operation_history(request: Request, op_id: OpId, active: Active = Viewer,
                          db: Database = Depends(database)) -> dict[str, Any]:  # fmt: skip
    record(request, active, "view", f"/api/operations/{op_id}/history")
    return {"versions": [o.to_dict() for o in api_ops.operation_history(db, op_id)],
            "tallies": [t.to_dict() for t in api_ops.tallies(db, op_id, history=True)]}  # fmt: skip


@router.post("/api/operations/{op_id}/tallies", tags=["accountability"], summary="Record tallies (all or none)",
             status_code=201, responses=NOT_FOUND)  # fmt: skip
def api_add_tallies(op_id: OpId, rows: list[TallyRow], active: Active = Analyst, db: Database = Depends(database),
                    ws: Workspace = Depends(workspace)) -> list[dict[str, Any]]:  # fmt: skip
    made = api_ops.add_tallies(db, ws.con, op_id, rows=[r.model_dump() for r in rows], actor=active.account.username,
                               source="web api")  # fmt: skip
    return [t.to_dict() for t in made]


def _operations_page(request: Request, db: Database, status_code: int = 200, **context: Any) -> HTMLResponse:
    return page(request, "accountability_operations.html.j2", status_code=status_code,
                operations=api_ops.list_operations(db), tactics=TACTICS, **context)  # fmt: skip


@router.get("/accountability/operations", response_class=HTMLResponse, include_in_schema=False)
def operations_page(
    request: Request, active: Active = Viewer, db: Database = Depends(database)
) -> HTMLResponse:
    record(request, active, "view", "/accountability/operations")
    return _operations_page(request, db)


@router.post("/accountability/operations", response_class=HTMLResponse, include_in_schema=False)
def add_operation_form(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    start: Annotated[str, Form(max_length=10)],
    end: Annotated[str, Form(max_length=10)],
    areas: Annotated[str, Form(max_length=4000)],
    tactics: Annotated[list[str], Form()],
    plan_id: Annotated[str, Form(max_length=12)] = "",
    notes: Annotated[str, Form(max_length=4000)] = "",
    active: Active = Analyst,
    db: Database = Depends(database),
    ws: Workspace = Depends(workspace),
) -> Response:
    try:
        op = api_ops.add_operation(db, ws.con, name=name, start=start, end=end,
                                   areas=[a for a in areas.replace(";", "\n").splitlines() if a.strip()], tactics=tactics,
                                   plan_id=int(plan_id) if plan_id.strip().isdigit() else None, notes=notes,
                                   actor=active.account.username)  # fmt: skip
    except SafestreetsError as err:
        return _operations_page(request, db, status_code=400, error=str(err))
    return RedirectResponse(f"/accountability/operations/{op.id}", status_code=303)


def _operation_page(request: Request, db: Database, ws: Workspace, op_id: int, status_code: int = 200,
                    **context: Any) -> HTMLResponse:  # fmt: skip
    report = api_ops.operation_report(db, ws.con, op_id)
    return page(request, "accountability_operation.html.j2", status_code=status_code, r=report,
                history=api_ops.operation_history(db, op_id), tallies=api_ops.tallies(db, op_id, history=True),
                tactics=TACTICS, counts=COUNTS, **context)  # fmt: skip


@router.get("/accountability/operations/{op_id}", response_class=HTMLResponse, include_in_schema=False)
def operation_page(request: Request, op_id: OpId, active: Active = Viewer, db: Database = Depends(database),
                   ws: Workspace = Depends(workspace)) -> HTMLResponse:  # fmt: skip
    record(request, active, "view", f"/accountability/operations/{op_id}")
    return _operation_page(request, db, ws, op_id)


@router.post(
    "/accountability/operations/{op_id}/tallies", response_class=HTMLResponse, include_in_schema=False
)
async def add_tally_form(request: Request, op_id: OpId, active: Active = Analyst, db: Database = Depends(database),
                         ws: Workspace = Depends(workspace)) -> Response:  # fmt: skip
    form = await request.form()
    row = {k: str(form.get(k, "")) for k in ("day", "bcu", "tactic", *COUNTS)}
    try:
        api_ops.add_tallies(db, ws.con, op_id, rows=[row], actor=active.account.username, source="web")
    except SafestreetsError as err:
        return _operation_page(request, db, ws, op_id, status_code=400, error=str(err))
    return RedirectResponse(f"/accountability/operations/{op_id}", status_code=303)


# --- Section 60 ----------------------------------------------------------------------------------------


@router.get("/api/s60", tags=["accountability"], summary="Section 60 authorisations and their searches")
def api_s60(request: Request, active: Active = Viewer, db: Database = Depends(database),
            ws: Workspace = Depends(workspace)) -> list[dict[str, Any]]:  # fmt: skip
    record(request, active, "view", "/api/s60")
    return [r.to_dict() for r in s60_api.s60_report(db, ws.con)]


class NewAuthorisation(BaseModel):
    starts_at: str = Field(max_length=40, description="ISO 8601; UTC unless it has an offset")
    ends_at: str = Field(max_length=40, description="end of the first period, before any extension")
    authorised_by: str = Field(min_length=1, max_length=128)
    rank: str = Field(min_length=1, max_length=64)
    grounds: str = Field(max_length=4000)
    place: str = Field(default="", max_length=200)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    radius_m: float | None = Field(default=None, ge=0, le=50_000)
    polygon_wkt: str | None = Field(default=None, max_length=100_000)
    incident: str = Field(default="", max_length=4000)
    reference: str = Field(default="", max_length=64)
    extensions: list[str] = Field(default=[], max_length=10, description="UNTIL,RANK[,BY] each")
    flag: bool = Field(
        default=False, description="store a breach of the limits flagged, instead of refusing it"
    )


@router.post("/api/s60", tags=["accountability"], summary="Record a Section 60 authorisation (limits checked)",
             status_code=201)  # fmt: skip
def api_add_s60(body: NewAuthorisation, active: Active = Analyst, db: Database = Depends(database),
                ws: Workspace = Depends(workspace)) -> dict[str, Any]:  # fmt: skip
    a = s60_api.add_authorisation(db, ws.con, ws.root, **body.model_dump(), actor=active.account.username)
    return a.to_dict()


def _s60_page(request: Request, db: Database, ws: Workspace, status_code: int = 200, **context: Any) -> HTMLResponse:
    return page(request, "accountability_s60.html.j2", status_code=status_code, rows=s60_api.s60_report(db, ws.con),
                ranks=s60_api.rank_names(), timezone=ws.timezone, **context)  # fmt: skip


@router.get("/accountability/s60", response_class=HTMLResponse, include_in_schema=False)
def s60_page(request: Request, active: Active = Viewer, db: Database = Depends(database),
             ws: Workspace = Depends(workspace)) -> HTMLResponse:  # fmt: skip
    record(request, active, "view", "/accountability/s60")
    return _s60_page(request, db, ws)


def _local(text: str, zone: str, name: str) -> str:
    """A form's date-time (the browser sends wall-clock time, no offset) in the workspace's time zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ParameterError(f"{name}: {text!r} is not a date and time") from None
    return (at if at.tzinfo else at.replace(tzinfo=ZoneInfo(zone))).isoformat()


def _number(text: str, name: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise ParameterError(f"{name}: {text!r} is not a number") from None


@router.post("/accountability/s60", response_class=HTMLResponse, include_in_schema=False)
def add_s60_form(
    request: Request,
    starts_at: Annotated[str, Form(max_length=40)],
    ends_at: Annotated[str, Form(max_length=40)],
    authorised_by: Annotated[str, Form(min_length=1, max_length=128)],
    rank: Annotated[str, Form(max_length=64)],
    grounds: Annotated[str, Form(max_length=4000)],
    place: Annotated[str, Form(max_length=200)] = "",
    lon: Annotated[str, Form(max_length=32)] = "",
    lat: Annotated[str, Form(max_length=32)] = "",
    radius_m: Annotated[str, Form(max_length=32)] = "",
    polygon_wkt: Annotated[str, Form(max_length=100_000)] = "",
    incident: Annotated[str, Form(max_length=4000)] = "",
    reference: Annotated[str, Form(max_length=64)] = "",
    active: Active = Analyst,
    db: Database = Depends(database),
    ws: Workspace = Depends(workspace),
) -> Response:
    try:
        s60_api.add_authorisation(
            db, ws.con, ws.root, starts_at=_local(starts_at, ws.timezone, "starts_at"),
            ends_at=_local(ends_at, ws.timezone, "ends_at"), authorised_by=authorised_by, rank=rank, grounds=grounds,
            place=place, lon=_number(lon, "lon"), lat=_number(lat, "lat"), radius_m=_number(radius_m, "radius_m"),
            polygon_wkt=polygon_wkt.strip() or None, incident=incident, reference=reference,
            actor=active.account.username,
        )  # fmt: skip
    except SafestreetsError as err:
        return _s60_page(request, db, ws, status_code=400, error=str(err))
    return RedirectResponse("/accountability/s60", status_code=303)


Bbox = Annotated[
    str | None, Query(max_length=200, pattern=r"^[0-9.,-]*$", description="minlon,minlat,maxlon,maxlat")
]


_GEOJSON = {
    200: {
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "a GeoJSON FeatureCollection (WGS84)"}
            }
        }
    }
}


@router.get("/api/layers/accountability", tags=["map"], summary="Section 60 areas and operations (GeoJSON)",
            responses=_GEOJSON)  # fmt: skip
def api_accountability_layer(request: Request, bbox: Bbox = None, active: Active = Viewer,
                             db: Database = Depends(database), ws: Workspace = Depends(workspace)) -> JSONResponse:  # fmt: skip
    box = None
    if bbox:
        try:
            parts = [float(v) for v in bbox.split(",") if v]
        except ValueError:
            parts = []
        if len(parts) != 4:
            raise ParameterError("bbox: give minlon,minlat,maxlon,maxlat")
        box = (parts[0], parts[1], parts[2], parts[3])
    data = s60_api.accountability_geojson(db, ws.con, box)
    record(
        request,
        active,
        "view",
        "/api/layers/accountability",
        {"bbox": bbox, "features": data["meta"]["count"]},
    )
    return JSONResponse(data, media_type="application/geo+json")
