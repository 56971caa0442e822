"""Keep risk surfaces in the store, with the backtest each rests on, and write them out for GIS (GeoPackage
or GeoParquet in the workspace CRS, GeoJSON in WGS84), each file with a ``.provenance.json`` sidecar."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

from safestreets.errors import NoDataError, NotFoundError, ParameterError
from safestreets.forecast.surface import rank
from safestreets.geo.export import write_geo
from safestreets.geo.names import unit_names
from safestreets.geo.units import Units
from safestreets.store import fetch_one, get_setting, transaction

#: The command unit of every unit of a stored surface where no BCU boundaries are loaded (a small force,
#: one borough): a plan then treats the whole study area as one command unit.
WHOLE_AREA = "all"


@dataclass
class StoredBacktest:
    """The backtest behind a forecast: auto's choice (``computed_by`` "forecast") or one run later for a
    model chosen by hand ("brief"). ``summary`` holds the summary table's rows (model, coverage, hit rate
    with its interval, PAI, PEI, origins)."""

    run_id: int
    computed_by: str
    model: str
    reason: str | None
    scores: dict[str, float]
    summary: list[dict[str, Any]]
    params: dict[str, Any]
    created_at: datetime | None = None


@dataclass
class Surface:
    """A forecast: per-unit expected count and harm over one window.

    A surface read back from the store (:func:`read_surface`) also has its ``run_id``, its ``window`` as
    stored and the ranks the run gave its units; its ``meta`` is the run's provenance. The per-unit
    columns are the units' own (``ids``, ``x``, ``y``, ``bcu``, ``area_m2``, ``geometry``), and ``names``:
    what people call each unit (geo/names.py), given when the surface is stored.
    """

    units: Units
    expected_count: np.ndarray
    expected_harm: np.ndarray
    rank_by: str
    meta: dict[str, Any]
    run_id: int | None = None  # the stored run it was read from
    window: tuple[datetime, datetime] | None = None  # as stored (read_surface)
    stored_ranks: np.ndarray | None = None  # 1 = riskiest, as the stored run ranked its units
    names: np.ndarray | None = None  # a place name per unit ("" where none), as stored
    #: Predictive interval of each unit's count (forecast/intervals.py) at ``meta["intervals"]["level"]``;
    #: None for a run made without intervals.
    count_lower: np.ndarray | None = None
    count_upper: np.ndarray | None = None

    def names_or_blank(self) -> np.ndarray:
        """The stored names, "" for each unit where the surface has none."""
        return np.full(len(self.ids), "", dtype=object) if self.names is None else self.names

    def place(self, i: int) -> str:
        """Unit ``i``'s name, or its id where it has none."""
        name = "" if self.names is None else str(self.names[i] or "")
        return name or str(self.ids[i])

    @property
    def scores(self) -> np.ndarray:
        return self.expected_harm if self.rank_by == "harm" else self.expected_count

    def ranks(self) -> np.ndarray:
        """1 = riskiest: as the stored run ranked its units, else by density of the scores."""
        if self.stored_ranks is not None:
            return self.stored_ranks
        order = rank(self.scores, self.units.area)
        out = np.empty(len(order), dtype="int64")
        out[order] = np.arange(1, len(order) + 1)
        return out

    @property
    def ids(self) -> np.ndarray:
        return self.units.ids

    @property
    def x(self) -> np.ndarray:
        return self.units.x

    @property
    def y(self) -> np.ndarray:
        return self.units.y

    @property
    def bcu(self) -> np.ndarray:
        return self.units.bcu

    @property
    def area_m2(self) -> np.ndarray:
        return self.units.area

    @property
    def geometry(self) -> np.ndarray:
        return self.units.geometry

    @property
    def provenance(self) -> dict[str, Any]:
        """What made the forecast (for a stored run, as stored with it)."""
        return self.meta

    @property
    def days(self) -> float:
        if self.window is None:
            raise ParameterError(
                "this forecast surface has no stored window: read it back with read_surface()"
            )
        return (self.window[1] - self.window[0]).total_seconds() / 86400.0

    def harm_week(self) -> np.ndarray:
        return self.expected_harm * 7.0 / self.days

    def table(self) -> pa.Table:
        u = self.units
        return pa.table(
            {
                "unit_id": pa.array(u.ids.astype(str)),
                "name": pa.array([str(n) if n else None for n in self.names_or_blank()], pa.string()),
                "bcu": pa.array([str(b) for b in u.bcu]),
                "rank": pa.array(self.ranks()),
                "expected_count": pa.array(self.expected_count),
                "expected_harm": pa.array(self.expected_harm),
                "count_lower": pa.array(self.count_lower, pa.float64()) if self.count_lower is not None
                else pa.nulls(len(u.ids), pa.float64()),
                "count_upper": pa.array(self.count_upper, pa.float64()) if self.count_upper is not None
                else pa.nulls(len(u.ids), pa.float64()),
                "area_m2": pa.array(u.area),
                "x": pa.array(u.x),
                "y": pa.array(u.y),
                "geometry": pa.array(list(shapely.to_wkb(u.geometry)), pa.binary()),
            }
        )


