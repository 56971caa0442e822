"""ANPR analyses on the dashboard (analysts): journeys, flows, county lines and co-travel as JSON, as map
layers (GeoJSON) and as a table on the ANPR page. Every call names its purpose and runs through
``Anpr.analyse``, which checks the window against the reach (further back only with an authorisation) and
writes the query and its purpose to the audit trail. Answers hold pseudonyms, never plates, and are
``no-store``: they are never put in the answer cache (web.cache), which is for data about places."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from safestreets.api import Workspace
from safestreets.api import anpr_layers as api
from safestreets.api.anpr import Anpr
from safestreets.db import Database
from safestreets.db.sessions import Active
from safestreets.errors import AccessRefused, ParameterError, SafestreetsError
from safestreets.web.deps import Analyst, database, record, workspace
from safestreets.web.render import page
from safestreets.web.routes.anpr import instant

_OBJECT = {"type": "object", "description": "an analysis's rows, or a GeoJSON FeatureCollection (RFC 7946, WGS84)"}
router = APIRouter(responses={200: {"content": {"application/json": {"schema": _OBJECT}}}})
NO_STORE = {"Cache-Control": "no-store"}
GEOJSON = "application/geo+json"

Kind = Annotated[str, Path(max_length=20, pattern=r"^(journeys|flows|county-lines|co-travel)$")]
LayerKind = Annotated[str, Path(max_length=20, pattern=r"^(flows|county-lines|co-travel)$")]
Purpose = Annotated[str, Query(max_length=500, description="why this query is made (at least 5 characters); audited")]
When = Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD or an ISO time (UTC unless it says)")]
Metro = Annotated[str | None, Query(max_length=500, pattern=r"^[A-Za-z0-9_, -]*$",
                                    description="county lines: metro area codes, comma-separated")]  # fmt: skip
Limit = Annotated[int, Query(ge=1, le=api.MAX_ROWS, description="rows returned (the total is in the answer)")]


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    out = []
    for text, field in ((since, "since"), (until, "until")):
        at = instant(text, field) if text else None
        if at is not None and not 1970 <= at.year <= 2200:  # far years overflow in UTC arithmetic
            raise ParameterError(f"{field}: {text!r} is not a plausible date")
        out.append(at)
    return out[0], out[1]


@router.get("/api/anpr/analyses/{kind}", tags=["anpr"],
            summary="An ANPR analysis of the reads in a window (purpose required; audited)")  # fmt: skip
def api_analysis(kind: Kind, purpose: Purpose = "", since: When = None, until: When = None, metro: Metro = None,
                 limit: Limit = 200, active: Active = Analyst, db: Database = Depends(database),
                 ws: Workspace = Depends(workspace)) -> JSONResponse:  # fmt: skip
    start, end = _window(since, until)
    data = api.analysis(Anpr(ws, db), kind, actor=active.account.username, purpose=purpose, since=start,
                        until=end, metro=metro, limit=limit)  # fmt: skip
    return JSONResponse(data, headers=NO_STORE)


@router.get("/api/layers/anpr/cameras", tags=["map"], summary="ANPR cameras (GeoJSON points)")
def api_cameras(request: Request, active: Active = Analyst, db: Database = Depends(database),
                ws: Workspace = Depends(workspace)) -> JSONResponse:  # fmt: skip
    data = api.cameras_geojson(Anpr(ws, db))
    record(request, active, "view", request.url.path, {"features": data["meta"]["count"]})
    return JSONResponse(data, media_type=GEOJSON, headers=NO_STORE)


@router.get("/api/layers/anpr/{kind}", tags=["map"],
            summary="An ANPR analysis as a map layer (GeoJSON; purpose required; audited)")  # fmt: skip
def api_layer(kind: LayerKind, purpose: Purpose = "", since: When = None, until: When = None, metro: Metro = None,
              active: Active = Analyst, db: Database = Depends(database),
              ws: Workspace = Depends(workspace)) -> JSONResponse:  # fmt: skip
    start, end = _window(since, until)
    data = api.layer_geojson(Anpr(ws, db), kind, actor=active.account.username, purpose=purpose, since=start,
                             until=end, metro=metro)  # fmt: skip
    return JSONResponse(data, media_type=GEOJSON, headers=NO_STORE)


@router.get("/anpr/analyses", response_class=HTMLResponse, include_in_schema=False)
def analyses_page(request: Request, kind: Annotated[str, Query(max_length=20)] = "flows", purpose: Purpose = "",
                  since: When = None, metro: Metro = None, active: Active = Analyst,
                  db: Database = Depends(database), ws: Workspace = Depends(workspace)) -> HTMLResponse:  # fmt: skip
    """The form's answer: the table (the first rows) and, for county lines, the excursions behind the flags.
    A refused query (no purpose, past the reach) shows its reason on the page beside the form."""
    result: dict[str, Any] | None = None
    problem, status = None, 200
    try:
        start, _ = _window(since, None)
        result = api.analysis(Anpr(ws, db), kind, actor=active.account.username, purpose=purpose, since=start,
                              metro=metro, limit=200)  # fmt: skip
    except SafestreetsError as e:
        problem, status = str(e), 403 if isinstance(e, AccessRefused) else 400
    form = {"kind": kind, "purpose": purpose, "since": since or "", "metro": metro or ""}
    resp = page(request, "anpr_analyses.html.j2", status_code=status, result=result, problem=problem, form=form,
                kinds=api.KINDS)  # fmt: skip
    resp.headers["Cache-Control"] = "no-store"
    return resp
