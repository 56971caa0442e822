"""Forecasts and backtests: the stored runs, one run (what made it, why its model, how accurate it has
been, its top hot spots per BCU), and how the models compare."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from safestreets.api import Workspace, catalog
from safestreets.api import catalog_models as m
from safestreets.db.sessions import Active
from safestreets.web.deps import Viewer, record, workspace
from safestreets.web.render import page
from safestreets.web.svg import line_chart

router = APIRouter()

RunId = Annotated[int, Path(ge=1, le=2_147_483_647, description="a forecast run id")]
Top = Annotated[int, Query(ge=1, le=catalog.MAX_TOP, description="hot spots per BCU")]
Bcu = Annotated[str | None, Query(min_length=1, max_length=64, description="only this BCU")]


def coverage_chart(summary: m.BacktestSummary | None, title: str) -> Markup:
    if summary is None or not summary.curves:
        return Markup("")
    xs = sorted({p[0] for c in summary.curves for p in c.points})
    shown = [x for x in xs if x > 0] if len(xs) > 8 else xs
    if len(shown) > 8:
        shown = [x for x in shown if round(x * 100) % 5 == 0] or shown[:: max(1, len(shown) // 5)]
    series = [(c.model + (" (baseline)" if c.baseline else ""), c.points, c.baseline) for c in summary.curves]
    return line_chart(
        shown, series, title=title, x_label="area flagged", y_label="crime captured", diagonal=True
    )


@router.get("/api/forecasts", tags=["forecasts"], summary="Stored forecast runs, newest first")
def api_forecasts(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> list[m.ForecastRunSummary]:
    record(request, active, "view", "/api/forecasts")
    return catalog.forecast_runs(ws)


@router.get("/api/forecasts/compare", tags=["forecasts"], summary="How the models compared in backtests")
def api_compare(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> m.ModelComparison:
    record(request, active, "view", "/api/forecasts/compare")
    return catalog.model_comparison(ws)


@router.get(
    "/api/forecasts/{run_id}",
    tags=["forecasts"],
    summary="One forecast run: provenance, model choice, accuracy, top hot spots per BCU",
    responses={404: {"description": "no such run, or no such BCU in it"}},
)
def api_forecast(
    request: Request, run_id: RunId, top: Top = 5, bcu: Bcu = None, active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> m.ForecastRunDetail:  # fmt: skip
    record(request, active, "view", f"/api/forecasts/{run_id}", {"top": top, "bcu": bcu})
    return catalog.forecast_run(ws, run_id, top=top, bcu=bcu)


@router.get("/forecasts", response_class=HTMLResponse, include_in_schema=False)
def forecasts_page(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> HTMLResponse:
    record(request, active, "view", "/forecasts")
    return page(request, "forecasts.html.j2", runs=catalog.forecast_runs(ws))


@router.get("/forecasts/compare", response_class=HTMLResponse, include_in_schema=False)
def compare_page(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> HTMLResponse:
    record(request, active, "view", "/forecasts/compare")
    comparison = catalog.model_comparison(ws)
    charts = [coverage_chart(b.summary, f"Coverage curve: {b.name}") for b in comparison.backtests]
    return page(request, "compare.html.j2", comparison=comparison, charts=charts)


@router.get("/forecasts/{run_id}", response_class=HTMLResponse, include_in_schema=False)
def forecast_page(
    request: Request, run_id: RunId, top: Top = 5, bcu: Bcu = None, active: Active = Viewer,
    ws: Workspace = Depends(workspace),
) -> HTMLResponse:  # fmt: skip
    record(request, active, "view", f"/forecasts/{run_id}", {"top": top, "bcu": bcu})
    detail = catalog.forecast_run(ws, run_id, top=top, bcu=bcu)
    chart = coverage_chart(detail.backtest, f"Coverage curve, run {run_id}")
    by_bcu: dict[str, list[m.HotSpot]] = {}
    for spot in detail.top:
        by_bcu.setdefault(spot.bcu, []).append(spot)
    return page(request, "forecast.html.j2", d=detail, chart=chart, by_bcu=by_bcu)
