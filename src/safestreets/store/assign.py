"""Assign events, outcomes and stop-searches to LSOA, borough and BCU from the loaded areas.

Two routes, tried in order for each row:

1. By code: a published ``lsoa_code`` found in a loaded LSOA set (``lsoa11``, ``lsoa21`` or the synthetic
   city's ``lsoa``) gives the borough (the LSOA's parent) and the BCU (the borough's parent). police.uk
   moved from 2011 to 2021 LSOA codes during 2022-23; joining each code to whichever set holds it puts
   every month in the right boundary set without knowing the switch date.
2. By point: otherwise the row's x/y (workspace CRS) is looked up in the newest LSOA set loaded, and in
   the borough polygons where no LSOA holds it. Only distinct points are located (police.uk snaps crimes
   to shared points), all at once through an STRtree; a point on a shared edge goes to the lowest code.

Everything is written back with a few set-based UPDATEs, so this runs inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from safestreets.store import arrow, one_row, register

TABLES = ("events", "outcomes", "stop_searches")
# Which LSOA set wins for point lookups when several are loaded: the newest.
POINT_LSOA_PREFERENCE = ("lsoa21", "lsoa", "lsoa11")
# For a code present in more than one set (most codes survived 2011 -> 2021 unchanged), the newer
# set's parent wins: it names the current local authority.
CODE_PREFERENCE = ("lsoa21", "lsoa", "lsoa11")

_FINITE_XY = "x IS NOT NULL AND y IS NOT NULL AND isfinite(x) AND isfinite(y)"


def assign_areas(
    con: duckdb.DuckDBPyConnection, table: str = "events", *, where: str | None = None
) -> dict[str, Any]:
    """Fill ``borough_code``, ``bcu`` and a missing ``lsoa_code`` for the rows of ``table`` in ``where``.

    ``where`` is a trusted SQL condition on the table's own columns (for example ``"batch_id = 7"``).
    Every row in scope is recomputed, so a row outside all areas ends NULL. Returns counts:
    ``rows``, ``by_code``, ``by_point``, ``unassigned`` (of which ``no_location``), and ``points`` (distinct
    points located).
    """
    if table not in TABLES:  # an internal guard: the name goes into SQL; only the store's loaders call this
        raise ValueError(f"cannot assign areas to {table!r}: expected one of {', '.join(TABLES)}")
    scope = f"({where})" if where else "TRUE"
    use_codes = table != "stop_searches"  # stop-search files publish no LSOA: any code there is ours

    codemap = _code_map(con) if use_codes else _empty_code_map()
    lsoa_kind = _point_lsoa_kind(con)
    has_boroughs = _has_geometry(con, "borough")
    counts: dict[str, Any] = {"table": table, "rows": 0, "by_code": 0, "by_point": 0, "unassigned": 0}
    counts.update(no_location=0, points=0)

    t = table
    # Rows whose published code is not in a loaded LSOA set go by point; stop-searches always do.
    by_point_only = (
        "AND (lsoa_code IS NULL OR lsoa_code NOT IN (SELECT m_code FROM _ss_codemap))" if use_codes else ""
    )
    no_point = f"NOT coalesce({_FINITE_XY}, FALSE)"
    register(con, "_ss_codemap", codemap)
    try:
        row = one_row(
            con,
            f"SELECT count(*), count(m.m_code), count(*) FILTER (WHERE m.m_code IS NULL AND {no_point}) "
            f"FROM {t} LEFT JOIN _ss_codemap m ON lsoa_code = m.m_code WHERE {scope}",
        )
        counts["rows"], counts["by_code"], counts["no_location"] = (int(v) for v in row)
        if counts["rows"] == 0:
            return counts
        if codemap.num_rows == 0 and lsoa_kind is None and not has_boroughs:
            # No areas loaded: nothing to assign, and rewriting every row to NULL would only cost time.
            counts["unassigned"] = counts["rows"]
            return counts

        # Each UPDATE skips rows already right, so a re-run after an unrelated load writes almost nothing.
        if codemap.num_rows:
            con.execute(
                f"UPDATE {t} SET borough_code = m.m_borough, bcu = m.m_bcu FROM _ss_codemap m "
                f"WHERE {t}.lsoa_code = m.m_code AND {scope} "
                f"AND ({t}.borough_code IS DISTINCT FROM m.m_borough OR {t}.bcu IS DISTINCT FROM m.m_bcu)"
            )

        points = arrow(
            con,
            f"SELECT x, y, count(*) AS n FROM {t} "
            f"WHERE {scope} AND {_FINITE_XY} {by_point_only} GROUP BY x, y",
        )
        located = _locate_points(con, points, lsoa_kind, has_boroughs)
        counts["points"] = points.num_rows
        found = pc.or_(pc.is_valid(located.column("p_lsoa")), pc.is_valid(located.column("p_borough")))
        counts["by_point"] = int(pc.sum(pc.if_else(found, points.column("n"), 0)).as_py() or 0)
        new_lsoa = "coalesce(lsoa_code, p.p_lsoa)" if use_codes else "p.p_lsoa"
        changed = (
            f"({t}.lsoa_code IS DISTINCT FROM {new_lsoa} OR {t}.borough_code IS DISTINCT FROM p.p_borough "
            f"OR {t}.bcu IS DISTINCT FROM p.p_bcu)"
        )
        register(con, "_ss_points", located)
        try:
            con.execute(
                f"UPDATE {t} SET lsoa_code = {new_lsoa}, borough_code = p.p_borough, bcu = p.p_bcu "
                f"FROM _ss_points p WHERE {t}.x = p.px AND {t}.y = p.py AND {scope} {by_point_only} "
                f"AND {changed}"
            )
        finally:
            con.unregister("_ss_points")

        # Rows with neither a known code nor a usable point: clear what an earlier run may have set.
        if use_codes:
            clear, stale = "borough_code = NULL, bcu = NULL", "borough_code IS NOT NULL OR bcu IS NOT NULL"
        else:
            clear = "borough_code = NULL, bcu = NULL, lsoa_code = NULL"
            stale = "borough_code IS NOT NULL OR bcu IS NOT NULL OR lsoa_code IS NOT NULL"
        con.execute(f"UPDATE {t} SET {clear} WHERE {scope} AND {no_point} {by_point_only} AND ({stale})")
    finally:
        con.unregister("_ss_codemap")
    counts["unassigned"] = counts["rows"] - counts["by_code"] - counts["by_point"]
    return counts


def _empty_code_map() -> pa.Table:
    return pa.table(
        {
            "m_code": pa.array([], pa.string()),
            "m_borough": pa.array([], pa.string()),
            "m_bcu": pa.array([], pa.string()),
        }
    )


def _code_map(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """LSOA code -> borough, BCU, one row per code (the newest set wins a code held by several)."""
    order = " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(CODE_PREFERENCE))
    kinds = ", ".join(f"'{k}'" for k in CODE_PREFERENCE)
    return arrow(
        con,
        f"SELECT l.code AS m_code, l.parent AS m_borough, b.parent AS m_bcu FROM areas l "
        f"LEFT JOIN areas b ON b.kind = 'borough' AND b.code = l.parent WHERE l.kind IN ({kinds}) "
        f"QUALIFY row_number() OVER (PARTITION BY l.code ORDER BY CASE l.kind {order} END) = 1",
    )


def _point_lsoa_kind(con: duckdb.DuckDBPyConnection) -> str | None:
    for kind in POINT_LSOA_PREFERENCE:
        if _has_geometry(con, kind):
            return kind
    return None


def _has_geometry(con: duckdb.DuckDBPyConnection, kind: str) -> bool:
    (found,) = one_row(
        con, "SELECT EXISTS (SELECT 1 FROM areas WHERE kind = ? AND geometry IS NOT NULL)", [kind]
    )
    return bool(found)


def _polygons(
    con: duckdb.DuckDBPyConnection, kind: str
) -> tuple[np.ndarray, list[str], list[Any], list[Any]]:
    """Polygons of one kind sorted by code, so the lowest index is the lowest code; with parents."""
    con.complete()
    rows = con.execute(
        "SELECT a.code, a.geometry, a.parent, b.parent FROM areas a "
        "LEFT JOIN areas b ON b.kind = 'borough' AND b.code = a.parent "
        "WHERE a.kind = ? AND a.geometry IS NOT NULL ORDER BY a.code",
        [kind],
    ).fetchall()
    geoms = shapely.from_wkb([r[1] for r in rows])
    return geoms, [r[0] for r in rows], [r[2] for r in rows], [r[3] for r in rows]


def locate(xs: np.ndarray, ys: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon holding each point (-1 for none); a point on a shared edge gets the lowest.

    The tree is built over the points and queried with the polygons: GEOS then prepares each polygon
    once and tests all the points in its box against it, which beats testing each point against
    unprepared polygons (about 2x for LSOAs, 4x for boroughs, whose outlines are long).
    """
    result = np.full(len(xs), -1, dtype=np.int64)
    if len(xs) == 0 or len(polygons) == 0:
        return result
    tree = shapely.STRtree(shapely.points(xs, ys))
    poly_idx, point_idx = tree.query(polygons, predicate="intersects")
    if len(point_idx) == 0:
        return result
    lowest = np.full(len(xs), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(lowest, point_idx, poly_idx)
    hit = lowest != np.iinfo(np.int64).max
    result[hit] = lowest[hit]
    return result


def _locate_points(
    con: duckdb.DuckDBPyConnection, points: pa.Table, lsoa_kind: str | None, has_boroughs: bool
) -> pa.Table:
    """Distinct points -> (p_lsoa, p_borough, p_bcu): LSOAs first, borough polygons for the rest."""
    n = points.num_rows
    xs = points.column("x").to_numpy()
    ys = points.column("y").to_numpy()
    lsoa = np.full(n, None, dtype=object)
    borough = np.full(n, None, dtype=object)
    bcu = np.full(n, None, dtype=object)
    todo = np.ones(n, dtype=bool)
    if n and lsoa_kind is not None:
        geoms, codes, parents, grandparents = _polygons(con, lsoa_kind)
        idx = locate(xs, ys, geoms)
        hit = idx >= 0
        lsoa[hit] = np.asarray(codes, dtype=object)[idx[hit]]
        borough[hit] = np.asarray(parents, dtype=object)[idx[hit]]
        bcu[hit] = np.asarray(grandparents, dtype=object)[idx[hit]]
        todo &= ~hit
    if todo.any() and has_boroughs:
        geoms, codes, parents, _ = _polygons(con, "borough")
        rest = np.flatnonzero(todo)
        idx = locate(xs[rest], ys[rest], geoms)
        hit = idx >= 0
        borough[rest[hit]] = np.asarray(codes, dtype=object)[idx[hit]]
        bcu[rest[hit]] = np.asarray(parents, dtype=object)[idx[hit]]
    return pa.table(
        {
            "px": points.column("x"),
            "py": points.column("y"),
            "p_lsoa": pa.array(lsoa, pa.string()),
            "p_borough": pa.array(borough, pa.string()),
            "p_bcu": pa.array(bcu, pa.string()),
        }
    )


def locate_xy(con: duckdb.DuckDBPyConnection, x: np.ndarray, y: np.ndarray) -> pa.Table:
    """The loaded LSOA, borough and BCU holding each point (``p_lsoa``, ``p_borough``, ``p_bcu``; None
    outside them all), for loaders of points that are not events (ANPR cameras)."""
    return _locate_points(con, pa.table({"x": x, "y": y}), _point_lsoa_kind(con), _has_geometry(con, "borough"))
