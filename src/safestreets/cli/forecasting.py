"""Forecasting commands: forecast and backtest. Each parses, calls the API once, renders."""

from __future__ import annotations

from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated

import typer

from safestreets.api import BacktestReport, ForecastResult
from safestreets.api.results import place_label
from safestreets.cli.common import (
    Fmt,
    FormatOpt,
    WorkspaceOpt,
    batch_priority,
    emit,
    open_workspace,
    out,
    steps,
    written,
)
from safestreets.forecast import ALIASES, MODELS

#: ``auto`` (chosen by backtest), every registered model and the deprecated aliases (which warn); Typer
#: lists them and matches any case.
Model = Enum("Model", {name: name for name in ("auto", *MODELS, *ALIASES)}, type=str)  # type: ignore[misc]


class RankBy(StrEnum):
    harm = "harm"
    count = "count"


class HarmScheme(StrEnum):
    cchi = "cchi"
    ons = "ons"


class Source(StrEnum):
    police_uk = "police.uk"
    police_uk_api = "police.uk-api"
    force_records = "force-records"


TargetOpt = Annotated[str, typer.Option(help="violence, robbery, burglary, street, public, or police.uk types "
                                        "comma-separated (names or slugs, any case).")]  # fmt: skip
UnitsOpt = Annotated[str, typer.Option("--units", help="grid, or a loaded areas kind: lsoa, ward, borough.")]
CellOpt = Annotated[float, typer.Option("--cell-size", min=25, help="Grid cell size in metres.")]
StudyOpt = Annotated[str, typer.Option("--study-area", help="auto (loaded boroughs), hull (of the events), an "
                                       "areas kind, or kind:code,code.")]  # fmt: skip
SourceOpt = Annotated[Source | None, typer.Option(case_sensitive=False, help="Event source (default: the "
                                                  "published data; force records for <1m).")]  # fmt: skip
ForceOpt = Annotated[str | None, typer.Option(help="Only this force's events.")]
PoliceFoundOpt = Annotated[bool, typer.Option("--include-police-found/--no-include-police-found",
                           help="Allow Drugs and Possession of weapons in the target (labelled in every output).")]  # fmt: skip
JobsOpt = Annotated[int, typer.Option("--jobs", min=1, help="Worker processes for backtests.")]


def forecast(
    ctx: typer.Context,
    target: TargetOpt = "violence",
    horizon: Annotated[str, typer.Option(help="1m (a month), 3m, 1w, 7d, 1d.")] = "1m",
    model: Annotated[Model, typer.Option(case_sensitive=False, help="auto chooses by backtest.")] = Model.auto,  # type: ignore[valid-type,attr-defined]
    units: UnitsOpt = "grid",
    cell_size: CellOpt = 250.0,
    study_area: StudyOpt = "auto",
    rank_by: Annotated[RankBy, typer.Option("--rank-by", case_sensitive=False, help="Rank by expected harm or "
                                            "count.")] = RankBy.harm,
    harm_scheme: Annotated[HarmScheme, typer.Option("--harm-scheme", case_sensitive=False, help="cchi (Cambridge) "
                                                    "or ons.")] = HarmScheme.cchi,
    harm_table: Annotated[Path | None, typer.Option("--harm-table", help="CSV crime_type,weight overriding "
                                                    "the scheme.")] = None,
    source: SourceOpt = None,
    force: ForceOpt = None,
    until: Annotated[str | None, typer.Option(help="Forecast from this time (e.g. 2024-06); default: just "
                                              "after the data.")] = None,
    include_police_found: PoliceFoundOpt = False,
    top: Annotated[int, typer.Option(min=0, help="Hotspots to list per command unit.")] = 5,
    out_paths: Annotated[list[Path] | None, typer.Option("--out", help="Write the surface here (.gpkg or "
                         ".geojson; repeatable). Default: both, in the workspace outputs folder.")] = None,
    jobs: JobsOpt = 2,
    fmt: FormatOpt = Fmt.table,
    workspace: WorkspaceOpt = None,
    interval: Annotated[float, typer.Option("--interval", min=0, max=99, help="Predictive interval level in "
                                            "% (0: none; a model chosen by hand is fitted 3 more times).")] = 80,
) -> None:  # fmt: skip
    """Forecast where harm will concentrate next; store, export and list the top hotspots per BCU."""
    batch_priority()
    with open_workspace(ctx, workspace) as ws, steps("choosing model", len(MODELS) * 6) as step:
        result = ws.forecast(target=target, horizon=horizon, model=model.value, units=units, cell_size=cell_size,
                             study_area=study_area, rank_by=rank_by.value, harm_scheme=harm_scheme.value,
                             harm_table=harm_table, source=source.value if source else None, force=force,
                             until=until, include_police_found=include_police_found, out=out_paths, jobs=jobs,
                             progress=step, interval_level=interval / 100 if interval > 0 else None)  # fmt: skip
    _print_surface(result, top, fmt)
    if fmt is Fmt.table:
        written(result.files, "risk surface written to {}")


