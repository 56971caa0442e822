"""Forecasting jobs of the API: a stored, exported risk surface; a rolling-origin backtest.

Output names carry what tells two runs apart (target, units, model, window and run id), so a second
forecast never silently replaces the first one's files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from safestreets.api.results import BacktestReport, ForecastResult
from safestreets.errors import NeedsTimestamps, NoDataError, ParameterError, unknown

Step = Callable[[str], None]

UNITS_HELP = "grid, or a loaded areas kind: lsoa, ward, borough"


def model_names() -> tuple[str, ...]:
    from safestreets.forecast import MODELS

    return tuple(MODELS)


def check_model(name: str, *, allow_auto: bool = True) -> str:
    """A model name as typed (any case) to its registry name, or a ParameterError with a suggestion."""
    from safestreets.forecast import ALIASES, canonical

    names = (("auto",) if allow_auto else ()) + model_names()
    lowered = name.strip().lower()
    if lowered in ALIASES:  # a deprecated name still works, with a warning naming the new one
        return canonical(lowered)
    if lowered not in names:
        raise unknown("model", name, names)
    return lowered


def slug(text: str) -> str:
    return text.replace(",", "+").replace(" ", "_").replace("/", "-")


def surface_stem(meta: dict[str, Any], run_id: int, model: str) -> str:
    """``forecast-<target>-<units>-<model>-<window start>-run<id>``: one name per stored run."""
    units = meta.get("units", {})
    kind = str(units.get("kind", "units"))
    if kind == "grid" and units.get("cell_size_m"):
        kind = f"grid{float(units['cell_size_m']):g}m"
    target = slug(meta["data"]["target"]["name"])
    return f"forecast-{target}-{kind}-{model}-{meta['window'][0][:10]}-run{run_id}"


def forecast(
    con: duckdb.DuckDBPyConnection,
    outputs: Path,
    *,
    target: str = "violence",
    horizon: str = "1m",
    model: str = "auto",
    units: str = "grid",
    cell_size: float = 250.0,
    study_area: str = "auto",
    rank_by: str = "harm",
    harm_scheme: str = "cchi",
    harm_table: str | Path | None = None,
    source: str | None = None,
    force: str | None = None,
    until: str | None = None,
    include_police_found: bool = False,
    out: list[Path] | None = None,
    jobs: int = 2,
    auto_origins: int = 6,
    progress: Step | None = None,
    interval_level: float | None = 0.8,
) -> ForecastResult:
    """Forecast where harm will concentrate next; store the surface and write it (.gpkg and .geojson).
    ``interval_level``: the level of each unit's and each total's predictive interval (None: none; a model
    chosen by hand is fitted three more times to calibrate them)."""
    from safestreets.evaluate.forecast_run import run_forecast
    from safestreets.forecast.store import export_surface
    from safestreets.store.queries import command_unit_names

    chosen = check_model(model)
    run = run_forecast(
        con,
        target=target,
        horizon=horizon,
        model=chosen,
        units_kind=units,
        cell_size=cell_size,
        study=study_area,
        rank_by=rank_by.lower(),
        harm_scheme=harm_scheme.lower(),
        harm_table=str(harm_table) if harm_table else None,
        source=source,
        force=force,
        until=until,
        include_police_found=include_police_found,
        n_jobs=jobs,
        auto_origins=auto_origins,
        progress=progress,
        interval_level=interval_level,
    )
    assert run.run_id is not None
    stem = surface_stem(run.surface.meta, run.run_id, run.model)
    paths = out or [outputs / f"{stem}.gpkg", outputs / f"{stem}.geojson"]
    files = [export_surface(con, run.run_id, p) for p in paths]
    from safestreets.forecast.data import gap_warnings
    from safestreets.forecast.targets import target_warnings

    notes = target_warnings(run.surface.meta.get("data", {}).get("target"))
    notes += gap_warnings(run.surface.meta.get("data"))
    notes += list(run.surface.meta.get("units", {}).get("warnings", []))
    return ForecastResult(run, files, notes, bcu_names=command_unit_names(con))


def coverage_chart(result: ForecastResult, out: Path, *, title: str) -> Path:
    """The coverage curves of the backtest ``auto`` ran to choose the model."""
    from safestreets.evaluate.charts import coverage_chart as chart

    if result.run.choice is None:
        raise ParameterError("only a forecast with --model auto has a backtest to chart")
    return chart(result.run.choice.result.curves, out, title=title)


def parse_coverages(text: str) -> list[float]:
    try:
        covs = [float(c) / 100 for c in text.split(",") if c.strip()]
    except ValueError:
        raise ParameterError(f"bad coverages {text!r}: use percentages such as 1,5,10") from None
    if not covs or any(not 0 < c <= 1 for c in covs):
        raise ParameterError(f"bad coverages {text!r}: percentages between 0 and 100, such as 1,5,10")
    return covs


def backtest(
    con: duckdb.DuckDBPyConnection,
    outputs: Path,
    *,
    models: str = "all",
    origins: int = 12,
    horizon: str = "1m",
    target: str = "violence",
    units: str = "grid",
    cell_size: float = 250.0,
    study_area: str = "auto",
    coverages: str = "1,5,10",
    rank_by: str = "count",
    source: str | None = None,
    force: str | None = None,
    include_police_found: bool = False,
    out_dir: Path | None = None,
    jobs: int = 2,
    progress: Callable[[str], None] | None = None,
    by_shift: bool = False,
    intervals: bool = False,
) -> BacktestReport:
    """Rolling-origin backtest of models on the store's data; tables, chart and provenance written.

    ``by_shift``: each model's hit rate per shift with each unit's time-of-week profile against the
    city's (timestamped data only; ``shifts.csv``); ``intervals``: the coverage of each model's 80% and 95%
    intervals per unit, BCU and city (``intervals.csv``). See evaluate/shifts.py."""
    from safestreets.evaluate.backtest import backtest as run_backtest
    from safestreets.evaluate.backtest import summarise
    from safestreets.evaluate.outputs import write_backtest
    from safestreets.forecast import make_model
    from safestreets.forecast.data import for_a_horizon, load_history, load_units
    from safestreets.forecast.history import Horizon
    from safestreets.forecast.targets import parse_target

    if origins < 1:
        raise ParameterError(f"origins must be at least 1, not {origins}")
    names = (
        list(model_names())
        if models.strip().lower() == "all"
        else [check_model(m, allow_auto=False) for m in models.split(",") if m.strip()]
    )
    if not names:
        raise ParameterError("no models named: give 'all' or names such as histavg,kde")
    hs = [Horizon.parse(h.strip()) for h in horizon.split(",") if h.strip()]
    covs = parse_coverages(coverages)
    tgt = parse_target(target, allow_police_found=include_police_found)
    try:
        history = load_history(
            con, tgt, source=source, force=force, need_timestamps=any(h.unit == "D" for h in hs)
        )
    except NeedsTimestamps as err:
        raise for_a_horizon(err) from None
    grid = load_units(con, units, cell_size=cell_size, study=study_area, history=history)
    if by_shift and history.resolution != "timestamp":
        raise NoDataError("--by-shift needs timestamped events (a force's own records): police.uk files carry "
                          "the month only")  # fmt: skip
    # Every model is asked first whether it can run here; with "all", one that cannot is skipped and named,
    # while a model named on purpose fails the backtest at once.
    result = run_backtest({n: make_model(n) for n in names}, history, grid, origins=origins, horizons=hs,
                          coverages=covs, rank_by=rank_by.lower(), n_jobs=jobs, progress=progress,
                          keep_forecasts=by_shift or intervals,
                          skip_failing=models.strip().lower() == "all")  # fmt: skip
    summary = summarise(result.metrics)
    folder = out_dir or outputs / f"backtest-{slug(tgt.name)}-{grid.kind}"
    files = write_backtest(
        result,
        summary,
        folder,
        title=f"{tgt.name}: share of next-period crime captured ({len(grid):,} {grid.kind} units)",
        extra={
            "models": {n: make_model(n).get_params(deep=False) for n in names},
            "origins": origins,
            "horizons": [str(h) for h in hs],
        },
    )
    shift_summary, interval_summary = _backtest_extras(names, history, grid, origins, hs, covs, folder, files,
                                                       by_shift=by_shift, intervals=intervals)  # fmt: skip
    return BacktestReport(result, summary, tgt.label, folder, files, shifts=shift_summary,
                          intervals=interval_summary)  # fmt: skip


def _backtest_extras(names: list[str], history: Any, units: Any, origins: int, horizons: list[Any],
                     coverages: list[float], folder: Path, files: list[Path], *, by_shift: bool,
                     intervals: bool) -> tuple[Any, Any]:  # fmt: skip
    """Hit rates per shift and interval coverage for each model, at the backtest's origins (its forecasts
    are reused); their tables written beside the backtest's."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from safestreets.evaluate import shifts as sh
    from safestreets.forecast import make_model

    def write(rows: pa.Table, summary: pa.Table, name: str) -> pa.Table:
        for table, stem in ((rows, name), (summary, f"{name}_summary")):
            pacsv.write_csv(table, folder / f"{stem}.csv")
            files.append(folder / f"{stem}.csv")
        return summary

    shift_summary = interval_summary = None
    if by_shift:
        rows = pa.concat_tables([
            sh.backtest_shifts(make_model(n), history, units, origins=origins, horizon=h, coverages=coverages,
                               name=f"{n} {h}")
            for n in names for h in horizons
        ])  # fmt: skip
        shift_summary = write(rows, sh.summarise_shifts(rows), "shifts")
    if intervals:
        rows = pa.concat_tables([
            sh.backtest_intervals(make_model(n), history, units, origins=origins, horizon=h, name=f"{n} {h}")
            for n in names for h in horizons
        ])  # fmt: skip
        interval_summary = write(rows, sh.summarise_intervals(rows), "intervals")
    return shift_summary, interval_summary
