"""Read-only listings of what the store keeps: forecast runs, patrol plans, loads and their rejected rows,
and the monthly counts the dashboard's overview charts. Rows come back as plain dicts (JSON columns
parsed); the API (:mod:`safestreets.api.catalog`) shapes them for its callers."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import duckdb

from safestreets.store import fetch_one


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# --- forecast runs -------------------------------------------------------------------------------------


_RUN_COLUMNS = (
    "r.run_id, r.created_at, r.target, r.police_found, r.model, r.horizon, r.window_start, r.window_end, "
    "r.units_kind, r.cell_size, r.rank_by, r.reason"
)


def forecast_runs(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every stored forecast run, newest first, with its unit count and the plans made from it."""
    return _rows(
        con,
        f"SELECT {_RUN_COLUMNS}, (SELECT count(*) FROM forecasts f WHERE f.run_id = r.run_id) AS units, "
        "(SELECT count(*) FROM plan_runs p WHERE p.forecast_run_id = r.run_id) AS plans "
        "FROM forecast_runs r ORDER BY r.run_id DESC",
    )


def forecast_run(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, Any] | None:
    """One stored run with its provenance (parsed), or None."""
    rows = _rows(
        con,
        f"SELECT {_RUN_COLUMNS}, r.provenance, (SELECT count(*) FROM forecasts f WHERE f.run_id = r.run_id) AS units, "
        "(SELECT count(*) FROM plan_runs p WHERE p.forecast_run_id = r.run_id) AS plans "
        "FROM forecast_runs r WHERE r.run_id = ?",
        [run_id],
    )
    if not rows:
        return None
    row = rows[0]
    row["provenance"] = _json(row["provenance"])
    return row


def latest_forecast_run(con: duckdb.DuckDBPyConnection) -> int | None:
    row = fetch_one(con, "SELECT max(run_id) FROM forecast_runs")
    return None if row is None or row[0] is None else int(row[0])


def top_units(con: duckdb.DuckDBPyConnection, run_id: int, per_bcu: int) -> list[dict[str, Any]]:
    """The ``per_bcu`` riskiest units of each command unit by the run's stored rank (the order the run
    ranked them in: density of its ``rank_by`` score). Units without a BCU form one group, ``''``."""
    return _rows(
        con,
        "SELECT coalesce(bcu, '') AS bcu, rank, unit_id, expected_count, expected_harm, area_m2, x, y, "
        "count_lower, count_upper FROM ("
        "  SELECT *, row_number() OVER (PARTITION BY coalesce(bcu, '') ORDER BY rank) AS n FROM forecasts "
        "  WHERE run_id = ?) WHERE n <= ? ORDER BY bcu, rank",
        [run_id, per_bcu],
    )


