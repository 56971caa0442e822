"""The ``safestreets`` command: one verb, one call into the library.

Errors the user can fix print as one line on stderr with a non-zero exit, never a traceback
(set SAFESTREETS_DEBUG=1 to see one).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from safestreets import __version__
from safestreets.config import DEFAULT_CRS, ENV_VAR, Workspace, resolve_workspace
from safestreets.errors import SafestreetsError
from safestreets.store import get_setting, open_store, set_setting
from safestreets.store.load import LoadOptions, LoadResult
from safestreets.timespec import parse_months

app = typer.Typer(
    name="safestreets",
    help="Crime data for violence reduction: ingest, forecast, plan, account, evaluate, brief.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
areas_app = typer.Typer(help="Boundaries: LSOAs, wards, boroughs, BCUs.", no_args_is_help=True)
places_app = typer.Typer(help="Places that shape risk or tactics: stations, night-time economy.",
                         no_args_is_help=True)  # fmt: skip
fetch_app = typer.Typer(help="Fetch from the data.police.uk API into the store.", no_args_is_help=True)
app.add_typer(areas_app, name="areas")
app.add_typer(places_app, name="places")
app.add_typer(fetch_app, name="fetch")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", envvar=ENV_VAR, help="Workspace folder (holds the DuckDB store)."),
]


@app.callback()
def _root(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"safestreets {__version__}")
        raise typer.Exit()
    ctx.obj = {"workspace": workspace}


def _workspace(ctx: typer.Context, local: Path | None) -> Workspace:
    chosen = local or (ctx.obj or {}).get("workspace")
    return resolve_workspace(chosen)


@contextmanager
def _store(
    ctx: typer.Context, local: Path | None, *, create: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_store(_workspace(ctx, local), create=create)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def _progress(label: str) -> Iterator[Any]:
    """A progress bar on stderr, shown from the first update (so an early error stays one line)."""
    bar = Progress(
        TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), console=err, transient=False,
    )  # fmt: skip
    task = bar.add_task("", total=None)

    def update(what: str, done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, description=what, completed=done, total=total)

    try:
        yield update
    except BaseException:
        bar.live.transient = True  # an error replaces the bar: the user sees one line
        raise
    finally:
        if bar.live.is_started:
            bar.stop()


# --- init / status ---------------------------------------------------------------------------------


@app.command()
def init(
    ctx: typer.Context,
    crs: Annotated[
        str, typer.Option(help="Working CRS in metres (EPSG:27700 in Great Britain).")
    ] = DEFAULT_CRS,
    timezone: Annotated[str, typer.Option(help="Local time zone of the data.")] = "Europe/London",
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a workspace and its store (safe to run again)."""
    from safestreets.geo.project import transformer

    try:
        transformer("EPSG:4326", crs)
    except Exception as exc:
        raise SafestreetsError(f"unknown CRS {crs!r}: give an EPSG code such as EPSG:27700") from exc
    with _store(ctx, workspace) as con:
        loaded = con.execute("SELECT count(*) FROM batches").fetchall()[0][0]
        if loaded and crs != get_setting(con, "crs"):
            raise SafestreetsError(
                f"the store already holds data in {get_setting(con, 'crs')}: start a new workspace to use {crs}"
            )
        set_setting(con, "crs", crs)
        set_setting(con, "timezone", timezone)
    out.print(f"workspace ready: {_workspace(ctx, workspace).root} (CRS {crs}, time zone {timezone})")


@app.command()
def status(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    by_month: Annotated[bool, typer.Option("--by-month", help="Rows per month x crime type.")] = True,
) -> None:
    """What the store holds: months x crime types x forces, rows lacking location, rejected rows."""
    from safestreets.store.queries import status as store_status

    with _store(ctx, workspace, create=False) as con:
        s = store_status(con)
    ws = _workspace(ctx, workspace)
    out.print(f"[bold]{ws.db_path}[/]  CRS {s.crs}, time zone {s.timezone}, {s.batches} loads")
    t = Table("table", "rows", "no location", "months", title="Loaded")
    for name, summ in s.tables.items():
        span = f"{summ.first_month} .. {summ.last_month}" if summ.first_month else "-"
        t.add_row(name, f"{summ.rows:,}", f"{summ.no_location:,}", span)
    out.print(t)
    if s.forces:
        out.print("forces: " + ", ".join(s.forces))
    if by_month and s.matrix:
        _print_matrix(s.matrix)
    if s.areas:
        out.print("areas: " + ", ".join(f"{k} {v:,}" for k, v in s.areas.items()))
        if s.unassigned:
            out.print(f"[yellow]{s.unassigned:,} located events fall outside every loaded area[/]")
    if s.places:
        out.print("places: " + ", ".join(f"{k} {v:,}" for k, v in s.places.items()))
    out.print(f"rejected rows: {s.rejected:,}")
    for column, reason, n in s.rejected_reasons:
        out.print(f"  {n:,} x {column or 'row'}: {reason}")


def _print_matrix(matrix: list[tuple[str, str, str, int]]) -> None:
    types = sorted({m[2] for m in matrix})
    short = {t: "".join(w[0] for w in t.replace("-", " ").split()).upper() for t in types}
    for force in sorted({m[0] for m in matrix}):
        rows: dict[str, dict[str, int]] = {}
        for f, month, ctype, n in matrix:
            if f == force:
                rows.setdefault(month, {})[ctype] = n
        t = Table("month", *[short[c] for c in types], "all", title=f"{force}: events per month x type",
                  box=None, padding=(0, 1))  # fmt: skip
        for month in sorted(rows):
            counts = rows[month]
            t.add_row(month, *[f"{counts.get(c, 0):,}" for c in types], f"{sum(counts.values()):,}")
        # A matrix is only useful whole: print it at its natural width, wider than the terminal if need be.
        Console(width=max(out.width, 12 + 8 * (len(types) + 1)), soft_wrap=True).print(t)
    out.print("  " + "; ".join(f"{short[t]} = {t}" for t in types))


