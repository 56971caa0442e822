"""The batches table: where every loaded row came from."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from safestreets import __version__
from safestreets.store import fetch_one


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


def record_batch(con: duckdb.DuckDBPyConnection, batch_id: int, rec: BatchRecord) -> None:
    """Write the batch row; call inside the load's transaction so both land or neither does."""
    con.execute(
        "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
        [
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
        ],
    )


def find_loaded(con: duckdb.DuckDBPyConnection, kind: str, sha256: str, params: dict[str, Any]) -> int | None:
    """The batch that already loaded these exact bytes with these options, if its rows are still live."""
    row = fetch_one(
        con,
        "SELECT batch_id FROM batches WHERE kind = ? AND sha256 = ? AND params = ?::JSON "
        "ORDER BY batch_id DESC LIMIT 1",
        [kind, sha256, json.dumps(params, sort_keys=True, default=str)],
    )
    return None if row is None else int(row[0])


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