def named_places(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Places with a name and a position (for naming where a hot spot is)."""
    return _rows(
        con,
        "SELECT name, kind, x, y FROM places WHERE name IS NOT NULL AND name <> '' AND x IS NOT NULL "
        "AND y IS NOT NULL ORDER BY place_id",
    )


def area_names_at(con: duckdb.DuckDBPyConnection, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """Named areas of the first of ``kinds`` the store has boundaries for: code, name, geometry (WKB)."""
    have = {
        str(r[0])
        for r in con.execute("SELECT DISTINCT kind FROM areas WHERE geometry IS NOT NULL").fetchall()
    }
    kind = next((k for k in kinds if k in have), None)
    if kind is None:
        return []
    return _rows(
        con,
        "SELECT code, coalesce(name, code) AS name, geometry FROM areas WHERE kind = ? AND geometry IS NOT NULL "
        "ORDER BY code",
        [kind],
    )


# --- monthly counts ------------------------------------------------------------------------------------


def last_month(con: duckdb.DuckDBPyConnection, source: str, types: list[str]) -> date | None:
    row = fetch_one(
        con,
        f"SELECT max(month) FROM events WHERE source = ? AND crime_type IN ({','.join('?' for _ in types)})",
        [source, *types],
    )
    return None if row is None else row[0]


def monthly_counts(
    con: duckdb.DuckDBPyConnection, source: str, types: list[str], first: date, last: date
) -> list[dict[str, Any]]:
    """Events and their harm per month and BCU (``''`` where none is assigned), ``first`` to ``last``."""
    return _rows(
        con,
        "SELECT month, coalesce(bcu, '') AS bcu, count(*) AS events, coalesce(sum(harm), 0) AS harm "
        f"FROM events WHERE source = ? AND crime_type IN ({','.join('?' for _ in types)}) "
        "AND month BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL",
        [source, *types, first, last],
    )


# --- patrol plans --------------------------------------------------------------------------------------


_PLAN_COLUMNS = (
    "p.plan_id, p.created_at, p.week_start, p.forecast_run_id, p.solver, p.status, p.objective, p.bound, "
    "p.gap, p.seconds"
)
_PLAN_TOTALS = (
    "(SELECT count(DISTINCT team_id) FROM plan_hotspots h WHERE h.plan_id = p.plan_id) AS teams, "
    "(SELECT count(DISTINCT unit_id) FROM plan_hotspots h WHERE h.plan_id = p.plan_id) AS hotspots, "
    "(SELECT coalesce(sum(visits_per_day), 0) FROM plan_hotspots h WHERE h.plan_id = p.plan_id) AS visits_per_day"
)


def plan_runs(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every stored plan, newest first, with its team-shifts, hot spots and visits a day."""
    return _rows(con, f"SELECT {_PLAN_COLUMNS}, {_PLAN_TOTALS} FROM plan_runs p ORDER BY p.plan_id DESC")


def plan_run(con: duckdb.DuckDBPyConnection, plan_id: int) -> dict[str, Any] | None:
    """One stored plan with its parameters (parsed), or None."""
    rows = _rows(
        con,
        f"SELECT {_PLAN_COLUMNS}, {_PLAN_TOTALS}, p.params FROM plan_runs p WHERE p.plan_id = ?",
        [plan_id],
    )
    if not rows:
        return None
    row = rows[0]
    row["params"] = _json(row["params"])
    return row


def latest_plan(con: duckdb.DuckDBPyConnection) -> int | None:
    row = fetch_one(con, "SELECT max(plan_id) FROM plan_runs")
    return None if row is None or row[0] is None else int(row[0])


def plan_hotspots(con: duckdb.DuckDBPyConnection, plan_id: int) -> list[dict[str, Any]]:
    """A plan's hot spot rows: one per team and stop, in team and walking order."""
    return _rows(
        con,
        "SELECT team_id, home, bcu, shift, stop, hotspot, unit_id, neighbourhood, visits_per_day, harm_week, x, y "
        "FROM plan_hotspots WHERE plan_id = ? ORDER BY team_id, stop",
        [plan_id],
    )


def plan_visits(
    con: duckdb.DuckDBPyConnection, plan_id: int, *, team: str | None = None, day: date | None = None
) -> list[dict[str, Any]]:
    """A plan's timed visits (optionally one team's, one day's), with the hot spot's plan number."""
    where, params = ["v.plan_id = ?"], [plan_id]
    if team is not None:
        where.append("v.team_id = ?")
        params.append(team)
    if day is not None:
        where.append("v.day = ?")
        params.append(day)
    return _rows(
        con,
        "SELECT v.team_id, v.day, v.seq, n.hotspot, v.unit_id, v.starts_at, v.ends_at FROM plan_visits v "
        "LEFT JOIN (SELECT unit_id, min(hotspot) AS hotspot FROM plan_hotspots WHERE plan_id = ? GROUP BY 1) n "
        f"USING (unit_id) WHERE {' AND '.join(where)} ORDER BY v.team_id, v.day, v.seq",
        [plan_id, *params],
    )


# --- loads ---------------------------------------------------------------------------------------------

_BATCH_COLUMNS = (
    "batch_id, kind, source, force, months, rows_read, rows_loaded, rows_rejected, rows_filtered, "
    "rows_no_location, rows_replaced, loaded_at"
)


def batches(
    con: duckdb.DuckDBPyConnection, *, limit: int, offset: int, kind: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Loads newest first, one page of them, and how many there are in all."""
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    row = fetch_one(con, f"SELECT count(*) FROM batches {where}", params)
    total = int(row[0]) if row else 0
    rows = _rows(
        con,
        f"SELECT {_BATCH_COLUMNS} FROM batches {where} ORDER BY batch_id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return rows, total


def batch_kinds(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [str(r[0]) for r in con.execute("SELECT DISTINCT kind FROM batches ORDER BY 1").fetchall()]


def batch(con: duckdb.DuckDBPyConnection, batch_id: int) -> dict[str, Any] | None:
    """One load with everything that made it (hash, options, software version), or None."""
    rows = _rows(
        con,
        f"SELECT {_BATCH_COLUMNS}, sha256, params, software_version FROM batches WHERE batch_id = ?",
        [batch_id],
    )
    if not rows:
        return None
    row = rows[0]
    row["params"] = _json(row["params"])
    row["reasons"] = _rows(
        con,
        "SELECT coalesce(column_name, '') AS column_name, reason, count(*) AS rows FROM rejects "
        "WHERE batch_id = ? GROUP BY ALL ORDER BY 3 DESC, 1, 2",
        [batch_id],
    )
    return row


def rejects(
    con: duckdb.DuckDBPyConnection, batch_id: int, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of a load's rejected rows (row number, column, value, reason) and how many in all."""
    row = fetch_one(con, "SELECT count(*) FROM rejects WHERE batch_id = ?", [batch_id])
    total = int(row[0]) if row else 0
    rows = _rows(
        con,
        "SELECT row_number, column_name, value, reason FROM rejects WHERE batch_id = ? "
        "ORDER BY row_number NULLS LAST, column_name LIMIT ? OFFSET ?",
        [batch_id, limit, offset],
    )
    return rows, total


def place_kinds(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [str(r[0]) for r in con.execute("SELECT DISTINCT kind FROM places ORDER BY 1").fetchall()]
