"""Keep risk surfaces in the store and write them out for GIS (GeoPackage or GeoParquet in the workspace
CRS, GeoJSON in WGS84), each file with a ``.provenance.json`` sidecar."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

from safestreets.errors import SafestreetsError
from safestreets.export import write_geo
from safestreets.forecast.surface import rank
from safestreets.geo.units import Units
from safestreets.store import fetch_one, get_setting, transaction


@dataclass
class Surface:
    """A finished forecast: per-unit expected count and harm over one window."""

    units: Units
    expected_count: np.ndarray
    expected_harm: np.ndarray
    rank_by: str
    meta: dict[str, Any]

    @property
    def scores(self) -> np.ndarray:
        return self.expected_harm if self.rank_by == "harm" else self.expected_count

    def ranks(self) -> np.ndarray:
        order = rank(self.scores, self.units.area)
        out = np.empty(len(order), dtype="int64")
        out[order] = np.arange(1, len(order) + 1)
        return out

    def table(self) -> pa.Table:
        u = self.units
        return pa.table(
            {
                "unit_id": pa.array(u.ids.astype(str)),
                "bcu": pa.array([str(b) for b in u.bcu]),
                "rank": pa.array(self.ranks()),
                "expected_count": pa.array(self.expected_count),
                "expected_harm": pa.array(self.expected_harm),
                "area_m2": pa.array(u.area),
                "x": pa.array(u.x),
                "y": pa.array(u.y),
                "geometry": pa.array(list(shapely.to_wkb(u.geometry)), pa.binary()),
            }
        )


def save_surface(con: duckdb.DuckDBPyConnection, surface: Surface, *, reason: str | None = None) -> int:
    """Store a surface as a new run; returns its ``run_id``. All or nothing."""
    m = surface.meta
    data = m.get("data", {})
    units = m.get("units", {})
    table = surface.table()
    with transaction(con):
        row = fetch_one(
            con,
            "INSERT INTO forecast_runs (created_at, target, police_found, model, horizon, window_start, "
            "window_end, units_kind, cell_size, rank_by, reason, provenance) "
            "VALUES (now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING run_id",
            [
                data.get("target", {}).get("name", "?"),
                bool(data.get("target", {}).get("police_found")),
                m["model"],
                m.get("horizon", "?"),
                m["window"][0],
                m["window"][1],
                units.get("kind", "?"),
                units.get("cell_size_m"),
                surface.rank_by,
                reason,
                json.dumps(m, default=str),
            ],
        )
        assert row is not None
        run_id = int(row[0])
        con.register("_ss_surface", table)
        try:
            con.execute(
                "INSERT INTO forecasts SELECT ?, unit_id, bcu, rank, expected_count, expected_harm, area_m2, "
                "x, y, geometry FROM _ss_surface",
                [run_id],
            )
        finally:
            con.unregister("_ss_surface")
    return run_id


def latest_run(con: duckdb.DuckDBPyConnection) -> int | None:
    row = fetch_one(con, "SELECT max(run_id) FROM forecast_runs")
    return None if row is None or row[0] is None else int(row[0])


def export_surface(con: duckdb.DuckDBPyConnection, run_id: int, out: str | Path) -> Path:
    """Write a stored run's surface to ``.gpkg``, ``.geojson`` or ``.parquet`` (GeoParquet): polygons,
    one per unit, with the run's provenance."""
    info = fetch_one(con, "SELECT provenance FROM forecast_runs WHERE run_id = ?", [run_id])
    if info is None:
        raise SafestreetsError(f"no forecast run {run_id} in the store")
    data = con.sql(
        "SELECT unit_id, bcu, rank, expected_count, expected_harm, area_m2, "
        f"expected_count / area_m2 * 1e6 AS count_per_km2, geometry FROM forecasts WHERE run_id = {int(run_id)} "
        "ORDER BY rank"
    ).to_arrow_table()
    geoms = shapely.from_wkb(data.column("geometry").to_pylist())
    return write_geo(data.drop_columns(["geometry"]), geoms, out, crs=get_setting(con, "crs"),
                     provenance={"run_id": run_id, "forecast": json.loads(info[0])})  # fmt: skip