def _print_surface(result: ForecastResult, top: int, fmt: Fmt) -> None:
    s = result.surface
    meta = s.meta
    if fmt is Fmt.table:
        target = meta["data"]["target"]
        out.print(
            f"[bold]{target['name']}[/] forecast for {meta['window'][0][:10]} to {meta['window'][1][:10]} "
            f"(model {result.model}; {len(s.units):,} {s.units.kind} units; ranked by expected {s.rank_by} per km² of land; "
            f"run {result.run_id})"
        )
        out.print(f"why this model: {result.reason}")
        stale = meta.get("staleness") or {}
        if stale.get("days_after_data"):
            out.print(f"[yellow]note:[/] the data end {stale['data_end']}, {stale['days_after_data']:g} days before "
                      "the forecast starts")  # fmt: skip
        city = next((t for t in result.totals() if t["scope"] == "city"), None)
        if city is not None and result.interval_level is not None:
            out.print(f"expected {city['expected']:,.0f} {target['name']} crimes in the window, "
                      f"{result.interval_level:.0%} interval {city['lower']:,.0f}-{city['upper']:,.0f}")  # fmt: skip
        for note in result.notes:
            out.print(f"[yellow]warning:[/] {note}")
    if top == 0:
        return
    rows = result.top_per_bcu(top)
    level = result.interval_level
    interval = "interval" if level is None else f"{level:.0%} interval"
    emit(
        rows, ForecastResult.TOP_COLUMNS, fmt,
        title=f"Top {top} hotspots per command unit",
        headers=("BCU", "rank", "place", "unit", "expected count", "expected harm", "centre (lat, lon)", interval),
        right=("rank", "expected count", "expected harm", interval),
        cells=lambda r: [place_label(r["bcu"], result.bcu_names), str(r["rank"]), r["place"], r["unit_id"],
                         f"{r['expected_count']:.2f}", f"{r['expected_harm']:.0f}", f"{r['lat']:.5f}, {r['lon']:.5f}",
                         "" if r["lower"] is None else f"{r['lower']:.0f}-{r['upper']:.0f}"],
    )  # fmt: skip


def backtest(
    ctx: typer.Context,
    models: Annotated[str, typer.Option(help=f"all, or names comma-separated from: {', '.join(MODELS)}.")] = "all",
    origins: Annotated[int, typer.Option(min=1, help="How many most recent origins.")] = 12,
    horizon: Annotated[str, typer.Option(help="Horizons, comma-separated: 1m, 1w, 7d ...")] = "1m",
    target: TargetOpt = "violence",
    units: UnitsOpt = "grid",
    cell_size: CellOpt = 250.0,
    study_area: StudyOpt = "auto",
    coverages: Annotated[str, typer.Option(help="Coverage levels in % of the area, comma-separated.")] = "1,5,10",
    rank_by: Annotated[RankBy, typer.Option("--rank-by", case_sensitive=False, help="Rank by count or "
                                            "harm.")] = RankBy.count,
    source: SourceOpt = None,
    force: ForceOpt = None,
    include_police_found: PoliceFoundOpt = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the tables and chart (default: "
                                                 "the workspace outputs folder).")] = None,
    jobs: JobsOpt = 2,
    fmt: FormatOpt = Fmt.table,
    workspace: WorkspaceOpt = None,
    by_shift: Annotated[bool, typer.Option("--by-shift", help="Also hit rates per shift: each unit's "
                                           "time-of-week profile against the city's (timestamped data).")] = False,
    intervals: Annotated[bool, typer.Option("--intervals", help="Also the coverage of 80% and 95% "
                                            "forecast intervals per unit, BCU and city.")] = False,
) -> None:  # fmt: skip
    """Rolling-origin backtest: hit rate, PAI, PEI, harm captured, deviance and stability per model."""
    n_models = (
        len(MODELS) if models.strip().lower() == "all" else len([m for m in models.split(",") if m.strip()])
    )
    batch_priority()
    with open_workspace(ctx, workspace) as ws, steps("backtest", n_models * origins) as step:
        report = ws.backtest(models=models, origins=origins, horizon=horizon, target=target, units=units,
                             cell_size=cell_size, study_area=study_area, coverages=coverages,
                             rank_by=rank_by.value, source=source.value if source else None, force=force,
                             include_police_found=include_police_found, out_dir=out_dir, jobs=jobs,
                             progress=step, by_shift=by_shift, intervals=intervals)  # fmt: skip
    _print_summary(report, fmt)
    _print_extras(report, fmt)
    if fmt is Fmt.table:
        for note in report.notes:
            out.print(f"[yellow]warning:[/] {note}")
        out.print("ceiling: the hit rate of a clairvoyant stationary forecast (each unit's mean over all the data "
                  "but the scored period); 'of ceiling' is each model's share of it, what is achievable here. "
                  "oracle: the scored period's own counts.")  # fmt: skip
        out.print(f"tables in {report.folder} (metrics.csv, summary.csv); coverage chart "
                  f"{report.folder / 'coverage.png'}")  # fmt: skip


