"""The map: boundaries, recorded crime, a forecast surface, the plan's hot spots, transport hubs and
emerging hot spots, each a GeoJSON endpoint under ``/api/layers``; click a unit or an area for its history
and why it ranks where it does.

Every endpoint is a view of data and is audited. GeoJSON answers are ``application/geo+json``, computed
once per store snapshot and revalidated with an ETag (``web.cache``); with ``download=true`` one comes as
a file, which needs the analyst role (viewers may look, not export).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from safestreets.api import Workspace, unit_history
from safestreets.api import layers as api
from safestreets.db.sessions import Active
from safestreets.web import cache
from safestreets.web.deps import Viewer, record, workspace
from safestreets.web.render import page

#: Every map endpoint answers a JSON object: GeoJSON (RFC 7946 FeatureCollection) or a unit's history.
_OBJECT = {"type": "object", "description": "a GeoJSON FeatureCollection (RFC 7946, WGS84) or a JSON object"}
router = APIRouter(responses={200: {"content": {"application/json": {"schema": _OBJECT}}}})
GEOJSON = "application/geo+json"

Bbox = Annotated[
    str | None,
    Query(max_length=200, description="minlon,minlat,maxlon,maxlat (WGS84); at most 2 degrees a side"),
]
Bcu = Annotated[
    str | None, Query(max_length=100, description="a BCU code or name; empty or 'all' for every BCU")
]
Download = Annotated[bool, Query(description="answer as a file to save (analysts and admins only)")]
Target = Annotated[
    str | None,
    Query(
        max_length=300, description="a target (violence, robbery, ...), crime types comma-separated, or 'all'"
    ),
]
Source = Annotated[str | None, Query(max_length=100, description="events source (default: the forecast's)")]


def _geojson(
    request: Request,
    active: Active,
    ws: Workspace,
    params: dict[str, Any],
    make: Callable[[], dict[str, Any]],
    download: bool,
    name: Callable[[dict[str, Any]], str],
    audited: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Response:
    """Audit the view (or export) and answer the collection, computed once per store snapshot (see
    web.cache). ``name`` gives the file name and ``audited`` the audit parameters from the answer's
    meta (the run or plan a default resolved to)."""
    target = request.url.path
    if download and not active.account.can("analyst"):
        record(request, active, "export", target, params, outcome="denied")
        raise HTTPException(403, "downloading needs the analyst role")

    def compute() -> tuple[bytes, str, dict[str, Any]]:
        data = make()
        return cache.dumps(data), GEOJSON, data["meta"]

    answer = cache.cached(request, ws, target, params, active.account.role, compute)
    logged = {**(audited(answer.meta) if audited else params), "features": answer.meta["count"]}
    record(request, active, "export" if download else "view", target, logged)
    if not download:
        return cache.respond(request, answer)
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", name(answer.meta))  # a file name from loaded kinds: keep it plain
    return cache.respond(request, answer, download=f"{plain}.geojson")


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
def map_page(request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)) -> HTMLResponse:
    record(request, active, "view", "/map")
    basemap = request.app.state.settings.basemap_url
    return page(request, "map.html.j2", catalogue=api.catalogue(ws), basemap=basemap or "",
                can_download=active.account.can("analyst"), anpr=active.account.can("analyst"))  # fmt: skip


@router.get("/api/layers", tags=["map"], summary="What the map can show and filter by")
def api_catalogue(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    record(request, active, "view", "/api/layers")
    return api.catalogue(ws)


@router.get("/api/layers/areas", tags=["map"], summary="Boundaries of one kind (GeoJSON)")
def api_areas(
    request: Request,
    kind: Annotated[
        str, Query(max_length=50, description="borough, bcu, lsoa, ... (those loaded)")
    ] = "borough",
    bcu: Bcu = None,
    bbox: Bbox = None,
    download: Download = False,
    active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> Response:
    return _geojson(request, active, ws, {"kind": kind, "bcu": bcu, "bbox": bbox},
                    lambda: api.areas_geojson(ws, kind, bcu=bcu, bbox=bbox), download,
                    lambda _: f"areas-{kind}")  # fmt: skip


@router.get("/api/layers/crime", tags=["map"], summary="Recorded crime: counts per cell or points (GeoJSON)")
def api_crime(
    request: Request,
    mode: Annotated[str, Query(max_length=10, description="cells (counts per square) or points")] = "cells",
    target: Target = None,
    months: Annotated[str | None, Query(max_length=200, description="e.g. 2023-01:2023-06")] = None,
    bcu: Bcu = None,
    source: Source = None,
    cell: Annotated[float, Query(ge=50, le=5000, description="cell size in metres")] = 250.0,
    bbox: Bbox = None,
    download: Download = False,
    active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> Response:
    params = {"mode": mode, "target": target, "months": months, "bcu": bcu, "source": source, "cell": cell,
              "bbox": bbox}  # fmt: skip
    return _geojson(request, active, ws, params,
                    lambda: api.crime_geojson(ws, mode=mode, target=target, months=months, bcu=bcu, source=source,
                                              cell=cell, bbox=bbox),
                    download, lambda _: f"crime-{mode}")  # fmt: skip


Top = Annotated[
    float, Query(gt=0, le=1, description="only units in this top share of the area (0.25: a quarter)")
]


def _forecast(request: Request, active: Active, ws: Workspace, run_id: int | None, bcu: str | None,
              bbox: str | None, top: float, download: bool) -> Response:  # fmt: skip
    params = {"run_id": run_id, "bcu": bcu, "bbox": bbox, "top": top}
    return _geojson(request, active, ws, params,
                    lambda: api.forecast_geojson(ws, run_id, bcu=bcu, bbox=bbox, top=top), download,
                    lambda meta: f"forecast-run{meta['run_id']}",
                    lambda meta: {**params, "run_id": meta["run_id"]})  # fmt: skip


@router.get(
    "/api/layers/forecast", tags=["map"], summary="A stored forecast's units (GeoJSON; latest run by default)"
)
def api_forecast_layer(
    request: Request,
    run_id: Annotated[int | None, Query(ge=1)] = None,
    bcu: Bcu = None,
    bbox: Bbox = None,
    top: Top = 1.0,
    download: Download = False,
    active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> Response:
    return _forecast(request, active, ws, run_id, bcu, bbox, top, download)


@router.get(
    "/api/forecasts/{run_id}/geojson", tags=["map"], summary="A stored forecast run's units (GeoJSON)"
)
def api_forecast_geojson(
    request: Request,
    run_id: Annotated[int, Path(ge=1)],
    bcu: Bcu = None,
    bbox: Bbox = None,
    top: Top = 1.0,
    download: Download = False,
    active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> Response:
    return _forecast(request, active, ws, run_id, bcu, bbox, top, download)


@router.get(
    "/api/layers/hotspots", tags=["map"], summary="A plan's hot spots, numbered as the plan numbers them"
)
def api_hotspots(
    request: Request,
    plan_id: Annotated[int | None, Query(ge=1, description="default: the latest plan")] = None,
    bcu: Bcu = None,
    bbox: Bbox = None,
    download: Download = False,
    active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> Response:
    params = {"plan_id": plan_id, "bcu": bcu, "bbox": bbox}
    return _geojson(request, active, ws, params, lambda: api.hotspots_geojson(ws, plan_id, bcu=bcu, bbox=bbox),
                    download, lambda meta: f"plan{meta['plan_id']}-hotspots",
                    lambda meta: {**params, "plan_id": meta["plan_id"]})  # fmt: skip


@router.get("/api/layers/hubs", tags=["map"], summary="Transport hubs with their ranking (GeoJSON)")
def api_hubs(
    request: Request,
    kind: Annotated[str, Query(max_length=50, description="the places' kind")] = "station",
    bcu: Bcu = None,
    bbox: Bbox = None,
    run_id: Annotated[
        int | None, Query(ge=1, description="forecast to rank by (default: the latest)")
    ] = None,
    download: Download = False,
    active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> Response:
    return _geojson(request, active, ws, {"kind": kind, "bcu": bcu, "bbox": bbox, "run_id": run_id},
                    lambda: api.hubs_geojson(ws, kind, bcu=bcu, bbox=bbox, run_id=run_id), download,
                    lambda _: f"hubs-{kind}")  # fmt: skip


@router.get(
    "/api/layers/emerging", tags=["map"], summary="Emerging, persistent and diminishing hot spots (GeoJSON)"
)
def api_emerging(
    request: Request,
    run_id: Annotated[int | None, Query(ge=1)] = None,
    periods: Annotated[int, Query(ge=3, le=60)] = 12,
    bcu: Bcu = None,
    bbox: Bbox = None,
    everything: Annotated[bool, Query(description="also the units with no pattern")] = False,
    download: Download = False,
    active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> Response:
    params = {"run_id": run_id, "periods": periods, "bcu": bcu, "bbox": bbox, "everything": everything}
    return _geojson(request, active, ws, params,
                    lambda: api.emerging_geojson(ws, run_id, periods=periods, bcu=bcu, bbox=bbox,
                                                 everything=everything),
                    download, lambda meta: f"emerging-run{meta['run_id']}",
                    lambda meta: {"run_id": meta["run_id"], "periods": periods, "bcu": bcu, "bbox": bbox})  # fmt: skip


Period = Annotated[str, Query(max_length=10, description="month, or week for timestamped sources")]


@router.get(
    "/api/layers/units/{unit_id}", tags=["map"], summary="A forecast unit's history and why it ranks there"
)
def api_unit(
    request: Request,
    unit_id: Annotated[str, Path(max_length=100)],
    run_id: Annotated[int | None, Query(ge=1)] = None,
    target: Target = None,
    source: Source = None,
    period: Period = "month",
    active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    data = unit_history.unit_detail(ws, unit_id, run_id, target=target, source=source, period=period)
    record(request, active, "view", request.url.path,
           {"run_id": data["run"]["run_id"], "target": target, "source": source, "period": period})  # fmt: skip
    return data


@router.get("/api/layers/areas/{kind}/{code}", tags=["map"], summary="An area's history and forecast")
def api_area(
    request: Request,
    kind: Annotated[str, Path(max_length=50)],
    code: Annotated[str, Path(max_length=100)],
    run_id: Annotated[int | None, Query(ge=1)] = None,
    target: Target = None,
    source: Source = None,
    period: Period = "month",
    active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    data = unit_history.area_detail(
        ws, kind, code, target=target, source=source, period=period, run_id=run_id
    )
    record(request, active, "view", request.url.path,
           {"run_id": run_id, "target": target, "source": source, "period": period})  # fmt: skip
    return data
