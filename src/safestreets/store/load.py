"""Loading a batch: validate, key, project, assign areas, replace, insert, record — atomically.

Everything before the transaction works on temporary tables, so a bad file or a killed process
leaves the store exactly as it was. Inside the transaction the load replaces what it supersedes:
police.uk files replace the same force and month from earlier loads (police.uk republishes months as
outcomes update); keyed sources (the API, a force's records) replace rows with the same keys.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa

from safestreets import harm, vocab
from safestreets.errors import InputError
from safestreets.geo.project import lonlat_to_crs
from safestreets.sources.csvread import BadRow
from safestreets.sources.policeuk import TYPED_SQL
from safestreets.store import fetch_one, get_setting, transaction
from safestreets.store.batches import BatchRecord, find_loaded, next_batch_id, record_batch

POLICE_UK_SOURCES = ("police.uk", "police.uk-api")
TARGET = {"street": "events", "outcomes": "outcomes", "stop-and-search": "stop_searches",
          "force-records": "events"}  # fmt: skip


@dataclass(frozen=True)
class LoadOptions:
    """Filters and choices that shape a load (recorded with the batch)."""

    forces: frozenset[str] | None = None  # police.uk force ids to keep
    months: frozenset[str] | None = None  # YYYY-MM months to keep
    skip_bad_rows: bool = False  # load the good rows, set the bad ones aside in ``rejects``
    force: str | None = None  # the force to assume when a file does not say

    def params(self) -> dict[str, Any]:
        return {
            "forces": sorted(self.forces) if self.forces else None,
            "months": sorted(self.months) if self.months else None,
            "force": self.force,
        }


@dataclass
class LoadResult:
    source: str
    kind: str
    batch_id: int | None = None
    skipped_as: int | None = None  # the earlier batch that already holds this exact data
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_filtered: int = 0
    rows_no_location: int = 0
    rows_replaced: int = 0
    months: list[str] = field(default_factory=list)
    forces: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    column: str  # as the user knows it: the file's column name
    reason: str
    failing: str  # SQL condition over the typed table
    value: str  # SQL expression for the offending text


def _coordinate_checks(lon: str = "Longitude", lat: str = "Latitude") -> list[Check]:
    blank = "nullif(trim({}), '') IS NULL"
    return [
        Check(lon, "not a number", f"NOT ({blank.format('lon_txt')}) AND lon IS NULL", "lon_txt"),
        Check(lat, "not a number", f"NOT ({blank.format('lat_txt')}) AND lat IS NULL", "lat_txt"),
        Check(lon, "longitude outside -180 to 180", "lon NOT BETWEEN -180 AND 180", "lon_txt"),
        Check(lat, "latitude outside -90 to 90", "lat NOT BETWEEN -90 AND 90", "lat_txt"),
        Check(
            lat,
            "a longitude without a latitude, or the other way round",
            f"({blank.format('lon_txt')}) <> ({blank.format('lat_txt')})",
            "coalesce(lat_txt, '') || ' / ' || coalesce(lon_txt, '')",
        ),
    ]


_FORCE_CHECK = Check("Falls within", "no force named (Falls within and Reported by are blank)",
                     "force IS NULL", "force_txt")  # fmt: skip
_MONTH_CHECK = Check("Month", "not a month of the form YYYY-MM", "month IS NULL", "month_txt")

CHECKS: dict[str, list[Check]] = {
    "street": [
        _MONTH_CHECK,
        _FORCE_CHECK,
        Check("Crime type", "not one of the police.uk crime types", "crime_type IS NULL", "type_txt"),
        *_coordinate_checks(),
    ],
    "outcomes": [
        _MONTH_CHECK,
        _FORCE_CHECK,
        Check("Outcome type", "blank outcome type", "outcome_txt IS NULL", "outcome_txt"),
        *_coordinate_checks(),
    ],
    "stop-and-search": [
        Check("Date", "not an ISO 8601 date-time", "occurred_at IS NULL", "date_txt"),
        Check("Part of a policing operation", "not True or False",
              "nullif(trim(operation_txt), '') IS NOT NULL AND part_of_operation IS NULL", "operation_txt"),
        Check("Outcome linked to object of search", "not True or False",
              "nullif(trim(linked_txt), '') IS NOT NULL AND outcome_linked IS NULL", "linked_txt"),
        Check("Removal of more than just outer clothing", "not True or False",
              "nullif(trim(removal_txt), '') IS NOT NULL AND removal_more_than_outer IS NULL",
              "removal_txt"),
        *_coordinate_checks(),
    ],
}  # fmt: skip


# --- keys and final rows, per kind -------------------------------------------------------------

# The stable key before duplicates are numbered. Street rows keep their Crime ID; rows without one
# (anti-social behaviour, most rows before 2013) get a hash of what identifies them, so the same row
# republished next month gets the same key.
KEY_SQL: dict[str, str] = {
    "street": """coalesce(crime_id, 'k' || md5(concat_ws('|', force, month, crime_type,
        coalesce(printf('%.6f', lon), ''), coalesce(printf('%.6f', lat), ''), coalesce(location, ''))))""",
    "outcomes": "NULL::VARCHAR",
    "stop-and-search": """'s' || md5(concat_ws('|', force, date_txt, coalesce(lat_txt, ''),
        coalesce(lon_txt, ''), coalesce(search_type, ''), coalesce(gender, ''), coalesce(age_range, ''),
        coalesce(self_defined_ethnicity, ''), coalesce(officer_defined_ethnicity, ''),
        coalesce(legislation, ''), coalesce(object_of_search, ''), coalesce(outcome_txt, '')))""",
}

# Columns of each target table, in order, as expressions over typed ``t``, points ``p``, harm ``h``.
FINAL_SELECT: dict[str, str] = {
    "events": """key0, crime_id, force, month, occurred_at, t.crime_type, h.harm, t.lon, t.lat, p.x, p.y,
        location, lsoa_code, lsoa_name, NULL, NULL, outcome, context""",
    "outcomes": """crime_id, force, month, t.lon, t.lat, p.x, p.y, location, lsoa_code, lsoa_name,
        NULL, NULL, outcome, outcome_txt""",
    "stop_searches": """key0, force, month, occurred_at, search_type, part_of_operation, operation_name,
        t.lon, t.lat, p.x, p.y, NULL, NULL, NULL, gender, age_range, self_defined_ethnicity,
        officer_defined_ethnicity, legislation, object_of_search, outcome, outcome_txt, outcome_linked,
        removal_more_than_outer""",
}

KEY_COLUMN = {"events": "event_id", "stop_searches": "search_id"}


def _register_lookups(con: duckdb.DuckDBPyConnection) -> None:
    table = harm.weights()
    con.register("harm_weights", pa.table({"crime_type": list(table), "harm": list(table.values())}))


def _map_table(con: duckdb.DuckDBPyConnection, sql: str, fn: Any, name: str) -> None:
    """A small lookup table built in Python from the distinct values a column holds."""
    values = [r[0] for r in con.execute(sql).fetchall() if r[0] is not None]
    con.register(name, pa.table({"txt": pa.array(values, pa.string()),
                                 "val": pa.array([fn(v) for v in values], pa.string())}))  # fmt: skip


# Canonical columns each kind keeps in ``typed`` (the published text of checked fields is left in
# the ``extracted`` view, read again only to describe an error).
KEEP: dict[str, str] = {
    "street": """_row, crime_id, force, month, occurred_at, crime_type, lon, lat, location, lsoa_code,
        lsoa_name, outcome, context""",
    "outcomes": "_row, crime_id, force, month, lon, lat, location, lsoa_code, lsoa_name, outcome, outcome_txt",
    "stop-and-search": """_row, force, month, occurred_at, search_type, part_of_operation, operation_name,
        lon, lat, gender, age_range, self_defined_ethnicity, officer_defined_ethnicity, legislation,
        object_of_search, outcome, outcome_txt, outcome_linked, removal_more_than_outer""",
}


def stage_policeuk(
    con: duckdb.DuckDBPyConnection,
    raw: pa.Table,
    kind: str,
    *,
    file_force: str | None,
    file_month: str | None,
) -> None:
    """Build temp table ``typed`` from ``raw`` in one pass: canonical columns, ``key0`` and a
    ``problem`` bit mask of the checks each row fails."""
    con.register("raw", raw)
    con.execute(f"CREATE OR REPLACE TEMP VIEW extracted AS {TYPED_SQL[kind]}")
    renames = vocab.STOP_OUTCOME_RENAMES if kind == "stop-and-search" else vocab.OUTCOME_RENAMES
    _map_table(con, "SELECT DISTINCT outcome_txt FROM extracted",
               lambda v: renames.get(v, v), "outcome_map")  # fmt: skip
    joins = ["LEFT JOIN outcome_map o ON o.txt = t.outcome_txt"]
    force = _quote(file_force) if file_force else "NULL::VARCHAR"
    if kind == "stop-and-search":
        month = f"DATE {_quote(file_month + '-01')}" if file_month else "date_trunc('month', occurred_at)"
        cols = f"{force} AS force, CAST({month} AS DATE) AS month"
    else:
        _map_table(con, "SELECT DISTINCT force_txt FROM extracted", vocab.force_id, "force_map")
        joins.append("LEFT JOIN force_map f ON f.txt = t.force_txt")
        # The file's own force (its name in the archive) wins: a BTP file's rows "fall within" other
        # forces, and a month re-load must replace exactly what that file loaded before.
        cols = f"coalesce({force}, f.val) AS force, NULL::TIMESTAMPTZ AS occurred_at"
        if kind == "street":
            _map_table(con, "SELECT DISTINCT type_txt FROM extracted",
                       vocab.canonical_crime_type, "type_map")  # fmt: skip
            joins.append("LEFT JOIN type_map ty ON ty.txt = t.type_txt")
            cols += ", ty.val AS crime_type"
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW checked AS
            SELECT t.*, {cols}, o.val AS outcome FROM extracted t {" ".join(joins)}"""
    )
    stage_typed(con, KEEP[kind], KEY_SQL[kind], CHECKS[kind])