# --- ingest ----------------------------------------------------------------------------------------


@app.command()
def ingest(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A police.uk file, a folder of them, the bulk archive zip, "
                                              "or a force's records file (with --mapping).")],
    kind: Annotated[str | None, typer.Option(help="street, outcomes or stop-and-search (default: from "
                                                  "the header).")] = None,
    mapping: Annotated[Path | None, typer.Option(help="Mapping file (TOML) for a force's own records.")] = None,
    force: Annotated[list[str] | None, typer.Option("--force", help="Keep only these forces (id or name).")] = None,
    months: Annotated[str | None, typer.Option(help="Keep only these months: 2023-01:2023-06, 2023.")] = None,
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows", help="Load good rows; set bad ones aside.")] = False,
    assume_force: Annotated[str | None, typer.Option("--assume-force",
                            help="Force for files that do not say (stop-and-search without a telling name).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Load crime data into the store: each file in one transaction, re-runs add nothing twice."""
    from safestreets import vocab
    from safestreets.ingest import ingest_policeuk
    from safestreets.sources.force_records import ingest_force_records

    opts = LoadOptions(
        forces=frozenset(vocab.force_id(f) for f in force) if force else None,
        months=frozenset(parse_months(months)) if months else None,
        skip_bad_rows=skip_bad_rows,
        force=vocab.force_id(assume_force) if assume_force else None,
    )
    if kind is not None and kind not in ("street", "outcomes", "stop-and-search"):
        raise SafestreetsError(f"unknown --kind {kind!r}: use street, outcomes or stop-and-search")
    with _store(ctx, workspace) as con:
        if mapping is not None:
            results = [ingest_force_records(con, path, mapping, opts)]
        else:
            with _progress("ingest") as update:
                results = ingest_policeuk(con, path, opts, kind=kind, progress=update)
    _print_results(results)


def _print_results(results: list[LoadResult]) -> None:
    loaded = [r for r in results if r.skipped_as is None]
    skipped = [r for r in results if r.skipped_as is not None]
    total = {k: sum(getattr(r, k) for r in loaded) for k in
             ("rows_read", "rows_loaded", "rows_rejected", "rows_filtered", "rows_no_location", "rows_replaced")}  # fmt: skip
    out.print(
        f"{len(loaded)} file(s) loaded, {len(skipped)} already in the store: "
        f"{total['rows_loaded']:,} rows loaded of {total['rows_read']:,} read "
        f"({total['rows_rejected']:,} rejected, {total['rows_filtered']:,} outside the filters, "
        f"{total['rows_no_location']:,} without location, {total['rows_replaced']:,} earlier rows replaced)"
    )


# --- fetch -----------------------------------------------------------------------------------------

BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="API root (for a mirror or a test server).")
]


AttemptsOpt = Annotated[
    int, typer.Option("--max-attempts", min=1, help="Tries per request before giving up.")
]


def _client(base_url: str | None, max_attempts: int = 6) -> Any:
    from safestreets.sources.policeuk_api import DEFAULT_BASE_URL, PoliceUKClient

    return PoliceUKClient(base_url=base_url or DEFAULT_BASE_URL, max_attempts=max_attempts)


def _area(con: duckdb.DuckDBPyConnection, spec: str) -> Any:
    """A bbox "minlon,minlat,maxlon,maxlat", a boundary file, or the code of a loaded area."""
    import shapely

    from safestreets.geo.project import crs_to_lonlat

    parts = spec.split(",")
    if len(parts) == 4:
        try:
            return tuple(float(p) for p in parts)
        except ValueError:
            pass
    if Path(spec).exists():
        return _outline(Path(spec))
    row = con.execute(
        "SELECT geometry FROM areas WHERE code = ? AND geometry IS NOT NULL LIMIT 1", [spec]
    ).fetchall()
    if not row:
        raise SafestreetsError(
            f"--area {spec!r} is not a bbox (minlon,minlat,maxlon,maxlat), a boundary file or a loaded area code"
        )
    geom = shapely.from_wkb(row[0][0])
    crs = get_setting(con, "crs")
    return shapely.transform(
        geom, lambda xy: __import__("numpy").column_stack(crs_to_lonlat(xy[:, 0], xy[:, 1], crs))
    )


def _outline(path: Path) -> Any:
    """The union of every polygon in a boundary file, in lon/lat, whatever its fields."""
    import numpy as np
    import pyogrio
    import shapely

    from safestreets.geo.project import to_crs

    source = f"/vsigzip/{path}" if path.name.endswith(".gz") else str(path)
    try:
        meta, table = pyogrio.read_arrow(source)
    except Exception as exc:
        raise SafestreetsError(
            f"{path}: cannot read as a boundary file ({str(exc).splitlines()[0]})"
        ) from exc
    geom = shapely.union_all(
        shapely.from_wkb(table.column(meta["geometry_name"] or "wkb_geometry").to_pylist())
    )
    crs = meta.get("crs") or "EPSG:4326"
    if crs != "EPSG:4326":
        geom = shapely.transform(
            geom, lambda xy: np.column_stack(to_crs(xy[:, 0], xy[:, 1], src=crs, dst="EPSG:4326"))
        )
    return geom


def _load_api_table(
    con: duckdb.DuckDBPyConnection, table: Any, *, kind: str, label: str, sha256: str, force: str
) -> LoadResult:
    from safestreets.ingest import load_policeuk_table

    return load_policeuk_table(con, table, kind=kind, label=label, sha256=sha256, force=force)