def save_surface(
    con: duckdb.DuckDBPyConnection,
    surface: Surface,
    *,
    reason: str | None = None,
    backtest: StoredBacktest | None = None,
) -> int:
    """Store a surface as a new run, its units named (geo/names.py) where the surface has no names yet,
    with the backtest it rests on if any; returns its ``run_id``. All or nothing."""
    if surface.names is None:
        surface.names = unit_names(con, surface.units)
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
                "INSERT INTO forecasts (run_id, unit_id, name, bcu, rank, expected_count, expected_harm, "
                "count_lower, count_upper, area_m2, x, y, geometry) SELECT ?, unit_id, name, bcu, rank, "
                "expected_count, expected_harm, count_lower, count_upper, area_m2, x, y, geometry FROM _ss_surface",
                [run_id],
            )
        finally:
            con.unregister("_ss_surface")
        if backtest is not None:
            _insert_backtest(con, replace(backtest, run_id=run_id))
    return run_id


def _insert_backtest(con: duckdb.DuckDBPyConnection, b: StoredBacktest) -> None:
    con.execute(
        "INSERT OR REPLACE INTO forecast_backtests VALUES (?, ?, ?, ?, ?, ?, ?, now())",
        [b.run_id, b.computed_by, b.model, b.reason, json.dumps(b.scores), json.dumps(b.summary, default=str),
         json.dumps(b.params, default=str)],
    )  # fmt: skip


def save_backtest(con: duckdb.DuckDBPyConnection, backtest: StoredBacktest) -> None:
    """Store (or replace) the backtest of forecast run ``backtest.run_id``."""
    with transaction(con):
        _insert_backtest(con, backtest)


def read_backtest(con: duckdb.DuckDBPyConnection, run_id: int) -> StoredBacktest | None:
    """The backtest stored for a forecast run, or None (a model chosen by hand, not yet backtested)."""
    row = fetch_one(
        con,
        "SELECT computed_by, model, reason, scores, summary, params, created_at FROM forecast_backtests "
        "WHERE run_id = ?",
        [run_id],
    )
    if row is None:
        return None
    return StoredBacktest(
        run_id, str(row[0]), str(row[1]), row[2], json.loads(row[3] or "{}"), json.loads(row[4]),
        json.loads(row[5] or "{}"), row[6],
    )  # fmt: skip


def latest_run(con: duckdb.DuckDBPyConnection) -> int | None:
    row = fetch_one(con, "SELECT max(run_id) FROM forecast_runs")
    return None if row is None or row[0] is None else int(row[0])


def _no_run(con: duckdb.DuckDBPyConnection, run_id: int) -> NotFoundError:
    latest = latest_run(con)
    hint = f"the latest is run {latest}" if latest is not None else "run 'safestreets forecast' first"
    return NotFoundError(f"no forecast run {run_id} in the store: {hint}")


