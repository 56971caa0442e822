"""The batches table: where every loaded row came from."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from safestreets import __version__
from safestreets.store import fetch_one, one_row


@dataclass
class BatchRecord:
    """What one load read, kept, set aside and replaced."""

    kind: str
    source: str
    sha256: str | None = None
    force: str | None = None
    months: Sequence[str] = ()
    params: dict[str, Any] = field(default_factory=dict)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_filtered: int = 0
    rows_no_location: int = 0
    rows_replaced: int = 0


def next_batch_id(con: duckdb.DuckDBPyConnection) -> int:
    row = fetch_one(con, "SELECT nextval('batch_ids')")
    assert row is not None
    return int(row[0])


def next_batch_ids(con: duckdb.DuckDBPyConnection, n: int) -> list[int]:
    """``n`` new batch ids in one query (a group of files committed together)."""
    rows = con.execute("SELECT nextval('batch_ids') FROM range(?) ORDER BY 1", [n]).fetchall()
    return [int(r[0]) for r in rows]


def _values(batch_id: int, rec: BatchRecord) -> list[Any]:
    return [
        batch_id,
        rec.kind,
        rec.source,
        rec.sha256,
        rec.force,
        list(rec.months),
        json.dumps(rec.params, sort_keys=True, default=str),
        rec.rows_read,
        rec.rows_loaded,
        rec.rows_rejected,
        rec.rows_filtered,
        rec.rows_no_location,
        rec.rows_replaced,
        __version__,
    ]


def record_batch(con: duckdb.DuckDBPyConnection, batch_id: int, rec: BatchRecord) -> None:
    """Write the batch row; call inside the load's transaction so both land or neither does."""
    con.execute(
        "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())", _values(batch_id, rec)
    )


_BATCH_SCHEMA = pa.schema([
    ("batch_id", pa.int32()), ("kind", pa.string()), ("source", pa.string()), ("sha256", pa.string()),
    ("force", pa.string()), ("months", pa.list_(pa.string())), ("params", pa.string()),
    ("rows_read", pa.int64()), ("rows_loaded", pa.int64()), ("rows_rejected", pa.int64()),
    ("rows_filtered", pa.int64()), ("rows_no_location", pa.int64()), ("rows_replaced", pa.int64()),
    ("software_version", pa.string()),
])  # fmt: skip
_BATCH_COLUMNS = tuple(_BATCH_SCHEMA.names)


def record_batches(con: duckdb.DuckDBPyConnection, records: Sequence[tuple[int, BatchRecord]]) -> None:
    """Write several batch rows in one statement (inside the load's transaction)."""
    if not records:
        return
    rows = [_values(batch_id, rec) for batch_id, rec in records]
    table = pa.table({name: [r[i] for r in rows] for i, name in enumerate(_BATCH_COLUMNS)}, _BATCH_SCHEMA)
    con.register("_batches_in", table)
    try:
        con.execute(
            f"INSERT INTO batches SELECT {', '.join(_BATCH_COLUMNS[:6])}, params::JSON, "
            f"{', '.join(_BATCH_COLUMNS[7:])}, now() FROM _batches_in"
        )
    finally:
        con.unregister("_batches_in")


def find_loaded(con: duckdb.DuckDBPyConnection, kind: str, sha256: str, params: dict[str, Any]) -> int | None:
    """The batch that already loaded these exact bytes with these options, if its rows are still live."""
    row = fetch_one(
        con,
        "SELECT batch_id FROM batches WHERE kind = ? AND sha256 = ? AND params = ?::JSON "
        "ORDER BY batch_id DESC LIMIT 1",
        [kind, sha256, json.dumps(params, sort_keys=True, default=str)],
    )
    return None if row is None else int(row[0])


def find_live_batch(
    con: duckdb.DuckDBPyConnection, kind: str, table: str, sha256: str | None, params: dict[str, Any]
) -> int | None:
    """An earlier load of the same bytes and options whose rows are all still in ``table``.

    A batch whose rows a later load replaced is not live: loading its file again must write them back.
    """
    if sha256 is None:
        return None
    batch_id = find_loaded(con, kind, sha256, params)
    if batch_id is None:
        return None
    (live,) = one_row(
        con,
        f"SELECT (SELECT count(*) FROM {table} WHERE batch_id = $1) = "
        "(SELECT rows_loaded FROM batches WHERE batch_id = $1)",
        [batch_id],
    )
    return batch_id if live else None


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
