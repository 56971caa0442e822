"""Data jobs of the API: ingest files, fetch from the police.uk API, load areas and places, status, export.

Each function takes an open store connection and arguments in the forms users type, calls the layers
below, and returns a result from :mod:`safestreets.api.results`. No SQL here: queries live in the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from safestreets import vocab
from safestreets.api.results import ExportResult, IngestReport, Listing, LoadReport, StatusReport
from safestreets.errors import InputError, NoDataError, ParameterError, unknown
from safestreets.store import get_setting
from safestreets.store.load import LoadOptions
from safestreets.timespec import parse_months

Progress = Callable[[str, int, int], None]  # (what, done, total)

INGEST_KINDS = ("street", "outcomes", "stop-and-search")


def load_options(
    *,
    forces: Iterable[str] | None = None,
    months: str | None = None,
    skip_bad_rows: bool = False,
    assume_force: str | None = None,
) -> LoadOptions:
    """Filters as users type them (force ids or names, ``2023-01:2023-06``) to the store's options."""
    return LoadOptions(
        forces=frozenset(vocab.force_id(f) for f in forces) if forces else None,
        months=frozenset(parse_months(months)) if months else None,
        skip_bad_rows=skip_bad_rows,
        force=vocab.force_id(assume_force) if assume_force else None,
    )