def read_surface(con: duckdb.DuckDBPyConnection, run_id: int | None = None) -> Surface:
    """A stored forecast run (the latest by default), its units in unit id order. A run stored before
    units were named is named now (not stored: the connection may be read-only)."""
    run_id = run_id if run_id is not None else latest_run(con)
    if run_id is None:
        raise NoDataError("no forecast in the store: run 'safestreets forecast' first")
    info = fetch_one(
        con,
        "SELECT window_start, window_end, provenance, units_kind, rank_by FROM forecast_runs "
        "WHERE run_id = ?",
        [run_id],
    )
    if info is None:
        raise _no_run(con, run_id)
    data = con.execute(
        "SELECT unit_id, coalesce(name, '') AS name, name IS NULL AS unnamed, bcu, x, y, expected_count, "
        "expected_harm, rank, area_m2, geometry, count_lower, count_upper FROM forecasts WHERE run_id = ? "
        "ORDER BY unit_id", [run_id]
    ).fetchnumpy()  # fmt: skip
    bcu = np.asarray([b or "" for b in data["bcu"]], dtype=object)
    if len(bcu) and not any(bcu):  # no BCUs loaded: the whole study area is one command unit
        bcu[:] = WHOLE_AREA
    units = Units(
        ids=np.asarray(data["unit_id"], dtype=object), kind=str(info[3]),
        x=np.asarray(data["x"], dtype="float64"), y=np.asarray(data["y"], dtype="float64"),
        area=np.asarray(data["area_m2"], dtype="float64"),
        geometry=shapely.from_wkb([bytes(g) for g in data["geometry"]]), bcu=bcu,
        crs=get_setting(con, "crs"),
    )  # fmt: skip
    names = np.asarray(data["name"], dtype=object)
    if len(names) and np.all(data["unnamed"]):  # stored before units had names
        names = unit_names(con, units)
    return Surface(
        units,
        expected_count=np.asarray(data["expected_count"], dtype="float64"),
        expected_harm=np.asarray(data["expected_harm"], dtype="float64"),
        rank_by=str(info[4]),
        meta=json.loads(info[2]),
        run_id=int(run_id),
        window=(info[0], info[1]),
        stored_ranks=np.asarray(data["rank"], dtype="int64"),
        names=names,
        count_lower=_interval_column(data["count_lower"]),
        count_upper=_interval_column(data["count_upper"]),
    )


def _interval_column(values: Any) -> np.ndarray | None:
    """A stored interval bound per unit, or None where the run has none (stored before intervals)."""
    arr = np.ma.filled(np.ma.asarray(values, dtype="float64"), np.nan)
    return None if len(arr) == 0 or np.isnan(arr).all() else arr


def export_surface(con: duckdb.DuckDBPyConnection, run_id: int, out: str | Path) -> Path:
    """Write a stored run's surface to ``.gpkg``, ``.geojson`` or ``.parquet`` (GeoParquet): polygons,
    one per unit with its ``name``, with the run's provenance."""
    info = fetch_one(con, "SELECT provenance FROM forecast_runs WHERE run_id = ?", [run_id])
    if info is None:
        raise _no_run(con, run_id)
    data = con.sql(
        "SELECT unit_id, name, bcu, rank, expected_count, count_lower, count_upper, expected_harm, area_m2, "
        f"expected_count / area_m2 * 1e6 AS count_per_km2, geometry FROM forecasts WHERE run_id = {int(run_id)} "
        "ORDER BY rank"
    ).to_arrow_table()
    geoms = shapely.from_wkb(data.column("geometry").to_pylist())
    return write_geo(data.drop_columns(["geometry"]), geoms, out, crs=get_setting(con, "crs"),
                     provenance={"run_id": run_id, "forecast": json.loads(info[0])})  # fmt: skip