def stage_typed(con: duckdb.DuckDBPyConnection, keep: str, key_sql: str, checks: Sequence[Check]) -> None:
    """Materialise ``typed`` from view ``checked``, with ``key0`` and the ``problem`` bit mask."""
    mask = " | ".join(f"(CASE WHEN {c.failing} THEN {1 << i} ELSE 0 END)" for i, c in enumerate(checks))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE typed AS
            SELECT {keep}, {key_sql} AS key0, {mask or "0"} AS problem FROM checked"""
    )


def number_duplicate_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Repeated keys (a Crime ID published twice, identical rows) become key, key#2, key#3 in file
    order: deterministic, and every row is kept."""
    if not fetch_one(
        con, "SELECT 1 FROM typed WHERE key0 IS NOT NULL GROUP BY key0 HAVING count(*) > 1 LIMIT 1"
    ):
        return
    con.execute(
        """UPDATE typed SET key0 = typed.key0 || '#' || d.n
           FROM (SELECT _row, row_number() OVER (PARTITION BY key0 ORDER BY _row) AS n
                 FROM typed WHERE key0 IN (SELECT key0 FROM typed GROUP BY key0 HAVING count(*) > 1)) d
           WHERE typed._row = d._row AND d.n > 1"""
    )


def cleanup(con: duckdb.DuckDBPyConnection) -> None:
    for view in ("checked", "extracted"):
        con.execute(f"DROP VIEW IF EXISTS {view}")
    con.execute("DROP TABLE IF EXISTS typed")
    for name in ("raw", "pts", "bad", "outcome_map", "force_map", "type_map", "harm_weights"):
        with contextlib.suppress(Exception):  # not registered for this kind
            con.unregister(name)


