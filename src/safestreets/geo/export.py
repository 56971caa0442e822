"""Exports for other tools: CSV and Parquet for analysis, GeoJSON and GeoPackage for QGIS/ArcGIS.

Every export writes a sidecar ``<file>.provenance.json`` saying what made it: the store, the filters,
the batches (sources and their sha256) behind the rows and the software version.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

from safestreets import __version__
from safestreets.errors import SafestreetsError
from safestreets.store import get_setting

FORMATS = {"csv": ".csv", "parquet": ".parquet", "geojson": ".geojson", "gpkg": ".gpkg"}
TABLES = ("events", "stop_searches", "outcomes", "places")
INTERNAL = {"events": "event_key"}  # storage detail: event_id says it all
VIEW = {"stop_searches": "stop_searches_keyed"}  # the rows with their keys


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
        raise SafestreetsError(f"cannot export {table!r}: choose one of {', '.join(TABLES)}")
    out = Path(out)
    fmt = fmt or next((f for f, ext in FORMATS.items() if out.name.endswith(ext)), None)
    if fmt not in FORMATS:
        raise SafestreetsError(f"unknown export format for {out.name!r}: use one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    hidden = INTERNAL.get(table)
    query = f"SELECT * {f'EXCLUDE ({hidden}) ' if hidden else ''}FROM {VIEW.get(table, table)}" + (
        f" WHERE {where}" if where else ""
    )
    if fmt in ("csv", "parquet"):
        options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet, COMPRESSION zstd"
        con.execute(f"COPY ({query}) TO '{_sql_path(out)}' ({options})")
        row = con.execute(f"SELECT count(*) FROM ({query})").fetchall()
        rows = int(row[0][0])
    else:
        rows = _write_spatial(con, query, out, fmt)
    _write_provenance(con, out, table=table, fmt=fmt, where=where, rows=rows, params=params or {})
    return out, rows


def _write_spatial(con: duckdb.DuckDBPyConnection, query: str, out: Path, fmt: str) -> int:
    import pyogrio

    data = con.sql(query).fetch_arrow_table()
    # GeoJSON is WGS84 by definition (RFC 7946); a GeoPackage keeps the workspace's metric CRS.
    if fmt == "geojson":
        xs, ys, crs = data.column("lon"), data.column("lat"), "EPSG:4326"
    else:
        xs, ys, crs = data.column("x"), data.column("y"), get_setting(con, "crs")
    x = xs.to_numpy(zero_copy_only=False).astype("float64")
    y = ys.to_numpy(zero_copy_only=False).astype("float64")
    ok = np.isfinite(x) & np.isfinite(y)
    geoms = np.full(len(x), None, dtype=object)
    geoms[ok] = shapely.points(x[ok], y[ok])
    wkb = shapely.to_wkb(geoms)
    columns = {}
    for name in data.column_names:
        col = data.column(name)
        # OGR drivers take plain types: times as ISO text, nested/JSON as text.
        if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
            col = col.cast(pa.string())
        columns[name] = col
    table = pa.table({**columns, "geometry": pa.array(list(wkb), pa.binary())})
    driver = "GeoJSON" if fmt == "geojson" else "GPKG"
    layer = out.stem
    pyogrio.write_arrow(
        table, out, driver=driver, layer=layer, geometry_name="geometry", geometry_type="Point", crs=crs
    )
    return table.num_rows


def write_geo(
    table: pa.Table, geoms: np.ndarray, out: str | Path, *, crs: str, provenance: dict[str, Any]
) -> Path:
    """Write ``table`` with one geometry per row (workspace CRS) as ``.gpkg`` (kept in ``crs``) or
    ``.geojson`` (WGS84, RFC 7946), with a ``.provenance.json`` sidecar holding ``provenance``."""
    import pyogrio

    from safestreets.geo.project import to_crs

    out = Path(out)
    fmt = "gpkg" if out.suffix == ".gpkg" else "geojson" if out.suffix in (".geojson", ".json") else None
    if fmt is None:
        raise SafestreetsError(f"cannot write {out.name!r}: use .gpkg or .geojson")
    geoms = np.asarray(geoms, dtype=object)
    if fmt == "geojson":
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(to_crs(xy[:, 0], xy[:, 1], src=crs,
                                                                           dst="EPSG:4326")))  # fmt: skip
        crs = "EPSG:4326"
    table = table.replace_schema_metadata(None).append_column("geometry", pa.array(list(shapely.to_wkb(geoms)),
                                                                                   pa.binary()))  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    pyogrio.write_arrow(table, out, driver="GPKG" if fmt == "gpkg" else "GeoJSON", layer=out.stem,
                        geometry_name="geometry", geometry_type="Unknown", crs=crs)  # fmt: skip
    record = {**provenance, "file": out.name, "rows": table.num_rows, "crs": crs,
              "made_at": datetime.now(UTC).isoformat(timespec="seconds"), "software": f"safestreets {__version__}"}  # fmt: skip
    out.with_name(out.name + ".provenance.json").write_text(
        json.dumps(record, indent=2, default=str), "utf-8"
    )
    return out


def _write_provenance(
    con: duckdb.DuckDBPyConnection, out: Path, *, table: str, fmt: str, where: str | None, rows: int,
    params: dict[str, Any],
) -> None:  # fmt: skip
    batch_filter = f"WHERE batch_id IN (SELECT DISTINCT batch_id FROM {table}" + (
        f" WHERE {where})" if where else ")"
    )
    batches = con.execute(
        f"SELECT batch_id, kind, source, sha256, strftime(loaded_at, '%Y-%m-%dT%H:%M:%S%z') "
        f"FROM batches {batch_filter} ORDER BY batch_id"
    ).fetchall()
    record = {
        "file": out.name,
        "table": table,
        "format": fmt,
        "rows": rows,
        "filter": where,
        "options": params,
        "crs": get_setting(con, "crs") if fmt == "gpkg" else "EPSG:4326",
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "software": f"safestreets {__version__}",
        "batches": [
            {"batch_id": b[0], "kind": b[1], "source": b[2], "sha256": b[3], "loaded_at": b[4]}
            for b in batches
        ],
    }
    out.with_name(out.name + ".provenance.json").write_text(json.dumps(record, indent=2), "utf-8")


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
