"""Data commands: init, status, ingest, fetch, areas, places, export. Each parses, calls the API once,
renders."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from safestreets.api import IngestReport, Workspace
from safestreets.api.results import Listing
from safestreets.cli.common import (
    Fmt,
    FormatOpt,
    WorkspaceOpt,
    batch_priority,
    emit,
    err,
    named_workspace,
    open_workspace,
    out,
    progress,
)
from safestreets.config import DEFAULT_CRS

areas_app = typer.Typer(help="Boundaries: LSOAs, wards, boroughs, BCUs.", no_args_is_help=True)
places_app = typer.Typer(help="Places that shape risk or tactics: stations, night-time economy.",
                         no_args_is_help=True)  # fmt: skip
fetch_app = typer.Typer(help="Fetch from the data.police.uk API into the store.", no_args_is_help=True)


class Kind(StrEnum):
    street = "street"
    outcomes = "outcomes"
    stop_and_search = "stop-and-search"


class ExportTable(StrEnum):
    events = "events"
    stop_searches = "stop_searches"
    outcomes = "outcomes"
    places = "places"


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    geojson = "geojson"
    gpkg = "gpkg"


def init(
    ctx: typer.Context,
    crs: Annotated[
        str, typer.Option(help="Working CRS in metres (EPSG:27700 in Great Britain).")
    ] = DEFAULT_CRS,
    timezone: Annotated[str, typer.Option(help="Local time zone of the data (IANA name).")] = "Europe/London",
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a workspace and its store, or repair its settings (safe to run again)."""
    ws = Workspace.init(named_workspace(ctx, workspace), crs=crs, timezone=timezone)
    out.print(f"workspace ready: {ws.root} (CRS {crs}, time zone {timezone})")


def status(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    by_month: Annotated[
        bool, typer.Option("--by-month/--no-by-month", help="Rows per month x crime type.")
    ] = True,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """What the store holds: months x crime types x forces, gaps, rows lacking location, rejected rows."""
    with open_workspace(ctx, workspace) as ws:
        report = ws.status()
    if fmt is not Fmt.table:
        emit(report.to_pylist(), ("force", "month", "crime_type", "rows"), fmt)
        return
    s = report.status
    out.print(f"[bold]{report.path}[/]  CRS {s.crs}, time zone {s.timezone}, {s.batches} loads")
    t = Table("table", "rows", "no location", "months", title="Loaded")
    for name, summ in s.tables.items():
        span = f"{summ.first_month} .. {summ.last_month}" if summ.first_month else "-"
        t.add_row(name, f"{summ.rows:,}", f"{summ.no_location:,}", span)
    out.print(t)
    if s.forces:
        out.print("forces: " + ", ".join(s.forces))
    for what, first, last, n in s.gaps:
        span = first if first == last else f"{first} .. {last}"
        out.print(f"[yellow]gap:[/] {what} has no rows for {span} ({n} month{'s' * (n > 1)}): not zero crime, "
                  "missing data", highlight=False)  # fmt: skip
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


def ingest(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A police.uk file, a folder of them, the bulk archive zip, "
                                              "or a force's records file (with --mapping).")],
    kind: Annotated[Kind | None, typer.Option(case_sensitive=False, help="Kind of police.uk file (default: "
                                              "from the header).")] = None,
    mapping: Annotated[Path | None, typer.Option(help="Mapping file (TOML) for a force's own records.")] = None,
    force: Annotated[list[str] | None, typer.Option("--force", help="Keep only these forces (id or name).")] = None,
    months: Annotated[str | None, typer.Option(help="Keep only these months: 2023-01:2023-06, 2023.")] = None,
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows/--no-skip-bad-rows",
                             help="Load good rows and set bad ones aside (default: a bad row stops the file).")] = False,
    assume_force: Annotated[str | None, typer.Option("--assume-force",
                            help="Force for files that do not say (stop-and-search without a telling name).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Load crime data into the store: each file in one transaction, re-runs add nothing twice."""
    from safestreets.errors import InputError

    if not path.exists():  # before any workspace is made
        raise InputError(path, "no such file or folder")
    batch_priority()
    with open_workspace(ctx, workspace, load=True) as ws, progress("ingest") as update:
        report = ws.ingest(path, kind=kind.value if kind else None, mapping=mapping, forces=force, months=months,
                           skip_bad_rows=skip_bad_rows, assume_force=assume_force, progress=update)  # fmt: skip
    _print_report(report)


def _print_report(report: IngestReport) -> None:
    if report.api_summary:
        err.print(report.api_summary)
    out.print(report.summary())
    for note in report.notes:
        out.print(f"note: {note}")


BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="API root (for a mirror or a test server).")
]
AttemptsOpt = Annotated[
    int, typer.Option("--max-attempts", min=1, help="Tries per request before giving up.")
]


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
    with open_workspace(ctx, workspace, load=True) as ws, progress("fetch") as update:
        report = ws.fetch_crimes(area=area, months=months, force=force, base_url=base_url,
                                 max_attempts=max_attempts, progress=update)  # fmt: skip
    _print_report(report)


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
    with open_workspace(ctx, workspace, load=True) as ws, progress("fetch") as update:
        report = ws.fetch_stops(months=months, force=force, base_url=base_url, max_attempts=max_attempts,
                                progress=update)  # fmt: skip
    _print_report(report)