def find_errors(con: duckdb.DuckDBPyConnection, checks: Sequence[Check]) -> list[tuple]:
    """Every (row, column, reason, value) that fails a check, in file order and, within a row, in the
    order of ``checks`` (the most direct complaint first: "not a number" before "no latitude")."""
    flagged = con.execute("SELECT _row, problem FROM typed WHERE problem <> 0 ORDER BY _row").fetchall()
    if not flagged:
        return []  # the common case
    con.register("flagged", pa.table({"_row": [r for r, _ in flagged]}))
    parts = [
        f"SELECT _row, {i} AS check_no, {_quote(c.column)} AS col, {_quote(c.reason)} AS reason, "
        f"CAST({c.value} AS VARCHAR) AS value "
        f"FROM checked WHERE _row IN (SELECT _row FROM flagged) AND ({c.failing})"
        for i, c in enumerate(checks)
    ]
    found = con.execute(
        f"SELECT _row, col, reason, value FROM ({' UNION ALL '.join(parts)}) ORDER BY _row, check_no"
    ).fetchall()
    con.unregister("flagged")
    return found


def _project_points(con: duckdb.DuckDBPyConnection) -> None:
    """Project each distinct point once: police.uk points are shared snap points."""
    pts = con.sql(
        "SELECT DISTINCT lon, lat FROM typed WHERE lon IS NOT NULL AND lat IS NOT NULL"
    ).fetchnumpy()
    lon = np.asarray(pts["lon"], dtype="float64")
    lat = np.asarray(pts["lat"], dtype="float64")
    x, y = lonlat_to_crs(lon, lat, get_setting(con, "crs"))
    con.register("pts", pa.table({"lon": lon, "lat": lat, "x": x, "y": y}))


