"""Read-only questions the CLI, reports and the web app ask of the store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np

from safestreets.store import fetch_one, get_setting


@dataclass
class TableSummary:
    rows: int
    no_location: int
    first_month: str | None
    last_month: str | None


@dataclass
class Status:
    crs: str
    timezone: str
    tables: dict[str, TableSummary]
    batches: int
    rejected: int
    rejected_reasons: list[tuple[str, str, int]]  # (column, reason, rows)
    areas: dict[str, int]
    places: dict[str, int]
    forces: list[str]
    matrix: list[tuple[str, str, str, int]] = field(default_factory=list)  # force/source, month, type, rows
    unassigned: int = 0  # events with a location but no borough (only when areas are loaded)
    gaps: list[tuple[str, str, str, int]] = field(default_factory=list)  # table/force/source, first, last, months


def gaps(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, int]]:
    """Runs of months with no rows between a force's first and last month, per table and source:
    (what, first missing month, last missing month, months missing). A gap is not zero crime."""
    found: list[tuple[str, str, str, int]] = []
    for table, label in (("events", "force || ' ' || source"), ("stop_searches", "force || ' stop and search'")):
        rows = con.execute(
            f"""
            WITH have AS (SELECT DISTINCT {label} AS what, month FROM {table}),
            span AS (SELECT what, min(month) AS lo, max(month) AS hi FROM have GROUP BY 1),
            every AS (SELECT what, unnest(generate_series(lo, hi, INTERVAL 1 MONTH)) AS month FROM span),
            missing AS (SELECT what, month::DATE AS month FROM every ANTI JOIN have USING (what, month)),
            runs AS (SELECT what, month, date_diff('month', DATE '1970-01-01', month)
                            - row_number() OVER (PARTITION BY what ORDER BY month) AS run FROM missing)
            SELECT what, strftime(min(month), '%Y-%m'), strftime(max(month), '%Y-%m'), count(*)
            FROM runs GROUP BY what, run ORDER BY 1, 2
            """
        ).fetchall()
        found += [(str(w), str(a), str(b), int(n)) for w, a, b, n in rows]
    return found


def _summary(con: duckdb.DuckDBPyConnection, table: str) -> TableSummary:
    row = fetch_one(
        con,
        f"SELECT count(*), count(*) FILTER (WHERE lon IS NULL), strftime(min(month), '%Y-%m'), "
        f"strftime(max(month), '%Y-%m') FROM {table}",
    )
    assert row is not None
    return TableSummary(int(row[0]), int(row[1]), row[2], row[3])


def status(con: duckdb.DuckDBPyConnection) -> Status:
    tables = {t: _summary(con, t) for t in ("events", "outcomes", "stop_searches")}
    # Rejects of a load whose rows a later load of the same months has all replaced are history, not
    # rows missing from the store now: a load is current while it has rows left (or loaded none).
    live = (
        "batch_id IN (SELECT batch_id FROM batches WHERE rows_loaded = 0) OR batch_id IN (SELECT DISTINCT "
        "batch_id FROM events UNION SELECT DISTINCT batch_id FROM outcomes UNION SELECT DISTINCT batch_id FROM "
        "stop_searches)"
    )
    rejected = fetch_one(con, f"SELECT count(DISTINCT (batch_id, row_number)) FROM rejects WHERE {live}")
    reasons = con.execute(
        f"SELECT coalesce(column_name, ''), reason, count(*) FROM rejects WHERE {live} GROUP BY ALL ORDER BY 3 "
        "DESC LIMIT 10"
    ).fetchall()
    areas = dict(con.execute("SELECT kind, count(*) FROM areas GROUP BY kind ORDER BY kind").fetchall())
    places = dict(con.execute("SELECT kind, count(*) FROM places GROUP BY kind ORDER BY kind").fetchall())
    forces = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT force FROM (SELECT force FROM events UNION SELECT force FROM stop_searches "
            "UNION SELECT force FROM outcomes) ORDER BY 1"
        ).fetchall()
    ]
    matrix = con.execute(
        "SELECT force || ' (' || source || ')', strftime(month, '%Y-%m'), crime_type, count(*) FROM events "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    unassigned = 0
    if areas:
        row = fetch_one(con, "SELECT count(*) FROM events WHERE lon IS NOT NULL AND borough_code IS NULL")
        unassigned = int(row[0]) if row else 0
    batches = fetch_one(con, "SELECT count(*) FROM batches")
    return Status(
        crs=get_setting(con, "crs"),
        timezone=get_setting(con, "timezone"),
        tables=tables,
        batches=int(batches[0]) if batches else 0,
        rejected=int(rejected[0]) if rejected else 0,
        rejected_reasons=[(str(c), str(r), int(n)) for c, r, n in reasons],
        areas={str(k): int(v) for k, v in areas.items()},
        places={str(k): int(v) for k, v in places.items()},
        forces=forces,
        matrix=[(str(f), str(m), str(t), int(n)) for f, m, t, n in matrix],
        unassigned=unassigned,
        gaps=gaps(con),
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def filter_sql(
    *,
    months: list[str] | None = None,
    force: str | None = None,
    crime_types: list[str] | None = None,
    source: str | None = None,
) -> str | None:
    """A WHERE clause for month, force, crime-type and source filters (values quoted; ``None`` when no
    filter)."""
    where = []
    if source:
        where.append(f"source = {_quote(source)}")
    if months:
        where.append(f"strftime(month, '%Y-%m') IN ({', '.join(_quote(m) for m in months)})")
    if force:
        where.append(f"force = {_quote(force)}")
    if crime_types:
        where.append(f"crime_type IN ({', '.join(_quote(t) for t in crime_types)})")
    return " AND ".join(where) or None


def count_rows(con: duckdb.DuckDBPyConnection, table: str, where: str | None = None) -> int:
    row = fetch_one(con, f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else ""))
    return int(row[0]) if row else 0


def batch_area_counts(con: duckdb.DuckDBPyConnection, batch_id: int | None) -> dict[str, int]:
    """Areas per kind that one load added."""
    rows = con.execute("SELECT kind, count(*) FROM areas WHERE batch_id = ? GROUP BY 1 ORDER BY 1", [batch_id])
    return {str(k): int(n) for k, n in rows.fetchall()}


def area_kinds(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """Per area kind: how many, how many with a boundary and a parent, and their population."""
    rows = con.execute(
        "SELECT kind, count(*), count(geometry), count(parent), sum(population) FROM areas GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return [
        {"kind": k, "areas": int(n), "with_boundary": int(g), "with_parent": int(p),
         "population": None if pop is None else float(pop)}
        for k, n, g, p, pop in rows
    ]  # fmt: skip


def area_outline(con: duckdb.DuckDBPyConnection, code: str) -> object | None:
    """A loaded area's boundary in lon/lat (shapely), or None when no area has that code."""
    import numpy as np
    import shapely

    from safestreets.geo.project import crs_to_lonlat

    row = fetch_one(con, "SELECT geometry FROM areas WHERE code = ? AND geometry IS NOT NULL LIMIT 1", [code])
    if row is None:
        return None
    crs = get_setting(con, "crs")
    return shapely.transform(
        shapely.from_wkb(row[0]), lambda xy: np.column_stack(crs_to_lonlat(xy[:, 0], xy[:, 1], crs))
    )


