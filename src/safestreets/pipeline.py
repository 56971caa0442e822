"""The main job end to end, as ``make demo`` runs it on the built-in synthetic city.

Generate the city, load its boundaries and places, ingest its police.uk files and its timestamped force
records, export the events for GIS, forecast next month's violence (model chosen by backtest), plan a
week of hot spot patrols, and write the tactical assessment (HTML and PDF).
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from safestreets.config import Workspace
from safestreets.geo.export import export_table
from safestreets.sources.boundaries import read_areas, read_bcu_lookup
from safestreets.sources.places import read_places
from safestreets.sources.synthetic import CityConfig, generate_city
from safestreets.store import get_setting, open_store
from safestreets.store.areas import load_areas
from safestreets.store.batches import sha256_file
from safestreets.store.ingest import ingest_policeuk
from safestreets.store.places import load_places
from safestreets.store.queries import status
from safestreets.store.records import ingest_force_records

PLACE_KINDS = {"stations": "station", "night_time_economy": "night-time-economy", "open_spaces": "open-space"}


def run_demo(
    ws: Workspace,
    *,
    n_events: int = 60_000,
    months: int = 24,
    seed: int = 7,
    progress_console: Console | None = None,
) -> list[str]:
    """Run the demo into ``ws``; return the summary lines to print. Safe to run again: nothing loads twice."""
    console = progress_console or Console(stderr=True)
    started = time.perf_counter()
    city_dir = ws.root / "synthetic-city"
    manifest = generate_city(city_dir, CityConfig(seed=seed, n_events=n_events, months=months))
    con = open_store(ws)
    try:
        load_city_areas_and_places(con, city_dir)
        with Progress(
            TextColumn("[bold]ingest[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=console,
        ) as bar:  # fmt: skip
            task = bar.add_task("", total=None)
            ingest_policeuk(
                con,
                city_dir / "police_uk",
                progress=lambda what, done, total: bar.update(
                    task, description=what, completed=done, total=total
                ),
            )
        for records in sorted((city_dir / "force_records").glob("*-records.csv")):
            mapping = records.with_name(records.name.replace("-records.csv", "-mapping.toml"))
            ingest_force_records(con, records, mapping)
        ws.outputs.mkdir(parents=True, exist_ok=True)
        gpkg, n_gpkg = export_table(con, ws.outputs / "events.gpkg", where="source = 'police.uk'")
        parquet, _ = export_table(con, ws.outputs / "events.parquet")
        s = status(con)
        forecast_lines = _demo_forecast(con, ws, console)
        plan_lines = _demo_plan_and_brief(con, ws, console)
    finally:
        con.close()
    ev = s.tables["events"]
    return [
        f"synthetic city: {', '.join(manifest.forces)}, {len(manifest.months)} months "
        f"({manifest.months[0]}..{manifest.months[-1]}), seed {seed}",
        f"store: {ws.db_path}",
        f"  events {ev.rows:,} ({ev.no_location:,} without location), "
        f"stop and search {s.tables['stop_searches'].rows:,}, outcomes {s.tables['outcomes'].rows:,}",
        "  areas "
        + ", ".join(f"{k} {v:,}" for k, v in s.areas.items())
        + "; places "
        + ", ".join(f"{k} {v:,}" for k, v in s.places.items()),
        f"outputs: {ws.outputs}",
        f"  {_rel(gpkg, ws.root)} ({n_gpkg:,} police.uk events for QGIS), {_rel(parquet, ws.root)}",
        *forecast_lines,
        *plan_lines,
        f"done in {time.perf_counter() - started:.1f} s",
    ]


def load_city_areas_and_places(con: duckdb.DuckDBPyConnection, city_dir: Path) -> None:
    """Load a synthetic city's boroughs, LSOAs, borough-to-BCU lookup and places into the store."""
    crs = get_setting(con, "crs")
    boundaries = city_dir / "boundaries"
    for path in (boundaries / "boroughs.geojson", boundaries / "lsoa.geojson"):
        load_areas(con, read_areas(path, crs=crs), source=str(path), sha256=sha256_file(path),
                   params={"kind": None})  # fmt: skip
    lookup = boundaries / "borough_to_bcu.csv"
    load_areas(con, read_bcu_lookup(lookup), source=str(lookup), sha256=sha256_file(lookup), params={})
    for path in sorted((city_dir / "places").glob("*.csv")):
        load_places(con, read_places(path, crs=crs), source=str(path), sha256=sha256_file(path), params={})


