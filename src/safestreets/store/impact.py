"""Stored impact results (migration 0012): one row per evaluation, Knox table or fairness audit."""

from __future__ import annotations

import json
from typing import Any

import duckdb

from safestreets.errors import NotFoundError
from safestreets.store import fetch_one, transaction
from safestreets.store.results import data_version

KINDS = ("evaluation", "near-repeat", "fairness")


def save_impact(
    con: duckdb.DuckDBPyConnection, kind: str, label: str, params: dict[str, Any], result: dict[str, Any]
) -> int:
    """Store one result; returns its id."""
    if kind not in KINDS:
        raise NotFoundError(f"unknown impact result kind {kind!r}; one of {', '.join(KINDS)}")
    batch = data_version(con)
    with transaction(con):
        row = fetch_one(
            con,
            "INSERT INTO impact_results (created_at, kind, label, data_batch, params, result) "
            "VALUES (now(), ?, ?, ?, ?, ?) RETURNING result_id",
            [kind, label, batch, json.dumps(params, default=str), json.dumps(result, default=str)],
        )
    assert row is not None
    return int(row[0])


def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    """A store opened read-only may predate migration 0012: it then holds no impact results."""
    row = fetch_one(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'impact_results'")
    return bool(row and row[0])


def read_impact(
    con: duckdb.DuckDBPyConnection, kind: str | None, result_id: int | None = None
) -> dict[str, Any] | None:
    """The stored result with this id (of any kind when ``kind`` is ``None``), or the latest of its kind
    (``None`` when there is none)."""
    if not _has_table(con):
        if result_id is not None:
            raise NotFoundError(f"no stored impact result {result_id}")
        return None
    sql = "SELECT result_id, created_at, label, data_batch, params, result, kind FROM impact_results WHERE "
    sql += "kind = ?" if kind else "true"
    params: list[Any] = [kind] if kind else []
    if result_id is not None:
        sql += " AND result_id = ?"
        params.append(result_id)
    row = fetch_one(con, sql + " ORDER BY result_id DESC LIMIT 1", params)
    if row is None:
        if result_id is not None:
            raise NotFoundError(f"no stored {kind or 'impact'} result {result_id}")
        return None
    return {
        "result_id": int(row[0]),
        "kind": row[6],
        "created_at": str(row[1]),
        "label": row[2],
        "data_batch": row[3],
        "params": json.loads(row[4]),
        "result": json.loads(row[5]),
        "stale": row[3] is not None and int(row[3]) < data_version(con),
    }


def list_impact(
    con: duckdb.DuckDBPyConnection, kind: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    if not _has_table(con):
        return []
    where = "WHERE kind = ?" if kind else ""
    rows = con.execute(
        f"SELECT result_id, created_at, kind, label FROM impact_results {where} ORDER BY result_id DESC LIMIT ?",
        [kind, limit] if kind else [limit],
    ).fetchall()
    return [{"result_id": int(r[0]), "created_at": str(r[1]), "kind": r[2], "label": r[3]} for r in rows]