def load_staged(
    con: duckdb.DuckDBPyConnection,
    *,
    kind: str,
    label: str,
    sha256: str | None,
    rows_read: int,
    bad_rows: Sequence[BadRow],
    opts: LoadOptions,
    source: str = "police.uk",
    replace: Literal["months", "keys"] = "months",
    checks: Sequence[Check] | None = None,
    extra_params: dict[str, Any] | None = None,
) -> LoadResult:
    """Finish a load from temp table ``typed``: check, filter, key, project, then one transaction."""
    result = LoadResult(source=label, kind=kind, rows_read=rows_read)
    errors = [(r, col, reason, None) for r, col, reason in bad_rows]
    errors += find_errors(con, CHECKS[kind] if checks is None else checks)
    errors.sort(key=lambda e: e[0])  # stable: keeps each row's errors in check order
    if errors and not opts.skip_bad_rows:
        row, column, reason, value = errors[0]
        more = len({e[0] for e in errors})
        hint = f"; {more} rows have problems (--skip-bad-rows loads the rest)" if more > 1 else ""
        raise InputError(label, reason + hint, row=row, column=column or None, value=value)
    if errors:
        con.register("bad", pa.table({"_row": sorted({e[0] for e in errors})}))
        con.execute("DELETE FROM typed WHERE _row IN (SELECT _row FROM bad)")
    result.rows_rejected = len({e[0] for e in errors})
    keep = []
    if opts.forces:
        keep.append(f"force IN ({', '.join(_quote(f) for f in sorted(opts.forces))})")
    if opts.months:
        keep.append(f"strftime(month, '%Y-%m') IN ({', '.join(_quote(m) for m in sorted(opts.months))})")
    if keep:
        con.execute(f"DELETE FROM typed WHERE NOT ({' AND '.join(keep)})")
    number_duplicate_keys(con)

    target = TARGET[kind]
    summary = fetch_one(
        con,
        "SELECT count(*), count(*) FILTER (WHERE lon IS NULL), "
        "list(DISTINCT strftime(month, '%Y-%m') ORDER BY 1), list(DISTINCT force ORDER BY 1) FROM typed",
    )
    assert summary is not None
    result.rows_loaded, result.rows_no_location = int(summary[0]), int(summary[1])
    result.rows_filtered = rows_read - result.rows_rejected - result.rows_loaded
    result.months, result.forces = list(summary[2] or []), list(summary[3] or [])
    _project_points(con)
    _register_lookups(con)
    batch_id = next_batch_id(con)
    select = (
        f"SELECT {FINAL_SELECT[target]}, {_quote(source)}, {batch_id} FROM typed t "
        "LEFT JOIN pts p ON p.lon = t.lon AND p.lat = t.lat "
        + ("LEFT JOIN harm_weights h ON h.crime_type = t.crime_type " if target == "events" else "")
    )

    with transaction(con):
        if replace == "months":
            placeholders = ", ".join(_quote(s) for s in POLICE_UK_SOURCES)
            result.rows_replaced = _deleted(
                con,
                f"""
                DELETE FROM {target} AS old USING (SELECT DISTINCT force, month FROM typed) AS k
                WHERE old.force = k.force AND old.month = k.month AND old.source IN ({placeholders})""",
            )
        else:
            key = KEY_COLUMN[target]
            result.rows_replaced = _deleted(
                con,
                f"DELETE FROM {target} WHERE {key} IN (SELECT key0 FROM typed)",
            )
        con.execute(f"INSERT INTO {target} {select}")
        _assign(con, target, batch_id)
        if errors:
            con.executemany(
                "INSERT INTO rejects VALUES (?, ?, ?, ?, ?)",
                [[batch_id, r, col or None, value, reason] for r, col, reason, value in errors],
            )
        params = {"kind": kind, **opts.params(), **(extra_params or {})}
        record_batch(
            con,
            batch_id,
            BatchRecord(
                kind=kind,
                source=label,
                sha256=sha256,
                force=",".join(result.forces) or None,
                months=result.months,
                params=params,
                rows_read=rows_read,
                rows_loaded=result.rows_loaded,
                rows_rejected=result.rows_rejected,
                rows_filtered=result.rows_filtered,
                rows_no_location=result.rows_no_location,
                rows_replaced=result.rows_replaced,
            ),
        )
    result.batch_id = batch_id
    return result