def _print_extras(report: BacktestReport, fmt: Fmt) -> None:
    """The per-shift hit rates and interval coverage, when asked for (as tables for people; scripts read
    shifts_summary.csv and intervals_summary.csv, so --format json stays one document)."""
    if fmt is not Fmt.table:
        return
    if report.shifts is not None:
        emit(
            sorted(report.shifts.to_pylist(), key=lambda r: (r["model"], r["coverage"], r["shift"], r["profile"])),
            ("model", "shift", "profile", "coverage", "events", "hit_rate"), fmt,
            title="Hit rate per shift: each unit's time-of-week profile (unit; raw = unshrunk) against the city's",
            headers=("model", "shift", "profile", "coverage", "events", "hit rate"),
            right=("coverage", "events", "hit rate"),
            cells=lambda r: [r["model"], r["shift"], r["profile"], f"{r['coverage']:.0%}", f"{r['events']:,.0f}",
                             f"{r['hit_rate']:.1%}"],
        )  # fmt: skip
    if report.intervals is not None:
        emit(
            report.intervals.to_pylist(),
            ("model", "scope", "scored", "coverage_80", "expected_80", "coverage_95", "expected_95"), fmt,
            title="Forecast intervals: share of outcomes inside (and what the model expects, whole counts)",
            headers=("model", "scope", "scored", "80% held", "80% expected", "95% held", "95% expected"),
            right=("scored", "80% held", "80% expected", "95% held", "95% expected"),
            cells=lambda r: [r["model"], r["scope"], f"{r['scored']:,}", f"{r['coverage_80']:.1%}",
                             f"{r['expected_80']:.1%}", f"{r['coverage_95']:.1%}", f"{r['expected_95']:.1%}"],
        )  # fmt: skip


SUMMARY_COLUMNS = ("model", "horizon", "coverage", "hit_rate", "hit_rate_lo", "hit_rate_hi", "pai", "pei",
                   "harm_captured", "ceiling_hit_rate", "ceiling_share", "oracle_hit_rate", "stability",
                   "fit_seconds")  # fmt: skip


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}%}"


def _print_summary(report: BacktestReport, fmt: Fmt) -> None:
    emit(
        report.to_pylist(), SUMMARY_COLUMNS, fmt,
        title=f"Backtest: {report.label} (mean over origins, 95% bootstrap interval)",
        headers=("model", "horizon", "coverage", "hit rate", "PAI", "PEI", "harm captured", "ceiling", "of ceiling",
                 "oracle", "stability", "fit s"),
        right=("coverage", "hit rate", "PAI", "PEI", "harm captured", "ceiling", "of ceiling", "oracle", "stability",
               "fit s"),
        cells=lambda r: [
            r["model"], r["horizon"], f"{r['coverage']:.0%}",
            f"{r['hit_rate']:.1%} [{r['hit_rate_lo']:.1%}, {r['hit_rate_hi']:.1%}]",
            f"{r['pai']:.1f}", f"{r['pei']:.2f}", f"{r['harm_captured']:.1%}",
            _pct(r.get("ceiling_hit_rate")), _pct(r.get("ceiling_share"), 0), _pct(r.get("oracle_hit_rate")),
            "-" if r["stability"] != r["stability"] else f"{r['stability']:.2f}", f"{r['fit_seconds']:.2f}",
        ],
    )  # fmt: skip
