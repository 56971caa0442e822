"""Read-only questions the CLI, reports and the web app ask of the store."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

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
    rejected = fetch_one(con, "SELECT count(DISTINCT (batch_id, row_number)) FROM rejects")
    reasons = con.execute(
        "SELECT coalesce(column_name, ''), reason, count(*) FROM rejects GROUP BY ALL ORDER BY 3 DESC LIMIT 10"
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
    )