def already_loaded(
    con: duckdb.DuckDBPyConnection, kind: str, sha256: str, opts: LoadOptions, extra: dict | None = None
) -> int | None:
    """The earlier batch that loaded these bytes with these options, if all its rows are still in the
    store. A batch whose rows a later load replaced (a republished month) is not: loading the file
    again must bring its rows back, not be skipped."""
    previous = find_loaded(con, kind, sha256, {"kind": kind, **opts.params(), **(extra or {})})
    if previous is None:
        return None
    live = fetch_one(
        con,
        f"SELECT (SELECT count(*) FROM {TARGET[kind]} WHERE batch_id = ?) = rows_loaded "
        "FROM batches WHERE batch_id = ?",
        [previous, previous],
    )
    return previous if live and live[0] else None


def _assign(con: duckdb.DuckDBPyConnection, target: str, batch_id: int) -> None:
    has_areas = fetch_one(con, "SELECT count(*) FROM areas")
    if not has_areas or not has_areas[0]:
        return
    from safestreets.geo.assign import assign_areas  # areas are optional: import only when used

    assign_areas(con, target, where=f"batch_id = {batch_id}")


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = fetch_one(con, f"SELECT count(*) FROM {table}")
    return int(row[0]) if row else 0


def _deleted(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = fetch_one(con, sql)
    return int(row[0]) if row else 0


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