def ingest(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    kind: str | None = None,
    mapping: str | Path | None = None,
    forces: Iterable[str] | None = None,
    months: str | None = None,
    skip_bad_rows: bool = False,
    assume_force: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Load police.uk files (one, a folder, the bulk archive zip) or, with ``mapping``, a force's records."""
    from safestreets.store.ingest import ingest_policeuk
    from safestreets.store.records import ingest_force_records

    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if kind is not None:
        kind = kind.lower()
        if kind not in INGEST_KINDS:
            raise unknown("kind", kind, INGEST_KINDS)
    opts = load_options(forces=forces, months=months, skip_bad_rows=skip_bad_rows, assume_force=assume_force)
    if mapping is not None:
        if not Path(mapping).exists():
            raise InputError(mapping, "no such mapping file")
        results = [ingest_force_records(con, path, mapping, opts)]
    else:
        results = ingest_policeuk(con, path, opts, kind=kind, progress=progress)
    report = IngestReport(results)
    _refuse_empty(report, path, forces=forces, months=months)
    return report


def _refuse_empty(
    report: IngestReport, path: Path, *, forces: Iterable[str] | None, months: str | None
) -> None:
    """A load whose filters kept nothing is a mistake, not a success: say what the input held."""
    if (
        not (forces or months)
        or report.skipped
        or report.total("rows_loaded")
        or report.total("rows_rejected")
    ):
        return
    asked = " and ".join(
        part for part in (f"--months {months}" if months else "", f"--force {','.join(forces)}" if forces else "")
        if part
    )  # fmt: skip
    read = report.total("rows_read")
    if not report.results:
        import difflib

        from safestreets.sources.policeuk import discover

        found = sorted({f.force for f in discover(path) if f.force})
        wrong = [f for f in (forces or []) if f not in found]
        if found and wrong:  # the force named as the files do not name it: say what they do name
            close = difflib.get_close_matches(wrong[0].lower(), found, n=1, cutoff=0.6)
            hint = (f"did you mean --force {close[0]}? " if close else "") + f"(the files are from: {', '.join(found[:12])}"
            hint += ", ...)" if len(found) > 12 else ")"
            raise NoDataError(f"nothing loaded: no file in {path} falls within {asked}: {hint}")
        raise NoDataError(f"nothing loaded: no file in {path} falls within {asked}")
    raise NoDataError(f"nothing loaded: none of the {read:,} rows read from {path} fall within {asked}")


def _fetch_into(
    con: duckdb.DuckDBPyConnection,
    fetched: Iterator[tuple[str, list[Any]]],
    *,
    to_table: Callable[[list[Any]], Any],
    label: Callable[[str], str],
    kind: str,
    force: str,
) -> list[Any]:
    """Load each fetched month through the same validation as files; empty months add nothing."""
    from safestreets.sources.policeuk_api import records_sha256
    from safestreets.store.ingest import load_policeuk_table

    results = []
    for month, records in fetched:
        table = to_table(records)
        if table.num_rows:
            results.append(load_policeuk_table(con, table, kind=kind, label=label(month),
                                               sha256=records_sha256(records), force=force))  # fmt: skip
    return results


def client(base_url: str | None = None, max_attempts: int = 6) -> Any:
    """A data.police.uk API client (retries, rate limits); ``base_url`` for a mirror or a test server."""
    from safestreets.sources.policeuk_api import DEFAULT_BASE_URL, PoliceUKClient

    return PoliceUKClient(base_url=base_url or DEFAULT_BASE_URL, max_attempts=max_attempts)


def fetch_crimes(
    con: duckdb.DuckDBPyConnection,
    *,
    area: str,
    months: str,
    force: str,
    base_url: str | None = None,
    max_attempts: int = 6,
    progress: Progress | None = None,
) -> IngestReport:
    """Street-level crimes of an area (a bbox, a boundary file or a loaded area's code), month by month."""
    from safestreets.sources.policeuk_api import area_hash, crimes_to_table, fetch_street_crimes

    fid = vocab.force_id(force)
    wanted = parse_months(months)
    geom = resolve_area(con, area)
    with client(base_url, max_attempts) as api:
        results = _fetch_into(
            con,
            fetch_street_crimes(api, geom, wanted, on_progress=progress),
            to_table=lambda records: crimes_to_table(records, vocab.FORCES.get(fid, fid)),
            label=lambda month: (
                f"{api.base_url}crimes-street/all-crime?area={area_hash(geom)[:12]}&date={month}"
            ),
            kind="street",
            force=fid,
        )
        return IngestReport(results, api_summary=api.stats.summary())


def fetch_stops(
    con: duckdb.DuckDBPyConnection,
    *,
    months: str,
    force: str,
    base_url: str | None = None,
    max_attempts: int = 6,
    progress: Progress | None = None,
) -> IngestReport:
    """A force's stop and search records (with and without location), month by month."""
    from safestreets.sources.policeuk_api import fetch_stops_force, stops_to_table

    fid = vocab.force_id(force)
    with client(base_url, max_attempts) as api:
        results = _fetch_into(
            con,
            fetch_stops_force(api, fid, parse_months(months), on_progress=progress),
            to_table=lambda records: stops_to_table(records, vocab.FORCES.get(fid, fid)),
            label=lambda month: f"{api.base_url}stops-force?force={fid}&date={month}",
            kind="stop-and-search",
            force=fid,
        )
        return IngestReport(results, api_summary=api.stats.summary())


def forces(*, base_url: str | None = None, max_attempts: int = 6) -> Listing:
    """The forces the API knows."""
    with client(base_url, max_attempts) as api:
        known = api.forces()
    return Listing("forces", [{"id": k, "name": v} for k, v in sorted(known.items())], ("id", "name"))


def neighbourhoods(*, force: str, base_url: str | None = None, max_attempts: int = 6) -> Listing:
    """A force's neighbourhoods."""
    fid = vocab.force_id(force)
    with client(base_url, max_attempts) as api:
        hoods = api.neighbourhoods(fid)
    rows = [{"id": k, "name": v} for k, v in sorted(hoods.items())]
    return Listing(f"{fid}: {len(rows)} neighbourhoods", rows, ("id", "name"))


def fetch_neighbourhood_boundaries(
    con: duckdb.DuckDBPyConnection,
    *,
    force: str,
    base_url: str | None = None,
    max_attempts: int = 6,
    progress: Progress | None = None,
) -> LoadReport:
    """Fetch each neighbourhood's outline and load them as areas of kind ``neighbourhood``."""
    import shapely

    from safestreets.sources.boundaries import neighbourhood_table
    from safestreets.store.areas import load_areas

    fid = vocab.force_id(force)
    with client(base_url, max_attempts) as api:
        hoods = api.neighbourhoods(fid)
        polys = {}
        for i, nid in enumerate(sorted(hoods)):
            if progress:
                progress(nid, i, len(hoods))
            polys[nid] = api.neighbourhood_polygon(fid, nid)
        if progress:
            progress("", len(hoods), len(hoods))
        source = f"{api.base_url}{fid}/neighbourhoods"
    table = neighbourhood_table(
        {nid: (hoods[nid], shapely.to_wkb(p)) for nid, p in polys.items()}, fid, crs=get_setting(con, "crs")
    )
    batch = load_areas(con, table, source=source, sha256=None, params={"kind": "neighbourhood", "force": fid})
    return LoadReport("areas", Path(source), batch, {"neighbourhood": len(polys)})


def resolve_area(con: duckdb.DuckDBPyConnection, spec: str) -> Any:
    """An area as users give it, in lon/lat: a bbox ``minlon,minlat,maxlon,maxlat``, a boundary file,
    or the code of a loaded area."""
    from safestreets.sources.outline import read_outline
    from safestreets.store.queries import area_outline

    parts = spec.split(",")
    if len(parts) == 4:
        try:
            return tuple(float(p) for p in parts)
        except ValueError:
            pass
    if Path(spec).exists():
        return read_outline(Path(spec))
    geom = area_outline(con, spec)
    if geom is None:
        raise ParameterError(
            f"--area {spec!r} is not a bbox (minlon,minlat,maxlon,maxlat), a boundary file or a loaded area code"
        )
    return geom


def load_areas(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    kind: str | None = None,
    code_field: str | None = None,
    name_field: str | None = None,
    parent_field: str | None = None,
    population_field: str | None = None,
    layer: str | None = None,
) -> LoadReport:
    """Load boundaries (GeoJSON, GeoPackage, shapefile) or a borough -> BCU lookup (CSV), and assign
    every event to its areas."""
    from safestreets.sources.boundaries import read_areas, read_bcu_lookup
    from safestreets.store.areas import load_areas as store_areas
    from safestreets.store.batches import sha256_file
    from safestreets.store.queries import batch_area_counts

    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    params = {"kind": kind, "code_field": code_field, "name_field": name_field,
              "parent_field": parent_field, "population_field": population_field, "layer": layer}  # fmt: skip
    if path.suffix.lower() == ".csv":
        table = read_bcu_lookup(path)
    else:
        table = read_areas(path, crs=get_setting(con, "crs"), kind=kind, code_field=code_field,
                           name_field=name_field, parent_field=parent_field,
                           population_field=population_field, layer=layer)  # fmt: skip
    batch = store_areas(con, table, source=str(path.resolve()), sha256=sha256_file(path), params=params)
    return LoadReport("areas", path, batch, batch_area_counts(con, batch))


def load_places(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    kind: str | None = None,
    name_field: str | None = None,
) -> LoadReport:
    """Load places such as stations (CSV with coordinates, or GeoJSON points)."""
    from safestreets.sources.places import read_places
    from safestreets.store.batches import sha256_file
    from safestreets.store.places import load_places as store_places

    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    table = read_places(path, crs=get_setting(con, "crs"), kind=kind, name_field=name_field)
    _check_places_are_here(con, path, table)
    batch = store_places(con, table, source=str(path.resolve()), sha256=sha256_file(path),
                         params={"kind": kind, "name_field": name_field})  # fmt: skip
    kinds = (
        table.column("kind").to_pylist()
        if "kind" in table.column_names
        else [kind or "place"] * table.num_rows
    )
    counts: dict[str, int] = {}
    for k in kinds:
        counts[str(k)] = counts.get(str(k), 0) + 1
    return LoadReport("places", path, batch, counts)


#: Places this far (metres) outside the events loaded are somewhere else.
PLACES_REACH_M = 20_000.0


def _check_places_are_here(con: duckdb.DuckDBPyConnection, path: Path, table: Any) -> None:
    """Refuse a file whose places are all far from every event loaded (another city's file): nothing is
    stored. A national file keeps the places near the events among the rest; a store with no located
    events yet takes any places."""
    box = con.execute("SELECT min(x), min(y), max(x), max(y) FROM events WHERE x IS NOT NULL").fetchall()[0]
    if box[0] is None or table.num_rows == 0:
        return
    x = np.asarray(table.column("x").to_numpy(zero_copy_only=False), dtype="float64")
    y = np.asarray(table.column("y").to_numpy(zero_copy_only=False), dtype="float64")
    dx = np.maximum(np.maximum(box[0] - x, x - box[2]), 0.0)
    dy = np.maximum(np.maximum(box[1] - y, y - box[3]), 0.0)
    dist = np.hypot(dx, dy)
    if (dist > PLACES_REACH_M).all():
        raise InputError(
            path, f"all {len(dist):,} places are over {PLACES_REACH_M / 1000:g} km from every event "
            f"loaded (the nearest of them {dist.min() / 1000:,.0f} km): a file for somewhere "
            "else? Nothing was loaded"
        )  # fmt: skip


def area_kinds(con: duckdb.DuckDBPyConnection) -> Listing:
    """Area kinds in the store, with counts, boundaries, parents and population."""
    from safestreets.store.queries import area_kinds as kinds

    return Listing("areas", kinds(con), ("kind", "areas", "with_boundary", "with_parent", "population"))


def status(con: duckdb.DuckDBPyConnection, path: Path) -> StatusReport:
    from safestreets.store.queries import status as store_status

    return StatusReport(path, store_status(con))


EXPORT_TABLES = ("events", "stop_searches", "outcomes", "places")
EXPORT_FORMATS = ("csv", "parquet", "geojson", "gpkg")


def export(
    con: duckdb.DuckDBPyConnection,
    out: str | Path,
    *,
    table: str = "events",
    fmt: str | None = None,
    months: str | None = None,
    force: str | None = None,
    types: Iterable[str] | None = None,
    source: str | None = None,
) -> ExportResult:
    """Write a table, filtered, for QGIS, ArcGIS or analysis, with a provenance sidecar."""
    from safestreets.geo.export import export_table
    from safestreets.store.queries import count_rows, filter_sql

    if table not in EXPORT_TABLES:
        raise unknown("table", table, EXPORT_TABLES)
    if fmt is not None and fmt.lower() not in EXPORT_FORMATS:
        raise unknown("format", fmt, EXPORT_FORMATS)
    names = None
    if types:
        names = []
        for t in types:
            name = vocab.canonical_crime_type(t)
            if name is None:
                raise unknown("crime type", t, vocab.CRIME_TYPES)
            names.append(name)
    where = filter_sql(
        months=parse_months(months) if months else None,
        force=vocab.force_id(force) if force else None,
        crime_types=names,
        source=source,
    )
    if count_rows(con, table, where) == 0:
        asked = ", ".join(p for p in (months and f"--months {months}", force and f"--force {force}",
                                      names and f"--type {','.join(names)}") if p)  # fmt: skip
        raise NoDataError(f"no {table} rows match {asked or 'the filters'}: nothing written")
    path, rows = export_table(con, out, table=table, fmt=fmt.lower() if fmt else None, where=where,
                              params={"months": months, "force": force, "types": list(types or []),
                                      "source": source})  # fmt: skip
    return ExportResult(path, rows, path.with_name(path.name + ".provenance.json"))