@fetch_app.command("crimes")
def fetch_crimes(
    ctx: typer.Context,
    area: Annotated[str, typer.Option(help="bbox minlon,minlat,maxlon,maxlat; a boundary file; or an area code.")],
    months: Annotated[str, typer.Option(help="Months to fetch: 2024-01:2024-06.")],
    force: Annotated[str, typer.Option(help="The force the area lies in (police.uk id).")],
    base_url: BaseUrlOpt = None,
    max_attempts: AttemptsOpt = 6,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Street-level crimes for an area, month by month, through the same validation as files."""
    from safestreets import vocab
    from safestreets.sources.policeuk_api import (
        area_hash,
        crimes_to_table,
        fetch_street_crimes,
        records_sha256,
    )

    fid = vocab.force_id(force)
    wanted = parse_months(months)
    results = []
    with (
        _store(ctx, workspace) as con,
        _client(base_url, max_attempts) as client,
        _progress("fetch") as update,
    ):
        geom = _area(con, area)
        for month, crimes in fetch_street_crimes(client, geom, wanted, on_progress=update):
            table = crimes_to_table(crimes, vocab.FORCES.get(fid, fid))
            label = f"{client.base_url}crimes-street/all-crime?area={area_hash(geom)[:12]}&date={month}"
            if table.num_rows:
                results.append(_load_api_table(con, table, kind="street", label=label,
                                               sha256=records_sha256(crimes), force=fid))  # fmt: skip
        err.print(client.stats.summary())
    _print_results(results)


@fetch_app.command("stops")
def fetch_stops(
    ctx: typer.Context,
    months: Annotated[str, typer.Option(help="Months to fetch: 2024-01:2024-06.")],
    force: Annotated[str, typer.Option(help="Force (police.uk id): all its stops, with and without location.")],
    base_url: BaseUrlOpt = None,
    max_attempts: AttemptsOpt = 6,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Stop and search records of a force, month by month."""
    from safestreets import vocab
    from safestreets.sources.policeuk_api import fetch_stops_force, records_sha256, stops_to_table

    fid = vocab.force_id(force)
    results = []
    with (
        _store(ctx, workspace) as con,
        _client(base_url, max_attempts) as client,
        _progress("fetch") as update,
    ):
        for month, stops in fetch_stops_force(client, fid, parse_months(months), on_progress=update):
            table = stops_to_table(stops, vocab.FORCES.get(fid, fid))
            label = f"{client.base_url}stops-force?force={fid}&date={month}"
            if table.num_rows:
                results.append(_load_api_table(con, table, kind="stop-and-search", label=label,
                                               sha256=records_sha256(stops), force=fid))  # fmt: skip
        err.print(client.stats.summary())
    _print_results(results)


@fetch_app.command("forces")
def fetch_forces(base_url: BaseUrlOpt = None, max_attempts: AttemptsOpt = 6) -> None:
    """List the forces the API knows."""
    with _client(base_url, max_attempts) as client:
        forces = client.forces()
    t = Table("id", "name")
    for fid, name in sorted(forces.items()):
        t.add_row(fid, name)
    out.print(t)


@fetch_app.command("neighbourhoods")
def fetch_neighbourhoods(
    ctx: typer.Context,
    force: Annotated[str, typer.Argument(help="Force id, e.g. metropolitan.")],
    boundaries: Annotated[bool, typer.Option("--boundaries", help="Also fetch each boundary and load it as "
                                             "areas of kind 'neighbourhood'.")] = False,
    base_url: BaseUrlOpt = None,
    max_attempts: AttemptsOpt = 6,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """A force's neighbourhoods (and, with --boundaries, their outlines as areas)."""
    from safestreets import vocab

    fid = vocab.force_id(force)
    with _client(base_url, max_attempts) as client:
        hoods = client.neighbourhoods(fid)
        if not boundaries:
            t = Table("id", "name", title=f"{fid}: {len(hoods)} neighbourhoods")
            for nid, name in sorted(hoods.items()):
                t.add_row(nid, name)
            out.print(t)
            return
        import shapely

        from safestreets.sources.boundaries import load_areas, neighbourhood_table

        polys = {}
        with _progress("boundaries") as update:
            for i, nid in enumerate(sorted(hoods)):
                update(nid, i, len(hoods))
                polys[nid] = client.neighbourhood_polygon(fid, nid)
            update("", len(hoods), len(hoods))
    with _store(ctx, workspace) as con:
        table = neighbourhood_table(
            {nid: (hoods[nid], shapely.to_wkb(p)) for nid, p in polys.items()},
            fid,
            crs=get_setting(con, "crs"),
        )
        batch = load_areas(con, table, source=f"{client.base_url}{fid}/neighbourhoods", sha256=None,
                           params={"kind": "neighbourhood", "force": fid})  # fmt: skip
    out.print(f"{len(polys)} neighbourhood boundaries loaded (batch {batch})")


# --- areas / places ----------------------------------------------------------------------------------


@areas_app.command("load")
def areas_load(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="GeoJSON (.gz too), GeoPackage or shapefile; or a borough->BCU CSV.")],
    kind: Annotated[str | None, typer.Option(help="lsoa11, lsoa21, msoa21, ward, borough, ... (default: "
                                             "from the field names).")] = None,
    code_field: Annotated[str | None, typer.Option(help="Field holding the area code.")] = None,
    name_field: Annotated[str | None, typer.Option(help="Field holding the area name.")] = None,
    parent_field: Annotated[str | None, typer.Option(help="Field holding the enclosing area's code.")] = None,
    population_field: Annotated[str | None, typer.Option(help="Field holding the population.")] = None,
    layer: Annotated[str | None, typer.Option(help="Layer of a GeoPackage.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Load boundaries (or the borough -> BCU lookup) and assign every event to its areas."""
    from safestreets.sources.boundaries import load_areas, read_areas, read_bcu_lookup
    from safestreets.store.batches import sha256_file

    if not path.exists():
        raise SafestreetsError(f"{path}: no such file")
    with _store(ctx, workspace) as con:
        params = {"kind": kind, "code_field": code_field, "name_field": name_field,
                  "parent_field": parent_field, "population_field": population_field, "layer": layer}  # fmt: skip
        if path.suffix.lower() == ".csv":
            table = read_bcu_lookup(path)
        else:
            table = read_areas(path, crs=get_setting(con, "crs"), kind=kind, code_field=code_field,
                               name_field=name_field, parent_field=parent_field,
                               population_field=population_field, layer=layer)  # fmt: skip
        batch = load_areas(con, table, source=str(path.resolve()), sha256=sha256_file(path), params=params)
        kinds = con.execute(
            "SELECT kind, count(*) FROM areas WHERE batch_id = ? GROUP BY 1", [batch]
        ).fetchall()
    out.print(f"areas loaded (batch {batch}): " + (", ".join(f"{k} {n:,}" for k, n in kinds) or "none new"))


@areas_app.command("list")
def areas_list(ctx: typer.Context, workspace: WorkspaceOpt = None) -> None:
    """Area kinds in the store, with counts and parents."""
    with _store(ctx, workspace, create=False) as con:
        rows = con.execute(
            "SELECT kind, count(*), count(geometry), count(parent), sum(population) FROM areas GROUP BY 1 ORDER BY 1"
        ).fetchall()
    t = Table("kind", "areas", "with boundary", "with parent", "population")
    for kind, n, g, p, pop in rows:
        t.add_row(kind, f"{n:,}", f"{g:,}", f"{p:,}", f"{pop:,.0f}" if pop else "-")
    out.print(t)


@places_app.command("load")
def places_load(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV with coordinates (lon/lat or easting/northing), or GeoJSON points.")],
    kind: Annotated[str | None, typer.Option(help="station, night-time-economy, open-space, ...")] = None,
    name_field: Annotated[str | None, typer.Option(help="Column holding the name.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Load places such as stations."""
    from safestreets.sources.places import load_places, read_places
    from safestreets.store.batches import sha256_file

    if not path.exists():
        raise SafestreetsError(f"{path}: no such file")
    with _store(ctx, workspace) as con:
        table = read_places(path, crs=get_setting(con, "crs"), kind=kind, name_field=name_field)
        batch = load_places(con, table, source=str(path.resolve()), sha256=sha256_file(path),
                            params={"kind": kind, "name_field": name_field})  # fmt: skip
    out.print(f"{table.num_rows:,} places loaded from {path.name} (batch {batch})")


# --- export ----------------------------------------------------------------------------------------


@app.command()
def export(
    ctx: typer.Context,
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="Output file: .csv, .parquet, .geojson or .gpkg.")],
    table: Annotated[str, typer.Option(help="events, stop_searches, outcomes or places.")] = "events",
    fmt: Annotated[str | None, typer.Option("--format", help="csv, parquet, geojson or gpkg (default: from "
                                            "the file name).")] = None,
    months: Annotated[str | None, typer.Option(help="Only these months.")] = None,
    force: Annotated[str | None, typer.Option(help="Only this force.")] = None,
    crime_type: Annotated[list[str] | None, typer.Option("--type", help="Only these crime types.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Write events (or searches, outcomes, places) for QGIS, ArcGIS or analysis, with provenance."""
    from safestreets import vocab
    from safestreets.export import export_table

    where = []
    if months:
        listed = ", ".join(f"'{m}'" for m in parse_months(months))
        where.append(f"strftime(month, '%Y-%m') IN ({listed})")
    if force:
        where.append(f"force = '{vocab.force_id(force)}'")
    if crime_type:
        names = [vocab.canonical_crime_type(t) for t in crime_type]
        if None in names:
            raise SafestreetsError(f"unknown crime type in {crime_type}: use police.uk names, e.g. Robbery")
        where.append("crime_type IN (" + ", ".join(f"'{n}'" for n in names) + ")")
    with _store(ctx, workspace, create=False) as con:
        path, rows = export_table(con, out_path, table=table, fmt=fmt, where=" AND ".join(where) or None,
                                  params={"months": months, "force": force, "types": crime_type})  # fmt: skip
    out.print(f"{rows:,} rows written to {path} (provenance in {path.name}.provenance.json)")


# --- forecast / backtest --------------------------------------------------------------------------

TargetOpt = Annotated[str, typer.Option(help="violence, robbery, burglary, street, public, or police.uk types "
                                        "comma-separated (names or slugs).")]  # fmt: skip
UnitsOpt = Annotated[str, typer.Option("--units", help="grid, or a loaded areas kind: lsoa, ward, borough.")]
CellOpt = Annotated[float, typer.Option("--cell-size", min=25, help="Grid cell size in metres.")]
StudyOpt = Annotated[str, typer.Option("--study-area", help="auto (loaded boroughs), hull (of the events), an "
                                       "areas kind, or kind:code,code.")]  # fmt: skip
SourceOpt = Annotated[str | None, typer.Option(help="Event source: police.uk, police.uk-api, force-records "
                                               "(default: the published data; force records for <1m).")]  # fmt: skip
PoliceFoundOpt = Annotated[bool, typer.Option("--include-police-found", help="Allow Drugs and Possession of "
                                              "weapons in the target (labelled in every output).")]  # fmt: skip
JobsOpt = Annotated[int, typer.Option("--jobs", min=1, help="Worker processes for backtests.")]


@contextmanager
def _user_errors() -> Iterator[None]:
    """Bad option values raised deep inside become one-line user errors."""
    try:
        yield
    except ValueError as exc:
        raise SafestreetsError(str(exc)) from exc


def _task_progress(bar: Any, total: int) -> Any:
    done = [0]

    def step(what: str) -> None:
        done[0] += 1
        bar(what, done[0], total)

    return step


@app.command()
def forecast(
    ctx: typer.Context,
    target: TargetOpt = "violence",
    horizon: Annotated[str, typer.Option(help="1m (a month), 3m, 1w, 7d, 1d.")] = "1m",
    model: Annotated[str, typer.Option(help="auto, naive, ewma, kde, prospective, etas, gbm or ensemble.")] = "auto",
    units: UnitsOpt = "grid",
    cell_size: CellOpt = 250.0,
    study_area: StudyOpt = "auto",
    rank_by: Annotated[str, typer.Option("--rank-by", help="harm (expected harm) or count.")] = "harm",
    harm_scheme: Annotated[str, typer.Option("--harm-scheme", help="cchi (Cambridge) or ons.")] = "cchi",
    harm_table: Annotated[Path | None, typer.Option("--harm-table", help="CSV crime_type,weight overriding "
                                                    "the scheme.")] = None,
    source: SourceOpt = None,
    force: Annotated[str | None, typer.Option(help="Only this force's events.")] = None,
    until: Annotated[str | None, typer.Option(help="Forecast from this time (e.g. 2024-06); default: just "
                                              "after the data.")] = None,
    include_police_found: PoliceFoundOpt = False,
    top: Annotated[int, typer.Option(min=0, help="Hotspots to list per command unit.")] = 5,
    out_paths: Annotated[list[Path] | None, typer.Option("--out", help="Write the surface here (.gpkg or "
                         ".geojson; repeatable). Default: both, in the workspace outputs folder.")] = None,
    jobs: JobsOpt = 2,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Forecast where harm will concentrate next; store, export and list the top hotspots per BCU."""
    from safestreets.forecast import MODELS
    from safestreets.forecast.run import run_forecast
    from safestreets.forecast.store import export_surface

    if model != "auto" and model not in MODELS:
        raise SafestreetsError(f"unknown model {model!r}: choose auto or one of {', '.join(MODELS)}")
    ws = _workspace(ctx, workspace)
    with _store(ctx, workspace, create=False) as con, _user_errors(), _progress("choosing model") as bar:
        step = _task_progress(bar, len(MODELS) * 6)
        run = run_forecast(
            con,
            target=target,
            horizon=horizon,
            model=model,
            units_kind=units,
            cell_size=cell_size,
            study=study_area,
            rank_by=rank_by,
            harm_scheme=harm_scheme,
            harm_table=str(harm_table) if harm_table else None,
            source=source,
            force=force,
            until=until,
            include_police_found=include_police_found,
            n_jobs=jobs,
            progress=step,
        )
        assert run.run_id is not None
        meta = run.surface.meta
        window = f"{meta['window'][0][:10]}..{meta['window'][1][:10]}"
        slug = f"forecast-{meta['data']['target']['name'].replace(',', '+').replace(' ', '_')}-{window[:10]}"
        paths = out_paths or [ws.outputs / f"{slug}.gpkg", ws.outputs / f"{slug}.geojson"]
        written = [export_surface(con, run.run_id, p) for p in paths]
    _print_surface(run, top)
    for p in written:
        out.print(f"risk surface written to {p}")


def _print_surface(run: Any, top: int) -> None:
    from safestreets.forecast.surface import top_per_group
    from safestreets.forecast.targets import POLICE_FOUND_LABEL
    from safestreets.geo.project import to_crs

    s = run.surface
    meta = s.meta
    target = meta["data"]["target"]
    out.print(
        f"[bold]{target['name']}[/] forecast for {meta['window'][0][:10]} to {meta['window'][1][:10]} "
        f"(model {run.model}; {len(s.units):,} {s.units.kind} units; ranked by expected {s.rank_by})"
    )
    out.print(f"why this model: {run.reason}")
    if target.get("police_found"):
        out.print(f"[yellow]warning:[/] {POLICE_FOUND_LABEL}")
    if top == 0:
        return
    groups = top_per_group(s.scores, s.units.area, s.units.bcu, top)
    lon, lat = to_crs(s.units.x, s.units.y, src=s.units.crs, dst="EPSG:4326")
    table = Table(title=f"Top {top} hotspots per command unit", show_lines=False)
    for col in ("BCU", "rank", "unit", "expected count", "expected harm", "centre (lat, lon)"):
        table.add_column(
            col, justify="right" if col in ("rank", "expected count", "expected harm") else "left"
        )
    ranks = s.ranks()
    for g, idx in groups.items():
        for i in idx:
            table.add_row(g, str(ranks[i]), str(s.units.ids[i]), f"{s.expected_count[i]:.2f}",
                          f"{s.expected_harm[i]:.0f}", f"{lat[i]:.5f}, {lon[i]:.5f}")  # fmt: skip
    out.print(table)


@app.command()
def backtest(
    ctx: typer.Context,
    models: Annotated[str, typer.Option(help="all, or names comma-separated (naive,kde,etas,...).")] = "all",
    origins: Annotated[int, typer.Option(min=1, help="How many most recent origins.")] = 12,
    horizon: Annotated[str, typer.Option(help="Horizons, comma-separated: 1m, 1w, 7d ...")] = "1m",
    target: TargetOpt = "violence",
    units: UnitsOpt = "grid",
    cell_size: CellOpt = 250.0,
    study_area: StudyOpt = "auto",
    coverages: Annotated[str, typer.Option(help="Coverage levels in % of the area, comma-separated.")] = "1,5,10",
    rank_by: Annotated[str, typer.Option("--rank-by", help="count or harm.")] = "count",
    source: SourceOpt = None,
    force: Annotated[str | None, typer.Option(help="Only this force's events.")] = None,
    include_police_found: PoliceFoundOpt = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the tables and chart (default: "
                                                 "the workspace outputs folder).")] = None,
    jobs: JobsOpt = 2,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Rolling-origin backtest: hit rate, PAI, PEI, harm captured, deviance and stability per model."""
    import json

    import pyarrow.csv as pacsv

    from safestreets.evaluate.backtest import backtest as run_backtest
    from safestreets.evaluate.backtest import summarise
    from safestreets.evaluate.charts import coverage_chart
    from safestreets.forecast import MODELS, make_model
    from safestreets.forecast.data import load_history, load_units
    from safestreets.forecast.history import Horizon
    from safestreets.forecast.targets import parse_target

    names = list(MODELS) if models.strip() == "all" else [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown or not names:
        raise SafestreetsError(f"unknown model(s) {', '.join(unknown) or '(none)'}: choose all or from "
                               f"{', '.join(MODELS)}")  # fmt: skip
    ws = _workspace(ctx, workspace)
    with _store(ctx, workspace, create=False) as con, _user_errors():
        hs = [Horizon.parse(h) for h in horizon.split(",") if h.strip()]
        try:
            covs = [float(c) / 100 for c in coverages.split(",") if c.strip()]
        except ValueError:
            raise SafestreetsError(f"bad --coverages {coverages!r}: use percentages such as 1,5,10") from None
        tgt = parse_target(target, allow_police_found=include_police_found)
        history = load_history(
            con, tgt, source=source, force=force, need_timestamps=any(h.unit == "D" for h in hs)
        )
        grid = load_units(con, units, cell_size=cell_size, study=study_area, history=history)
        with _progress("backtest") as bar:
            step = _task_progress(bar, len(names) * origins * len(hs))
            result = run_backtest({n: make_model(n) for n in names}, history, grid, origins=origins, horizons=hs,
                                  coverages=covs, rank_by=rank_by, n_jobs=jobs, progress=step)  # fmt: skip
    summary = summarise(result.metrics)
    folder = out_dir or ws.outputs / f"backtest-{tgt.name.replace(',', '+').replace(' ', '_')}"
    folder.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(result.metrics, folder / "metrics.csv")
    pacsv.write_csv(summary, folder / "summary.csv")
    pacsv.write_csv(result.curves, folder / "coverage_curves.csv")
    chart = coverage_chart(
        result.curves,
        folder / "coverage.png",
        title=f"{tgt.name}: share of next-period crime captured ({len(grid):,} {grid.kind} units)",
    )
    (folder / "provenance.json").write_text(
        json.dumps(
            {
                **result.params,
                "models": {n: make_model(n).get_params(deep=False) for n in names},
                "origins": origins,
                "horizons": [str(h) for h in hs],
                "version": __version__,
            },
            indent=2,
            default=str,
        ),
        "utf-8",
    )
    _print_summary(summary, tgt.label)
    out.print(f"tables in {folder} (metrics.csv, summary.csv); coverage chart {chart}")


def _print_summary(summary: Any, label: str) -> None:
    data = summary.to_pylist()
    table = Table(title=f"Backtest: {label} (mean over origins, 95% bootstrap interval)")
    for col in (
        "model",
        "horizon",
        "coverage",
        "hit rate",
        "PAI",
        "PEI",
        "harm captured",
        "stability",
        "fit s",
    ):
        table.add_column(col, justify="left" if col in ("model", "horizon") else "right")
    for r in data:
        table.add_row(
            r["model"], r["horizon"], f"{r['coverage']:.0%}",
            f"{r['hit_rate']:.1%} [{r['hit_rate_lo']:.1%}, {r['hit_rate_hi']:.1%}]",
            f"{r['pai']:.1f}", f"{r['pei']:.2f}", f"{r['harm_captured']:.1%}",
            "-" if r["stability"] != r["stability"] else f"{r['stability']:.2f}", f"{r['fit_seconds']:.2f}",
        )  # fmt: skip
    out.print(table)


# --- plan / hubs / brief ---------------------------------------------------------------------------

RunOpt = Annotated[
    int | None, typer.Option("--forecast-run", help="Forecast run to use (default: the latest).")
]
WeekOpt = Annotated[str | None, typer.Option("--week", help="First day of the week (YYYY-MM-DD); default: the "
                                             "first Monday of the forecast window.")]  # fmt: skip


def _date(text: str | None, what: str) -> Any:
    from datetime import date

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SafestreetsError(f"{what} must be a date like 2025-01-06, not {text!r}") from None


@app.command()
def plan(
    ctx: typer.Context,
    resources: Annotated[Path | None, typer.Option(help="CSV bcu,shift,teams (bcu * = a citywide pool; "
                                                   "'all' where no BCUs are loaded).")] = None,
    teams: Annotated[int, typer.Option(min=0, help="Without --resources: teams per BCU and shift.")] = 2,
    week: WeekOpt = None,
    forecast_run: RunOpt = None,
    solver: Annotated[str, typer.Option(help="auto (greedy, MILP when the gap is too wide), milp or heuristic.")] = "auto",
    visit_minutes: Annotated[float, typer.Option("--visit-minutes", help="Visit length, 10-16 (Koper).")] = 15.0,
    min_gap: Annotated[float, typer.Option("--min-gap", help="Minutes between visits to one hot spot.")] = 120.0,
    patrol_radius: Annotated[float, typer.Option("--patrol-radius", help="Metres from a patrol area's centre.")] = 600.0,
    min_bcu_share: Annotated[float, typer.Option("--min-bcu-share", help="Least share of visits per BCU.")] = 0.0,
    cap_share: Annotated[float, typer.Option("--cap-share", help="Most share of a BCU's visits one "
                                             "neighbourhood takes over --cap-weeks.")] = 0.25,
    cap_weeks: Annotated[int, typer.Option("--cap-weeks", min=1, help="Weeks the cap looks over.")] = 4,
    effect: Annotated[float, typer.Option(help="Dosage: share of harm prevented while a visit protects.")] = 0.5,
    decay: Annotated[float, typer.Option(help="Dosage: weight of each further visit in a shift.")] = 0.8,
    gap: Annotated[float, typer.Option("--gap", help="Optimality gap to accept.")] = 0.005,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds for the MILP.")] = 60.0,
    cards: Annotated[bool, typer.Option("--cards/--no-cards", help="Write printable patrol cards.")] = True,
    seed: Annotated[int | None, typer.Option(help="Seed for visit times (default: fresh each plan).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Plan hot spot patrols for a week from the latest forecast: teams, areas, hot spots, visit times."""
    from safestreets.plan.cards import write_cards
    from safestreets.plan.resources import Resources, Rules, read_resources
    from safestreets.plan.run import crs_of, export_plan, read_surface, run_plan

    ws = _workspace(ctx, workspace)
    with _store(ctx, workspace, create=False) as con, _user_errors():
        rules = Rules(visit_minutes=visit_minutes, min_gap_minutes=min_gap, patrol_radius_m=patrol_radius,
                      min_bcu_share=min_bcu_share, cap_share=cap_share, cap_weeks=cap_weeks, effect=effect,
                      decay=decay)  # fmt: skip
        if resources is not None:
            res = read_resources(resources, rules.shifts)
        else:
            surface = read_surface(con, forecast_run)
            # slivers of neighbouring command units at the study area's edge get no teams of their own
            share = {b: float(surface.area_m2[surface.bcu == b].sum() / surface.area_m2.sum())
                     for b in set(surface.bcu) - {""}}  # fmt: skip
            bcus = sorted(b for b, v in share.items() if v >= 0.02)
            skipped = sorted(set(share) - set(bcus))
            if skipped:
                err.print(f"note: no teams for {', '.join(skipped)} (under 2% of the forecast's area)")
            res = Resources.uniform(bcus, rules.shifts, teams)
        err.print("planning ...")
        run = run_plan(con, res, rules, forecast_run=forecast_run, week=_date(week, "--week"), solver=solver,
                       target_gap=gap, time_limit=time_limit, seed=seed)  # fmt: skip
        files = export_plan(run, ws.outputs, crs_of(con))
    if cards:
        files += write_cards(run, ws.outputs)
    p = run.plan
    out.print(f"[bold]patrol plan {run.plan_id}[/] for the week of {run.week_start} from forecast run "
              f"{run.surface.run_id}: {len(p.teams)} team-shifts; expected harm prevented {p.objective:,.0f} a week "
              f"(bound {p.bound:,.0f}, gap {p.gap:.2%}, {p.solver}, {p.seconds:.1f} s)")  # fmt: skip
    table = Table(title="Per BCU")
    for col in ("BCU", "team-shifts", "hot spots", "visits a day", "harm prevented a week"):
        table.add_column(col, justify="left" if col == "BCU" else "right")
    for r in p.by_bcu():
        table.add_row(r["bcu"], str(r["teams"]), str(r["hotspots"]), str(r["visits_per_day"]),
                      f"{r['harm_prevented_week']:,.0f}")  # fmt: skip
    out.print(table)
    for note in run.notes:
        out.print(f"note: {note}")
    for f in files:
        out.print(f"written: {f}")


@app.command()
def hubs(
    ctx: typer.Context,
    budget: Annotated[int, typer.Option(min=0, help="Knife-arch / drug-dog deployments this week.")] = 5,
    catchment: Annotated[float, typer.Option(help="Metres around a hub that count.")] = 400.0,
    kinds: Annotated[str, typer.Option(help="Place kinds that are hubs, comma-separated.")] = "station",
    sweeps: Annotated[int, typer.Option(min=0, help="Weapons-sweep places to suggest (0: none).")] = 5,
    incident: Annotated[str | None, typer.Option(help="After a serious incident: 'lat,lon' (or x,y in "
                                                 "metres) to show the risk and past Section 60 outcomes around it.")] = None,
    when: Annotated[str | None, typer.Option(help="The incident's local time, e.g. 2025-01-10T22:30.")] = None,
    out_csv: Annotated[Path | None, typer.Option("--out", help="Write the deployments as CSV here.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Rank transport hubs for knife arches and drug dogs, suggest weapons sweeps, and give decision support
    after a serious incident (never an authorisation)."""
    from safestreets.plan.hubs import rank_hubs
    from safestreets.plan.incident import incident_context, parse_place

    ws = _workspace(ctx, workspace)
    with _store(ctx, workspace, create=False) as con, _user_errors():
        ranking = rank_hubs(con, None, kinds=tuple(k.strip() for k in kinds.split(",") if k.strip()),
                            catchment_m=catchment, budget=budget)  # fmt: skip
        lines = ranking.lines()
        if sweeps:
            lines += ["", *_sweeps(con, sweeps)]
        if incident is not None:
            if when is None:
                raise SafestreetsError("--incident needs --when (the incident's local time)")
            place = parse_place(incident, con)
            lines += ["", *incident_context(con, None, when=when, x=place.x, y=place.y).lines()]
        path = out_csv or ws.outputs / "hub-deployments.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        import pyarrow.csv as pacsv

        pacsv.write_csv(ranking.deployments, path)
    for line in lines:
        out.print(line, highlight=False)
    out.print(f"written: {path}")


@app.command()
def hotspots(
    ctx: typer.Context,
    forecast_run: RunOpt = None,
    periods: Annotated[int, typer.Option(min=3, help="Periods (weeks for timestamped data, else months).")] = 12,
    top: Annotated[int, typer.Option(min=0, help="Changes to list.")] = 15,
    out_paths: Annotated[list[Path] | None, typer.Option("--out", help="Write the classification here (.gpkg "
                         "or .geojson; repeatable). Default: both, plus a map, in the outputs folder.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Emerging, persistent and diminishing hot spots on the latest forecast's units: what changed."""
    from safestreets.plan.run import read_surface
    from safestreets.trends.charts import emerging_map
    from safestreets.trends.run import emerging_for_forecast, export_emerging

    ws = _workspace(ctx, workspace)
    with _store(ctx, workspace, create=False) as con, _user_errors():
        surface = read_surface(con, forecast_run)
        err.print("classifying ...")
        em, units = emerging_for_forecast(con, surface.provenance, surface.window[0], periods=periods)
        stem = f"hotspots-{em.window().replace(' ', '')}"
        paths = out_paths or [ws.outputs / f"{stem}.gpkg", ws.outputs / f"{stem}.geojson"]
        written = [export_emerging(em, units, p, crs=get_setting(con, "crs")) for p in paths]
        if not out_paths:
            written.append(emerging_map(em, units, ws.outputs / f"{stem}.png"))
    p = em.params
    out.print(
        f"[bold]emerging hot spots[/], {em.window()} ({p['periods']} periods of {p['period']}, "
        f"alpha {p['alpha']}{', FDR' if p['fdr'] else ''}) on {len(units):,} {units.kind} units"
    )
    out.print("  " + ", ".join(f"{k} {v:,}" for k, v in em.summary().items()), highlight=False)
    if top:
        table = Table(title="What changed")
        for col in ("unit", "BCU", "category", "last period", "mean before", "trend z"):
            table.add_column(col, justify="right" if col in ("last period", "mean before", "trend z") else "left",
                             no_wrap=col == "unit", min_width=14 if col == "unit" else None)  # fmt: skip
        for c in em.changes(limit=top):
            table.add_row(c.unit_id, c.bcu, c.category, f"{c.last_count:.0f}", f"{c.mean_before:.1f}",
                          f"{c.trend_z:+.2f}")  # fmt: skip
        out.print(table)
    for f in written:
        out.print(f"written: {f}")


def _sweeps(con: duckdb.DuckDBPyConnection, limit: int) -> list[str]:
    """Sweep places near lasting hot spots (persistent, intensifying, consecutive) where the history
    allows the classification; near the forecast's riskiest cells otherwise."""
    import numpy as np

    from safestreets.plan.run import read_surface
    from safestreets.plan.sweeps import suggest_sweeps
    from safestreets.trends.run import LASTING, emerging_for_forecast

    surface = read_surface(con)
    try:
        em, units = emerging_for_forecast(con, surface.provenance, surface.window[0])
    except (SafestreetsError, ValueError) as exc:
        return [
            *suggest_sweeps(con, None, limit=limit).lines(),
            f"  note: lasting hot spots not classified ({exc})",
        ]
    lasting = np.isin(em.category, LASTING)
    if not lasting.any():
        return [
            *suggest_sweeps(con, None, limit=limit).lines(),
            "  note: no lasting hot spots: near the riskiest cells",
        ]
    return [
        *suggest_sweeps(con, None, hot_cells=lasting, hot_units=units, limit=limit).lines(),
        f"  hot spots: {int(lasting.sum())} persistent, intensifying or consecutive units, {em.window()}",
    ]


@app.command()
def brief(
    ctx: typer.Context,
    week: WeekOpt = None,
    forecast_run: RunOpt = None,
    plan_id: Annotated[int | None, typer.Option("--plan", help="Plan to include (default: the week's latest).")] = None,
    hubs_budget: Annotated[int, typer.Option("--hubs", min=0, help="Hub deployments to show.")] = 5,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write the PDF.")] = True,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder (default: the workspace outputs).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Write the weekly tactical assessment (HTML and PDF) from the store."""
    from safestreets.report.brief import write_brief

    ws = _workspace(ctx, workspace)
    with _store(ctx, workspace, create=False) as con, _user_errors(), _progress("briefing") as bar:
        step = _task_progress(bar, 6)
        result = write_brief(con, out_dir or ws.outputs, week=_date(week, "--week"), forecast_run=forecast_run,
                             plan_id=plan_id, hubs_budget=hubs_budget, pdf=pdf, progress=step)  # fmt: skip
    for line in result.context["summary"]:
        out.print(f"- {line}", highlight=False)
    out.print(f"briefing written to {result.html}")
    if result.pdf:
        out.print(f"briefing written to {result.pdf}")


# --- demo ------------------------------------------------------------------------------------------


@app.command()
def demo(
    ctx: typer.Context,
    events: Annotated[int, typer.Option(help="Street-level crimes in the synthetic city.")] = 60_000,
    months: Annotated[int, typer.Option(help="Months of data.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same city.")] = 7,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """The whole job on the built-in synthetic city: generate, ingest, summarise, export."""
    from safestreets.pipeline import run_demo

    ws = _workspace(ctx, workspace).ensure()
    summary = run_demo(ws, n_events=events, months=months, seed=seed, progress_console=err)
    for line in summary:
        out.print(line)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 1."""
    debug = bool(os.environ.get("SAFESTREETS_DEBUG"))
    try:
        app(standalone_mode=False)
    except SafestreetsError as exc:
        if debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("interrupted: the file being loaded was rolled back; earlier files stay loaded\n")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: Typer's own one-line message
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            sys.stderr.write(f"error: {exc.format_message()}\n")
        sys.exit(exc.exit_code)
    except Exception as exc:
        if debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        sys.stderr.write(
            f"error: unexpected {type(exc).__name__}: {first} (set SAFESTREETS_DEBUG=1 for details)\n"
        )
        sys.exit(2)