def _demo_forecast(con: duckdb.DuckDBPyConnection, ws: Workspace, console: Console) -> list[str]:
    """Next month's violence on a 250 m grid, the model chosen by backtest; surface and coverage chart out."""
    from safestreets.evaluate.charts import coverage_chart
    from safestreets.evaluate.forecast_run import run_forecast
    from safestreets.forecast import MODELS
    from safestreets.forecast.store import export_surface
    from safestreets.forecast.surface import top_per_group

    with Progress(
        TextColumn("[bold]choosing model[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), console=console,
    ) as bar:  # fmt: skip
        total = len(MODELS) * 4
        task = bar.add_task("", total=total)
        run = run_forecast(con, target="violence", horizon="1m", model="auto", n_jobs=2, auto_origins=4,
                           progress=lambda what: bar.update(task, description=what, advance=1))  # fmt: skip
    assert run.run_id is not None and run.choice is not None
    window = run.surface.meta["window"][0][:7]
    gpkg = export_surface(con, run.run_id, ws.outputs / f"forecast-violence-{window}.gpkg")
    geojson = export_surface(con, run.run_id, ws.outputs / f"forecast-violence-{window}.geojson")
    chart = coverage_chart(
        run.choice.result.curves,
        ws.outputs / "backtest-violence-coverage.png",
        title="Violence: share of next month's crime captured (last 4 months)",
    )
    s = run.surface
    tops = top_per_group(s.scores, s.units.area, s.units.bcu, 1)
    hot = ", ".join(f"{bcu} {s.units.ids[idx[0]]}" for bcu, idx in tops.items())
    return [
        f"forecast: violence for {window} on {len(s.units):,} grid cells of 250 m, model {run.model}",
        f"  why: {run.reason}",
        f"  top cell per BCU: {hot}",
        f"  {_rel(gpkg, ws.root)}, {_rel(geojson, ws.root)}, {_rel(chart, ws.root)}",
    ]


def _demo_plan_and_brief(con: duckdb.DuckDBPyConnection, ws: Workspace, console: Console) -> list[str]:
    """Two teams per BCU and shift on the forecast, patrol cards, then the briefing for that week."""
    from safestreets.forecast.store import read_surface
    from safestreets.plan.resources import Resources, Rules
    from safestreets.plan.run import crs_of, export_plan, run_plan
    from safestreets.report.brief import write_brief
    from safestreets.report.cards import write_cards

    rules = Rules()
    bcus = sorted(set(read_surface(con).bcu) - {""})
    run = run_plan(con, Resources.uniform(bcus, rules.shifts, 2), rules, seed=7)
    files = export_plan(run, ws.outputs, crs_of(con)) + write_cards(run, ws.outputs)
    with Progress(TextColumn("[bold]briefing[/]"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:  # fmt: skip
        task = bar.add_task("", total=6)
        brief = write_brief(con, ws.outputs, week=run.week_start, plan_id=run.plan_id,
                            progress=lambda what: bar.update(task, description=what, advance=1))  # fmt: skip
    p = run.plan
    return [
        f"plan: week of {run.week_start}, {len(p.teams)} team-shifts over {len(bcus)} BCUs, "
        f"{int(p.visits.sum())} visits a day; expected harm prevented {p.objective:,.0f} a week "
        f"(gap {p.gap:.2%}, {p.solver})",
        "  " + ", ".join(_rel(f, ws.root) for f in files if f.suffix in (".csv", ".geojson", ".pdf")),
        f"briefing: {_rel(brief.html, ws.root)}" + (f", {_rel(brief.pdf, ws.root)}" if brief.pdf else ""),
    ]


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
