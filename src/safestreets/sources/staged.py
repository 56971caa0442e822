"""What a source hands the store: its rows typed into canonical columns, and the checks they must pass.

Readers build these (in Arrow, or in SQL on a DuckDB connection of their own); ``store.load`` applies
the checks and filters, keys and projects the rows and stores them. Nothing here touches the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

FILE = "_file"  # in staged rows: which of a batch's sources the row came from
ErrorRow = tuple[int, str | None, str, str | None]  # (row, column, reason, value)


@dataclass(frozen=True)
class Problem:
    """One check over staged rows: which rows fail it, and the text to show for them."""

    column: str  # as the user knows it: the file's column name
    reason: str
    failing: np.ndarray  # bool, one per staged row
    value: Callable[[], pa.Array]  # the offending text per staged row (asked for on the error path only)


@dataclass
class Staged:
    """A source's rows typed into canonical columns, before checks and filters are applied.

    ``table`` holds ``_row`` (data rows from 1), the canonical columns of its kind and any text the
    key needs. ``keys`` makes the stable key of the rows that survive checks and filters; without it
    the table's own ``key0`` column (if any) is the key.
    """

    kind: str
    table: pa.Table
    problems: list[Problem]
    keys: Callable[[pa.Table], pa.Array] | None = None


# --- SQL staging, for sources typed in DuckDB (a force's own records) ----------------------------
# On a connection of the source's own: ``checked`` is its view of the typed rows, ``typed`` the table
# built from it.


@dataclass(frozen=True)
class Check:
    column: str  # as the user knows it: the file's column name
    reason: str
    failing: str  # SQL condition over the view ``checked``
    value: str  # SQL expression for the offending text


# Canonical columns each kind keeps in ``typed``.
KEEP: dict[str, str] = {
    "street": """_row, crime_id, force, month, occurred_at, crime_type, lon, lat, location, lsoa_code,
        lsoa_name, outcome, context""",
}


def stage_typed(con: duckdb.DuckDBPyConnection, keep: str, key_sql: str, checks: Sequence[Check]) -> None:
    """Materialise ``typed`` from view ``checked``, with ``key0`` and the ``problem`` bit mask."""
    mask = " | ".join(f"(CASE WHEN {c.failing} THEN {1 << i} ELSE 0 END)" for i, c in enumerate(checks))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE typed AS
            SELECT {keep}, {key_sql} AS key0, {mask or "0"} AS problem FROM checked"""
    )


def find_errors(con: duckdb.DuckDBPyConnection, checks: Sequence[Check]) -> list[ErrorRow]:
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
    return [(int(r), col, reason, value) for r, col, reason, value in found]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
