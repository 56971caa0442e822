"""Read helpers for the map: boundaries, events (points, counts per cell, counts per period), a stored
forecast's units and their neighbours, a plan's hot spots and places, each filtered by a box in the
workspace CRS and by command unit (BCU).

Boxes are ``(xmin, ymin, xmax, ymax)`` in the workspace CRS; geometries come back as WKB in that CRS. The
API (``api/layers.py``) turns them into RFC 7946 GeoJSON; nothing here knows about the web.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import shapely

from safestreets.store import fetch_one

Box = tuple[float, float, float, float]


# --- command units and areas ---------------------------------------------------------------------------


def bcus(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Command units: code -> name, from the loaded BCU areas, else as the events name them."""
    rows = con.execute(
        "SELECT code, coalesce(name, code) FROM areas WHERE kind = 'bcu' ORDER BY code"
    ).fetchall()
    if rows:
        return {str(c): str(n) for c, n in rows}
    rows = con.execute("SELECT DISTINCT bcu FROM events WHERE bcu IS NOT NULL ORDER BY 1").fetchall()
    return {str(r[0]): str(r[0]) for r in rows}


def area_bounds(con: duckdb.DuckDBPyConnection, kind: str, code: str) -> Box | None:
    row = fetch_one(con, "SELECT xmin, ymin, xmax, ymax FROM areas WHERE kind = ? AND code = ? AND xmin IS NOT NULL",
                    [kind, code])  # fmt: skip
    return None if row is None else (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def study_bounds(con: duckdb.DuckDBPyConnection) -> Box | None:
    """The box around every boundary, else around every located event."""
    row = fetch_one(con, "SELECT min(xmin), min(ymin), max(xmax), max(ymax) FROM areas")
    if row is None or row[0] is None:
        row = fetch_one(con, "SELECT min(x), min(y), max(x), max(y) FROM events")
    if row is None or row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def mapped_area_kinds(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Area kinds with at least one boundary to draw."""
    rows = con.execute("SELECT DISTINCT kind FROM areas WHERE geometry IS NOT NULL ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]


def area_bcus(con: duckdb.DuckDBPyConnection, kind: str) -> dict[str, str]:
    """The command unit of each area of ``kind``: up its parents (LSOA -> borough -> BCU), else the BCU
    whose boundary holds a point inside the area."""
    rows = con.execute("SELECT kind, code, parent FROM areas").fetchall()
    parent = {(str(k), str(c)): p for k, c, p in rows}
    kind_of: dict[str, str] = {}
    for k, c, _ in rows:
        kind_of.setdefault(str(c), str(k))
    bcu_codes = {str(c) for k, c, _ in rows if k == "bcu"}
    out: dict[str, str] = {}
    missing = []
    for k, c, _ in rows:
        if k != kind:
            continue
        code, this_kind = str(c), str(k)
        for _ in range(4):  # LSOA -> borough -> BCU at most, with room for one more level
            if this_kind == "bcu":
                out[str(c)] = code
                break
            up = parent.get((this_kind, code))
            if up is None:
                break
            code = str(up)
            this_kind = kind_of.get(code, "bcu" if code in bcu_codes else "")
            if code in bcu_codes:
                out[str(c)] = code
                break
        if str(c) not in out:
            missing.append(str(c))
    if missing and bcu_codes:
        shapes = con.execute(
            "SELECT code, geometry FROM areas WHERE kind = 'bcu' AND geometry IS NOT NULL ORDER BY code"
        ).fetchall()
        inner = con.execute(
            "SELECT code, geometry FROM areas WHERE kind = ? AND geometry IS NOT NULL AND list_contains(?, code)",
            [kind, missing],
        ).fetchall()
        if shapes and inner:
            points = shapely.point_on_surface(shapely.from_wkb([g for _, g in inner]))
            tree = shapely.STRtree(shapely.from_wkb([g for _, g in shapes]))
            pi, bi = tree.query(points, predicate="intersects")
            for p, b in zip(pi, bi, strict=True):
                out.setdefault(str(inner[p][0]), str(shapes[b][0]))
    return out


def areas(
    con: duckdb.DuckDBPyConnection, kind: str, *, box: Box | None = None, codes: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Areas of ``kind`` with a boundary (optionally only those whose box meets ``box``, or only ``codes``):
    code, name, parent, population, area_m2 and the WKB geometry."""
    where = ["kind = ?", "geometry IS NOT NULL"]
    params: list[Any] = [kind]
    if box is not None:
        where.append("xmax >= ? AND xmin <= ? AND ymax >= ? AND ymin <= ?")
        params += [box[0], box[2], box[1], box[3]]
    if codes is not None:
        where.append("list_contains(?, code)")
        params.append(list(codes))
    rows = con.execute(
        f"SELECT code, name, parent, population, area_m2, geometry FROM areas WHERE {' AND '.join(where)} "
        "ORDER BY code",
        params,
    ).fetchall()
    return [{"code": c, "name": n, "parent": p, "population": pop, "area_m2": a, "geometry": g}
            for c, n, p, pop, a, g in rows]  # fmt: skip


def names_at(con: duckdb.DuckDBPyConnection, kind: str, x: np.ndarray, y: np.ndarray) -> list[str | None]:
    """The name (else code) of the area of ``kind`` holding each point; None outside every area."""
    rows = con.execute(
        "SELECT coalesce(name, code), geometry FROM areas WHERE kind = ? AND geometry IS NOT NULL ORDER BY code",
        [kind],
    ).fetchall()
    out: list[str | None] = [None] * len(x)
    if not rows or not len(x):
        return out
    tree = shapely.STRtree(shapely.points(np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")))
    ai, pi = tree.query(shapely.from_wkb([g for _, g in rows]), predicate="intersects")
    for a, p in zip(ai, pi, strict=True):
        if out[p] is None:
            out[p] = str(rows[a][0])
    return out


# --- events --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    """Which events: one source (sources overlap: the same crimes), crime types, months, BCU, a box."""

    source: str
    types: tuple[str, ...] | None = None  # None: every type
    months: tuple[str, ...] | None = None  # YYYY-MM; None: every month
    bcu: str | None = None
    box: Box | None = None

    def sql(self) -> tuple[str, list[Any]]:
        where = ["source = ?", "x IS NOT NULL"]
        params: list[Any] = [self.source]
        if self.types is not None:
            where.append("list_contains(?, crime_type)")
            params.append(list(self.types))
        if self.months is not None:
            where.append("list_contains(?, strftime(month, '%Y-%m'))")
            params.append(list(self.months))
        if self.bcu is not None:
            where.append("bcu = ?")
            params.append(self.bcu)
        if self.box is not None:
            where.append("x >= ? AND x <= ? AND y >= ? AND y <= ?")
            params += [self.box[0], self.box[2], self.box[1], self.box[3]]
        return " AND ".join(where), params


def sources(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Each events source with its months (YYYY-MM, ascending) and whether every event has a time."""
    rows = con.execute(
        "SELECT source, list(DISTINCT strftime(month, '%Y-%m') ORDER BY strftime(month, '%Y-%m')), "
        "bool_and(occurred_at IS NOT NULL) FROM events GROUP BY source ORDER BY source"
    ).fetchall()
    return {str(s): {"months": [str(m) for m in months], "timed": bool(timed)} for s, months, timed in rows}


def count_events(con: duckdb.DuckDBPyConnection, f: EventFilter) -> int:
    where, params = f.sql()
    row = fetch_one(con, f"SELECT count(*) FROM events WHERE {where}", params)
    return int(row[0]) if row else 0


def event_points(con: duckdb.DuckDBPyConnection, f: EventFilter, *, limit: int) -> list[dict[str, Any]]:
    """Events as points: month, type, harm, the published location text and outcome, x and y. No ids:
    the map has no need of them."""
    where, params = f.sql()
    rows = con.execute(
        f"SELECT strftime(month, '%Y-%m'), crime_type, harm, location, outcome, x, y FROM events WHERE {where} "
        "ORDER BY month, crime_type, x, y LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [{"month": m, "crime_type": t, "harm": h, "location": loc, "outcome": o, "x": x, "y": y}
            for m, t, h, loc, o, x, y in rows]  # fmt: skip


def cell_counts(
    con: duckdb.DuckDBPyConnection, f: EventFilter, cell: float
) -> list[tuple[int, int, int, float]]:
    """Events per square cell of ``cell`` metres (cells aligned as the forecast grid aligns them:
    south-west corners at multiples of the size): (column, row, events, harm), busiest first."""
    where, params = f.sql()
    rows = con.execute(
        f"SELECT CAST(floor(x / ?) AS BIGINT), CAST(floor(y / ?) AS BIGINT), count(*), coalesce(sum(harm), 0) "
        f"FROM events WHERE {where} GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
        [cell, cell, *params],
    ).fetchall()
    return [(int(c), int(r), int(n), float(h)) for c, r, n, h in rows]


def period_counts(
    con: duckdb.DuckDBPyConnection,
    f: EventFilter,
    *,
    period: str = "month",
    area: tuple[str, str] | None = None,
) -> dict[str, tuple[int, float]]:
    """Events and harm per month (``YYYY-MM``) or week (its Monday, ``YYYY-MM-DD``; timed events only).
    ``area`` = (column, code) keeps the events an earlier assignment put in that area."""
    where, params = f.sql()
    if area is not None:
        column, code = area
        if column not in ("lsoa_code", "borough_code", "bcu"):
            raise ValueError(column)  # a programming error: the column is chosen by the caller
        where += f" AND {column} = ?"
        params.append(code)
    key = (
        "strftime(month, '%Y-%m')"
        if period == "month"
        else "strftime(date_trunc('week', occurred_at), '%Y-%m-%d')"
    )
    if period != "month":
        where += " AND occurred_at IS NOT NULL"
    rows = con.execute(
        f"SELECT {key}, count(*), coalesce(sum(harm), 0) FROM events WHERE {where} GROUP BY 1 ORDER BY 1",
        params,
    ).fetchall()
    return {str(k): (int(n), float(h)) for k, n, h in rows}


def events_in(
    con: duckdb.DuckDBPyConnection, f: EventFilter, geometry: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Months (``YYYY-MM``), week starts (``YYYY-MM-DD`` or ''), harm and location text of the events
    inside a polygon (``f.box`` should be its bounds)."""
    where, params = f.sql()
    rows = con.execute(
        f"SELECT strftime(month, '%Y-%m'), coalesce(strftime(date_trunc('week', occurred_at), '%Y-%m-%d'), ''), "
        f"coalesce(harm, 0), location, x, y FROM events WHERE {where}",
        params,
    ).fetchall()
    if not rows:
        empty = np.array([], dtype=object)
        return empty, empty, np.array([], dtype="float64"), empty
    xs = np.fromiter((r[4] for r in rows), dtype="float64", count=len(rows))
    ys = np.fromiter((r[5] for r in rows), dtype="float64", count=len(rows))
    shapely.prepare(geometry)
    inside = shapely.contains_xy(geometry, xs, ys) | shapely.intersects_xy(geometry, xs, ys)
    keep = np.flatnonzero(inside)
    months = np.array([rows[i][0] for i in keep], dtype=object)
    weeks = np.array([rows[i][1] for i in keep], dtype=object)
    harm = np.array([rows[i][2] for i in keep], dtype="float64")
    where_text = np.array([rows[i][3] for i in keep], dtype=object)
    return months, weeks, harm, where_text


def common_locations(
    con: duckdb.DuckDBPyConnection, f: EventFilter, *, limit: int = 3
) -> list[tuple[str, int]]:
    """The published location texts ("On or near High Street") most events in ``f`` carry."""
    where, params = f.sql()
    rows = con.execute(
        f"SELECT location, count(*) FROM events WHERE {where} AND location IS NOT NULL AND location <> '' "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [(str(loc), int(n)) for loc, n in rows]


# --- stored forecasts ---------------------------------------------------------------------------------


def forecast_runs(con: duckdb.DuckDBPyConnection, limit: int = 50) -> list[dict[str, Any]]:
    """The newest stored forecast runs: id, when, target, model, window, units."""
    rows = con.execute(
        "SELECT run_id, created_at, target, model, horizon, window_start, window_end, units_kind, cell_size, "
        "rank_by FROM forecast_runs ORDER BY run_id DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [{"run_id": int(r[0]), "created_at": r[1], "target": r[2], "model": r[3], "horizon": r[4],
             "window": (r[5], r[6]), "units_kind": r[7], "cell_size": r[8], "rank_by": r[9]}
            for r in rows]  # fmt: skip


def forecast_run(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, Any] | None:
    """One run as stored (with its provenance parsed and its unit count), or None."""
    row = fetch_one(
        con,
        "SELECT run_id, created_at, target, police_found, model, horizon, window_start, window_end, units_kind, "
        "cell_size, rank_by, reason, provenance, (SELECT count(*) FROM forecasts f WHERE f.run_id = r.run_id) "
        "FROM forecast_runs r WHERE run_id = ?",
        [run_id],
    )
    if row is None:
        return None
    keys = ("run_id", "created_at", "target", "police_found", "model", "horizon", "window_start", "window_end",
            "units_kind", "cell_size", "rank_by", "reason", "provenance", "units")  # fmt: skip
    out = dict(zip(keys, row, strict=True))
    out["provenance"] = json.loads(out["provenance"]) if out["provenance"] else {}
    return out


_UNIT_COLUMNS = ("unit_id, bcu, rank, expected_count, expected_harm, area_m2, x, y, top_share, geometry, count_lower, "
                 "count_upper")
# The share of the run's land in units ranked at or above each one: "in the top 1% of the area".
_RANKED = (
    "SELECT *, sum(area_m2) OVER (ORDER BY rank, unit_id ROWS UNBOUNDED PRECEDING) / sum(area_m2) OVER () "
    "AS top_share FROM forecasts WHERE run_id = ?"
)


def _unit_rows(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    keys = [k.strip() for k in _UNIT_COLUMNS.split(",")]
    return [dict(zip(keys, r, strict=True)) for r in rows]


def forecast_units(
    con: duckdb.DuckDBPyConnection, run_id: int, *, bcu: str | None = None, box: Box | None = None
) -> list[dict[str, Any]]:
    """A run's units (riskiest first) whose shape meets ``box``, optionally of one BCU."""
    where, params = "TRUE", [run_id]
    if bcu is not None:
        where, params = "bcu = ?", [run_id, bcu]
    rows = con.execute(f"SELECT {_UNIT_COLUMNS} FROM ({_RANKED}) WHERE {where} ORDER BY rank, unit_id",
                       params).fetchall()  # fmt: skip
    units = _unit_rows(rows)
    if box is None or not units:
        return units
    shapes = shapely.from_wkb([u["geometry"] for u in units])
    keep = shapely.intersects(shapely.box(*box), shapes)
    return [u for u, k in zip(units, keep, strict=True) if k]


def forecast_unit(con: duckdb.DuckDBPyConnection, run_id: int, unit_id: str) -> dict[str, Any] | None:
    rows = con.execute(
        f"SELECT {_UNIT_COLUMNS} FROM ({_RANKED}) WHERE unit_id = ?", [run_id, unit_id]
    ).fetchall()
    return _unit_rows(rows)[0] if rows else None


def forecast_neighbours(
    con: duckdb.DuckDBPyConnection, run_id: int, unit: dict[str, Any], cell_size: float | None
) -> list[dict[str, Any]]:
    """The units touching ``unit`` (grid: the eight around it), nearest first, with their ranks."""
    if cell_size:
        reach = 1.5 * float(cell_size)
        rows = con.execute(
            f"SELECT {_UNIT_COLUMNS} FROM ({_RANKED}) WHERE unit_id <> ? AND abs(x - ?) < ? AND abs(y - ?) < ?",
            [run_id, unit["unit_id"], unit["x"], reach, unit["y"], reach],
        ).fetchall()
        found = _unit_rows(rows)
    else:
        shape = shapely.from_wkb(unit["geometry"])
        others = [
            u
            for u in forecast_units(con, run_id, box=tuple(shapely.bounds(shape)))
            if u["unit_id"] != unit["unit_id"]
        ]  # type: ignore[arg-type]
        touching = (
            shapely.intersects(shape, shapely.from_wkb([u["geometry"] for u in others])) if others else []
        )
        found = [u for u, t in zip(others, touching, strict=True) if t]
    found.sort(key=lambda u: (float(u["x"]) - unit["x"]) ** 2 + (float(u["y"]) - unit["y"]) ** 2)
    return found


# --- plans and places ---------------------------------------------------------------------------------


def latest_plan(con: duckdb.DuckDBPyConnection) -> int | None:
    row = fetch_one(con, "SELECT max(plan_id) FROM plan_runs")
    return None if row is None or row[0] is None else int(row[0])


def plan_run(con: duckdb.DuckDBPyConnection, plan_id: int) -> dict[str, Any] | None:
    row = fetch_one(
        con,
        "SELECT plan_id, created_at, week_start, forecast_run_id, solver, status, objective FROM plan_runs "
        "WHERE plan_id = ?",
        [plan_id],
    )
    if row is None:
        return None
    keys = ("plan_id", "created_at", "week_start", "forecast_run_id", "solver", "status", "objective")
    return dict(zip(keys, row, strict=True))


def plans(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, Any]]:
    rows = con.execute(
        "SELECT plan_id, week_start, forecast_run_id FROM plan_runs ORDER BY plan_id DESC LIMIT ?", [limit]
    ).fetchall()
    return [{"plan_id": int(p), "week_start": w, "forecast_run_id": f} for p, w, f in rows]


def plan_hotspots(
    con: duckdb.DuckDBPyConnection, plan_id: int, *, bcu: str | None = None, unit_id: str | None = None
) -> list[dict[str, Any]]:
    """A plan's hot spots, one row each with the plan's own number: its unit, BCU, teams and shifts,
    visits a day (all teams), expected harm a week, a point and (from the plan's forecast) the unit's shape."""
    where, params = "h.plan_id = ?", [plan_id]
    if bcu is not None:
        where += " AND h.bcu = ?"
        params.append(bcu)
    if unit_id is not None:
        where += " AND h.unit_id = ?"
        params.append(unit_id)
    rows = con.execute(
        "SELECT h.hotspot, h.unit_id, any_value(h.bcu), list(DISTINCT h.team_id ORDER BY h.team_id), "
        "list(DISTINCT h.shift ORDER BY h.shift), sum(h.visits_per_day), max(h.harm_week), any_value(h.x), "
        "any_value(h.y), any_value(h.neighbourhood), any_value(f.geometry) "
        "FROM plan_hotspots h JOIN plan_runs p USING (plan_id) "
        "LEFT JOIN forecasts f ON f.run_id = p.forecast_run_id AND f.unit_id = h.unit_id "
        f"WHERE {where} GROUP BY h.hotspot, h.unit_id ORDER BY h.hotspot, h.unit_id",
        params,
    ).fetchall()
    keys = ("hotspot", "unit_id", "bcu", "teams", "shifts", "visits_per_day", "harm_week", "x", "y",
            "neighbourhood", "geometry")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in rows]


def place_kinds(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [str(r[0]) for r in con.execute("SELECT DISTINCT kind FROM places ORDER BY 1").fetchall()]


def places(con: duckdb.DuckDBPyConnection, kind: str, *, box: Box | None = None) -> list[dict[str, Any]]:
    """Places of ``kind`` with a location (optionally inside ``box``): id, name, x, y, attributes."""
    where, params = "kind = ? AND x IS NOT NULL", [kind]
    if box is not None:
        where += " AND x >= ? AND x <= ? AND y >= ? AND y <= ?"
        params += [box[0], box[2], box[1], box[3]]
    rows = con.execute(
        f"SELECT place_id, name, x, y, attributes FROM places WHERE {where} ORDER BY name, place_id", params
    ).fetchall()
    return [{"place_id": p, "name": n, "x": x, "y": y, "attributes": json.loads(a) if a else {}}
            for p, n, x, y, a in rows]  # fmt: skip
