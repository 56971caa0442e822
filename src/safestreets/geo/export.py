"""Exports for other tools: CSV and Parquet for analysis, GeoJSON and GeoPackage for QGIS/ArcGIS.

The spatial formats follow their standards so that files open cleanly:

- Parquet with locations is GeoParquet 1.1: a WKB ``geometry`` column (null where a row has no
  location) in the workspace CRS, and file metadata ``geo`` with the CRS as PROJJSON and the bbox.
  A table without locations stays plain Parquet.
- GeoPackage keeps the workspace CRS, declares one geometry type per layer (single parts promoted to
  Multi where a layer mixes them), stores times as DATETIME (UTC) and dates as DATE, names its layer
  without hyphens, and carries the provenance in the layer's description and metadata.
- GeoJSON is RFC 7946: WGS84 longitude/latitude, no ``crs`` member, coordinates to 7 decimals (~1 cm).

Every export also writes a sidecar ``<file>.provenance.json`` saying what made it: the store, the
filters, the batches (sources and their sha256) behind the rows and the software version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

from safestreets import __version__
from safestreets.errors import ParameterError, unknown
from safestreets.store import get_setting

FORMATS = {"csv": ".csv", "parquet": ".parquet", "geojson": ".geojson", "gpkg": ".gpkg"}
TABLES = ("events", "stop_searches", "outcomes", "places")
INTERNAL = {"events": "event_key"}  # storage detail: event_id says it all
VIEW = {"stop_searches": "stop_searches_keyed"}  # the rows with their keys
GEOMETRY = "geometry"
WGS84 = "EPSG:4326"
GEOPARQUET_VERSION = "1.1.0"
BATCH_ROWS = 1 << 17  # rows per Arrow batch streamed from DuckDB to the writer: bounded memory
# shapely type ids -> OGR / GeoParquet geometry type names
_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LineString", 3: "Polygon", 4: "MultiPoint",
               5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}  # fmt: skip
_MULTI = {0: 4, 1: 5, 3: 6}  # single part -> its Multi form


def export_table(
    con: duckdb.DuckDBPyConnection,
    out: str | Path,
    *,
    table: str = "events",
    fmt: str | None = None,
    where: str | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[Path, int]:
    """Write ``table`` (optionally filtered by SQL ``where``) to ``out``; return the path and row count."""
    if table not in TABLES:
        raise unknown("table to export", table, TABLES)
    out = Path(out)
    fmt = fmt or next((f for f, ext in FORMATS.items() if out.name.endswith(ext)), None)
    if fmt not in FORMATS:
        raise ParameterError(f"unknown export format for {out.name!r}: use one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    hidden = INTERNAL.get(table)
    query = f"SELECT * {f'EXCLUDE ({hidden}) ' if hidden else ''}FROM {VIEW.get(table, table)}" + (
        f" WHERE {where}" if where else ""
    )
    # GeoJSON is WGS84 by definition (RFC 7946); GeoPackage and GeoParquet keep the workspace's metric CRS.
    xy = ("lon", "lat") if fmt == "geojson" else ("x", "y")
    spatial = fmt != "csv" and set(xy) <= set(con.sql(query).columns)
    if fmt in ("geojson", "gpkg") and not spatial:
        raise ParameterError(f"{table} has no locations to map: export it as csv or parquet")
    crs = get_setting(con, "crs") if fmt in ("gpkg", "parquet") else WGS84
    stats = _point_stats(con, query, xy if spatial else None)
    rows = stats[0]
    record = _provenance(con, out, table=table, fmt=fmt, where=where, rows=rows, params=params or {}, crs=crs)
    if fmt == "csv" or (fmt == "parquet" and not spatial):
        options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet, COMPRESSION zstd"
        con.execute(f"COPY ({query}) TO '{_sql_path(out)}' ({options})")
    else:
        reader = con.sql(query).to_arrow_reader(BATCH_ROWS)
        schema = _out_schema(reader.schema)
        batches = (_with_points(b, schema, xy) for b in reader)
        if fmt == "parquet":
            bbox = stats[1:] if stats[1] is not None else None
            _write_geoparquet(batches, schema, out, crs=crs, geometry_types=["Point"] if bbox else [],
                              bbox=bbox, record=record)  # fmt: skip
        else:
            _write_ogr(pa.RecordBatchReader.from_batches(schema, batches), out, fmt, crs=crs,
                       geometry_type="Point", record=record)  # fmt: skip
    _write_sidecar(out, record)
    return out, rows


def write_geo(
    table: pa.Table,
    geoms: np.ndarray,
    out: str | Path,
    *,
    crs: str,
    provenance: dict[str, Any],
    geometry_type: str | None = None,
) -> Path:
    """Write ``table`` with one geometry per row (workspace CRS ``crs``; None for no location) as
    ``.gpkg`` (kept in ``crs``), ``.geojson`` (WGS84, RFC 7946) or ``.parquet`` (GeoParquet, kept in
    ``crs``), with a ``.provenance.json`` sidecar holding ``provenance``.

    The layer gets one geometry type: ``geometry_type`` if given, else the type the rows share (single
    parts promoted to Multi where rows mix the two). Timestamp columns become DATETIME (UTC where they
    carry a time zone), date columns DATE."""
    from safestreets.geo.project import to_crs

    out = Path(out)
    suffix = out.suffix.lower()
    fmt = {".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".parquet": "parquet"}.get(suffix)
    if fmt is None:
        raise ParameterError(f"cannot write {out.name!r}: use .gpkg, .geojson or .parquet")
    geoms, found_type = layer_geometries(geoms)
    if fmt == "geojson":
        geoms = shapely.transform(
            geoms, lambda xy: np.column_stack(to_crs(xy[:, 0], xy[:, 1], src=crs, dst=WGS84))
        )
        crs = WGS84
    data = table.replace_schema_metadata(None)
    if GEOMETRY in data.column_names:
        data = data.drop_columns([GEOMETRY])
    schema = _out_schema(data.schema)
    data = pa.Table.from_arrays([*_cast_times(data, schema).columns, _wkb(geoms)], schema=schema)
    made_at = datetime.now(UTC).isoformat(timespec="seconds")
    record = {**provenance, "file": out.name, "rows": data.num_rows, "crs": crs, "made_at": made_at,
              "software": f"safestreets {__version__}"}  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    if fmt == "parquet":
        present = geoms[~shapely.is_missing(geoms)]
        types = sorted({_TYPE_NAMES[int(t)] for t in shapely.get_type_id(present)})
        bbox = [float(v) for v in shapely.total_bounds(present)] if len(present) else None
        _write_geoparquet(data.to_batches(), schema, out, crs=crs, geometry_types=types, bbox=bbox,
                          record=record)  # fmt: skip
    else:
        _write_ogr(data, out, fmt, crs=crs, geometry_type=geometry_type or found_type, record=record)
    _write_sidecar(out, record)
    return out


def layer_geometries(geoms: Any) -> tuple[np.ndarray, str]:
    """Geometries ready for one layer, and its type: empty geometries become null; where single and
    Multi parts of one kind mix (grid cells beside multi-part areas), the single ones are promoted to
    Multi. Types that still differ give "Unknown" (a generic GEOMETRY layer)."""
    geoms = np.array(geoms, dtype=object).reshape(-1)
    geoms[shapely.is_empty(geoms)] = None
    present = ~shapely.is_missing(geoms)
    ids = shapely.get_type_id(geoms)
    kinds = set(np.unique(ids[present]).tolist())
    if len(kinds) == 2:
        single = min(kinds)
        if _MULTI.get(single) == max(kinds):
            promote = present & (ids == single)
            parts = geoms[promote][:, None]
            make = {0: shapely.multipoints, 1: shapely.multilinestrings, 3: shapely.multipolygons}[single]
            geoms[promote] = make(parts)
            kinds = {max(kinds)}
    if len(kinds) == 1:
        return geoms, _TYPE_NAMES[kinds.pop()]
    return geoms, "Unknown"


def layer_name(stem: str) -> str:
    """A layer name SQL and GIS tools take unquoted: letters, digits and single underscores."""
    name = re.sub(r"_+", "_", re.sub(r"[^0-9A-Za-z_]", "_", stem)).strip("_") or "layer"
    return f"layer_{name}" if name[0].isdigit() else name


def geo_metadata(crs: str, geometry_types: list[str], bbox: Iterable[float] | None) -> dict[str, Any]:
    """The GeoParquet 1.1 file metadata (key ``geo``) for one WKB column named ``geometry``."""
    from pyproj import CRS

    column: dict[str, Any] = {
        "encoding": "WKB",
        "geometry_types": geometry_types,
        "crs": CRS.from_user_input(crs).to_json_dict(),
    }
    if bbox is not None:
        column["bbox"] = [float(v) for v in bbox]
    return {"version": GEOPARQUET_VERSION, "primary_column": GEOMETRY, "columns": {GEOMETRY: column}}


def _point_stats(con: duckdb.DuckDBPyConnection, query: str, xy: tuple[str, str] | None) -> tuple[Any, ...]:
    """Row count and, with ``xy``, the bounds of the rows with finite coordinates (None if none)."""
    if xy is None:
        return (int(con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0]), None)
    x, y = xy
    ok = f"FILTER (WHERE isfinite({x}) AND isfinite({y}))"
    row = con.execute(
        f"SELECT count(*), min({x}) {ok}, min({y}) {ok}, max({x}) {ok}, max({y}) {ok} FROM ({query})"
    ).fetchall()[0]
    return (int(row[0]), *row[1:])


def _out_schema(schema: pa.Schema) -> pa.Schema:
    """The written schema: zoned times in UTC (the one zone OGR writes as such), plus the WKB geometry."""
    fields = [
        pa.field(f.name, pa.timestamp(f.type.unit, "UTC"), f.nullable)
        if pa.types.is_timestamp(f.type) and f.type.tz is not None
        else f.remove_metadata()
        for f in schema
        if f.name != GEOMETRY
    ]
    return pa.schema([*fields, pa.field(GEOMETRY, pa.binary())])


def _cast_times(data: pa.Table | pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    columns = [data.column(i).cast(schema.field(i).type) for i in range(data.num_columns)]
    return pa.Table.from_arrays(columns, schema=pa.schema(list(schema)[: data.num_columns]))


def _wkb(geoms: np.ndarray) -> pa.Array:
    return pa.array(list(shapely.to_wkb(geoms)), pa.binary())


def _with_points(batch: pa.RecordBatch, schema: pa.Schema, xy: tuple[str, str]) -> pa.RecordBatch:
    """The batch with a point per row from columns ``xy`` (null where either is missing)."""
    x = batch.column(xy[0]).to_numpy(zero_copy_only=False).astype("float64")
    y = batch.column(xy[1]).to_numpy(zero_copy_only=False).astype("float64")
    ok = np.isfinite(x) & np.isfinite(y)
    geoms = np.full(len(x), None, dtype=object)
    geoms[ok] = shapely.points(x[ok], y[ok])
    columns = _cast_times(batch, schema).columns
    return pa.RecordBatch.from_arrays([*(c.combine_chunks() for c in columns), _wkb(geoms)], schema=schema)


def _write_geoparquet(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, out: Path, *, crs: str,
    geometry_types: list[str], bbox: Iterable[float] | None, record: dict[str, Any],
) -> None:  # fmt: skip
    import pyarrow.parquet as pq

    # The metadata goes in the schema, not added at close: readers (pyarrow, geopandas) take the schema's.
    meta = {
        "geo": json.dumps(geo_metadata(crs, geometry_types, bbox)),
        "safestreets": json.dumps(record, default=str),
    }
    with pq.ParquetWriter(out, schema.with_metadata(meta), compression="zstd") as writer:
        for batch in batches:
            writer.write_batch(batch)


def _write_ogr(
    data: pa.Table | pa.RecordBatchReader, out: Path, fmt: str, *, crs: str, geometry_type: str,
    record: dict[str, Any],
) -> None:  # fmt: skip
    import pyogrio

    description = (
        f"{out.stem}: {record['rows']:,} rows, {record['crs']}, made {record['made_at']} by "
        f"{record['software']}. Provenance (sources, filters, parameters) in the metadata item "
        f"'provenance' and in {out.name}.provenance.json."
    )
    if fmt == "gpkg":
        options: dict[str, Any] = {
            "driver": "GPKG",
            "layer_options": {"DESCRIPTION": description},
            "layer_metadata": {"provenance": json.dumps(record, default=str)},
        }
    else:  # RFC7946=YES: no crs member, polygons wound counterclockwise, 7 decimals
        geojson = {"RFC7946": "YES", "COORDINATE_PRECISION": "7", "DESCRIPTION": description}
        options = {"driver": "GeoJSON", "layer_options": geojson}
    pyogrio.write_arrow(data, out, layer=layer_name(out.stem), geometry_name=GEOMETRY,
                        geometry_type=geometry_type, crs=crs, **options)  # fmt: skip


def _provenance(
    con: duckdb.DuckDBPyConnection, out: Path, *, table: str, fmt: str, where: str | None, rows: int,
    params: dict[str, Any], crs: str,
) -> dict[str, Any]:  # fmt: skip
    batch_filter = f"WHERE batch_id IN (SELECT DISTINCT batch_id FROM {table}" + (
        f" WHERE {where})" if where else ")"
    )
    batches = con.execute(
        f"SELECT batch_id, kind, source, sha256, strftime(loaded_at, '%Y-%m-%dT%H:%M:%S%z') "
        f"FROM batches {batch_filter} ORDER BY batch_id"
    ).fetchall()
    return {
        "file": out.name,
        "table": table,
        "format": fmt,
        "rows": rows,
        "filter": where,
        "options": params,
        "crs": crs,
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "software": f"safestreets {__version__}",
        "batches": [
            {"batch_id": b[0], "kind": b[1], "source": b[2], "sha256": b[3], "loaded_at": b[4]}
            for b in batches
        ],
    }


def _write_sidecar(out: Path, record: dict[str, Any]) -> None:
    out.with_name(out.name + ".provenance.json").write_text(
        json.dumps(record, indent=2, default=str), "utf-8"
    )


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