def street_points(
    con: duckdb.DuckDBPyConnection, bounds: tuple[float, float, float, float] | None = None
) -> dict[str, np.ndarray]:
    """The events' police.uk location texts at each point (within ``bounds`` in the workspace CRS):
    arrays ``x``, ``y``, ``location`` and ``n`` (events), one row per point and text.

    Only the published "On or near ..." texts: police.uk anonymises them to a street or a kind of place,
    where a force's own records may carry an address."""
    where = "location ILIKE 'on or near %' AND x IS NOT NULL AND y IS NOT NULL"
    params: list[float] = []
    if bounds is not None:
        where += " AND x BETWEEN ? AND ? AND y BETWEEN ? AND ?"
        params = [bounds[0], bounds[2], bounds[1], bounds[3]]
    data = con.execute(
        f"SELECT x, y, location, count(*) AS n FROM events WHERE {where} GROUP BY ALL ORDER BY ALL", params
    ).fetchnumpy()
    return {
        "x": np.asarray(data["x"], dtype="float64"),
        "y": np.asarray(data["y"], dtype="float64"),
        "location": np.asarray(data["location"], dtype=object),
        "n": np.asarray(data["n"], dtype="int64"),
    }


def area_names(con: duckdb.DuckDBPyConnection, kinds: Sequence[str]) -> dict[str, str]:
    """Code -> name of the loaded areas of ``kinds`` that have a name (the first kind listed wins a code
    two kinds share)."""
    if not kinds:
        return {}
    rows = con.execute(
        "SELECT code, name, list_position($1::VARCHAR[], kind) AS k FROM areas "
        "WHERE list_contains($1::VARCHAR[], kind) AND coalesce(trim(name), '') <> '' ORDER BY k DESC, code",
        [list(kinds)],
    ).fetchall()
    return {str(code): str(name).strip() for code, name, _ in rows}


def area_shapes(con: duckdb.DuckDBPyConnection, kind: str) -> tuple[list[str], list[str], list[bytes]]:
    """Code, name ("" where none) and boundary (WKB, workspace CRS) of each loaded area of ``kind`` that
    has one, in code order."""
    rows = con.execute(
        "SELECT code, coalesce(trim(name), ''), geometry FROM areas WHERE kind = ? AND geometry IS NOT NULL "
        "ORDER BY code",
        [kind],
    ).fetchall()
    return [str(r[0]) for r in rows], [str(r[1]) for r in rows], [bytes(r[2]) for r in rows]


def command_unit_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Code -> name of the loaded BCUs and boroughs, for showing a command unit to people."""
    return area_names(con, ("bcu", "borough"))