@fetch_app.command("forces")
def fetch_forces(
    base_url: BaseUrlOpt = None, max_attempts: AttemptsOpt = 6, fmt: FormatOpt = Fmt.table
) -> None:
    """List the forces the API knows."""
    from safestreets.api import data

    _print_listing(data.forces(base_url=base_url, max_attempts=max_attempts), fmt)


def _print_listing(listing: Listing, fmt: Fmt) -> None:
    emit(listing.rows, listing.columns, fmt, title=listing.title)


@fetch_app.command("neighbourhoods")
def fetch_neighbourhoods(
    ctx: typer.Context,
    force: Annotated[str, typer.Argument(help="Force id, e.g. metropolitan.")],
    boundaries: Annotated[bool, typer.Option("--boundaries/--no-boundaries", help="Also fetch each boundary and "
                                             "load it as areas of kind 'neighbourhood'.")] = False,
    base_url: BaseUrlOpt = None,
    max_attempts: AttemptsOpt = 6,
    fmt: FormatOpt = Fmt.table,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """A force's neighbourhoods (and, with --boundaries, their outlines as areas)."""
    from safestreets.api import data

    if not boundaries:
        _print_listing(data.neighbourhoods(force=force, base_url=base_url, max_attempts=max_attempts), fmt)
        return
    with open_workspace(ctx, workspace, load=True) as ws, progress("boundaries") as update:
        report = ws.fetch_neighbourhoods(force=force, base_url=base_url, max_attempts=max_attempts,
                                         progress=update)  # fmt: skip
    out.print(
        f"{report.counts.get('neighbourhood', 0)} neighbourhood boundaries loaded (batch {report.batch_id})"
    )


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
    from safestreets.errors import InputError

    if not path.exists():
        raise InputError(path, "no such file")
    with open_workspace(ctx, workspace, load=True) as ws:
        report = ws.load_areas(path, kind=kind, code_field=code_field, name_field=name_field,
                               parent_field=parent_field, population_field=population_field, layer=layer)  # fmt: skip
    shown = ", ".join(f"{k} {n:,}" for k, n in report.counts.items()) or "none new"
    out.print(f"areas loaded (batch {report.batch_id}): {shown}")


@areas_app.command("list")
def areas_list(ctx: typer.Context, workspace: WorkspaceOpt = None, fmt: FormatOpt = Fmt.table) -> None:
    """Area kinds in the store, with counts and parents."""
    with open_workspace(ctx, workspace) as ws:
        listing = ws.areas()
    emit(listing.rows, listing.columns, fmt, headers=("kind", "areas", "with boundary", "with parent", "population"),
         cells=lambda r: [r["kind"], f"{r['areas']:,}", f"{r['with_boundary']:,}", f"{r['with_parent']:,}",
                          f"{r['population']:,.0f}" if r["population"] else "-"])  # fmt: skip


@places_app.command("load")
def places_load(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV with coordinates (lon/lat or easting/northing), or GeoJSON points.")],
    kind: Annotated[str | None, typer.Option(help="station, night-time-economy, open-space, ...")] = None,
    name_field: Annotated[str | None, typer.Option(help="Column holding the name.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Load places such as stations."""
    from safestreets.errors import InputError

    if not path.exists():
        raise InputError(path, "no such file")
    with open_workspace(ctx, workspace, load=True) as ws:
        report = ws.load_places(path, kind=kind, name_field=name_field)
    out.print(f"{sum(report.counts.values()):,} places loaded from {path.name} (batch {report.batch_id})")


def export(
    ctx: typer.Context,
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="Output file: .csv, .parquet, .geojson or .gpkg.")],
    table: Annotated[ExportTable, typer.Option(case_sensitive=False, help="What to export.")] = ExportTable.events,
    fmt: Annotated[ExportFormat | None, typer.Option("--format", case_sensitive=False,
                                                     help="Format (default: from the file name).")] = None,
    months: Annotated[str | None, typer.Option(help="Only these months.")] = None,
    force: Annotated[str | None, typer.Option(help="Only this force.")] = None,
    crime_type: Annotated[list[str] | None, typer.Option("--type", help="Only these crime types.")] = None,
    source: Annotated[str | None, typer.Option(help="Only events from this source (police.uk, police.uk-api, "
                                               "force-records).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Write events (or searches, outcomes, places) for QGIS, ArcGIS or analysis, with provenance."""
    with open_workspace(ctx, workspace) as ws:
        result = ws.export(out_path, table=table.value, fmt=fmt.value if fmt else None, months=months, force=force,
                           types=crime_type, source=source)  # fmt: skip
    out.print(f"{result.rows:,} rows written to {result.path} (provenance in {result.provenance.name})")
