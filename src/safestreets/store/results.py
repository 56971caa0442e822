"""Stored results: a header row (what made the result) and its rows, written all or nothing.

The tables are the migrations' (``forecast_backtests``, ``emerging_runs`` with ``emerging_units``,
``hub_rankings`` with ``hub_scores`` and ``hub_deployments``); the modules whose results they are turn
their objects into a header and Arrow rows and back (forecast.store, trends.store, plan.hub_store).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa

from safestreets.store import fetch_one, register, transaction


def canonical_json(value: Any) -> str:
    """One text per value: keys sorted, no spaces, anything else as ``str``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def digest(value: Any, length: int = 12) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:length]


def data_version(con: duckdb.DuckDBPyConnection) -> int:
    """The latest load (batch id; 0 for none): a result made before a later load may be stale."""
    row = fetch_one(con, "SELECT coalesce(max(batch_id), 0) FROM batches")
    return int(row[0]) if row else 0


def save_result(
    con: duckdb.DuckDBPyConnection,
    header: str,
    id_column: str,
    values: Mapping[str, Any],
    rows: Mapping[str, pa.Table],
) -> int:
    """Insert one row of ``values`` into ``header`` (dicts and lists as JSON, ``created_at`` now) and each
    Arrow table of ``rows`` into its table under the new id; returns the id."""
    cols = ["created_at", *values]
    params = [json.dumps(v, default=str) if isinstance(v, dict | list) else v for v in values.values()]
    marks = ", ".join(["now()", *("?" for _ in values)])
    with transaction(con):
        row = fetch_one(
            con,
            f"INSERT INTO {header} ({', '.join(cols)}) VALUES ({marks}) RETURNING {id_column}",
            params,
        )
        assert row is not None
        new_id = int(row[0])
        for table, data in rows.items():
            name = f"_ss_{table}"
            register(con, name, data)
            try:
                con.execute(f"INSERT INTO {table} BY NAME SELECT ? AS {id_column}, * FROM {name}", [new_id])
            finally:
                con.unregister(name)
    return new_id


def read_header(
    con: duckdb.DuckDBPyConnection,
    header: str,
    where: str,
    params: list[Any],
    *,
    json_columns: tuple[str, ...],
) -> dict[str, Any] | None:
    """The newest row of ``header`` that matches ``where`` as a dict, its JSON columns parsed."""
    cur = con.execute(
        f"SELECT * FROM {header} WHERE {where} ORDER BY created_at DESC, 1 DESC LIMIT 1", params
    )
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    if not rows:
        return None
    out = dict(zip(names, rows[0], strict=True))
    for c in json_columns:
        if out.get(c) is not None:
            out[c] = json.loads(out[c])
    return out


def read_rows(
    con: duckdb.DuckDBPyConnection, table: str, id_column: str, result_id: int, order: str
) -> pa.Table:
    """A stored result's rows (without its id column), in ``order``."""
    con.complete()
    sql = f"SELECT * EXCLUDE ({id_column}) FROM {table} WHERE {id_column} = $id ORDER BY {order}"
    return con.sql(sql, params={"id": result_id}).to_arrow_table()
