"""The DuckDB store: one file per workspace, versioned schema, atomic batch loads.

``open_store`` is the one way in: it creates the file if asked, applies migrations and sets the
session time zone from the workspace settings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from safestreets.config import DEFAULT_CRS, Workspace
from safestreets.errors import WorkspaceError
from safestreets.store.schema import migrate

DEFAULT_SETTINGS = {"crs": DEFAULT_CRS, "timezone": "Europe/London"}


def open_store(
    workspace: Workspace, *, create: bool = True, read_only: bool = False, repair: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open (and, with ``create``, make) the workspace store, migrated to the current schema.
    ``repair`` opens a store whose settings are invalid, so that they can be set again."""
    if not workspace.db_path.exists():
        if not create:
            raise WorkspaceError(
                f"no store at {workspace.db_path}: run 'safestreets init' or 'safestreets ingest' first"
            )
        workspace.ensure()
    con = _connect(workspace, read_only)
    if not read_only:
        migrate(con)
        for key, value in DEFAULT_SETTINGS.items():
            con.execute("INSERT INTO settings VALUES (?, ?) ON CONFLICT DO NOTHING", [key, value])
    timezone = get_setting(con, "timezone")
    try:
        con.execute(f"SET TimeZone = '{_sql(timezone)}'")
    except duckdb.Error:
        # A bad setting must not lock the user out: init can still repair it.
        if not repair:
            con.close()
            raise WorkspaceError(
                f"the workspace's time zone {timezone!r} is not valid: run 'safestreets init --timezone "
                "Europe/London' (or the zone of your data) to repair it"
            ) from None
    # Each file is its own transaction; checkpointing after every few files would dominate a bulk load.
    con.execute("SET checkpoint_threshold = '256MB'")
    con.execute("SET enable_progress_bar = false")  # ours are on stderr; DuckDB's would go to stdout
    return con


#: How long to wait for another process (a dashboard copying a snapshot, another command) to let go.
LOCK_WAIT_SECONDS = 30.0


def _connect(workspace: Workspace, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting a while if another process holds it (readers hold it only to copy it)."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(workspace.db_path), read_only=read_only)
        except duckdb.IOException as err:
            if "lock" not in str(err).lower() or time.monotonic() > deadline:
                raise WorkspaceError(f"cannot open {workspace.db_path}: {str(err).splitlines()[0]}") from err
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def _sql(text: str) -> str:
    return text.replace("'", "''")


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """The first row of a query, with the result fully consumed (DuckDB refuses new work on a
    connection that still has an unfinished result)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    """The one row an aggregate query returns, read to the end."""
    row = fetch_one(con, sql, list(params))
    assert row is not None, sql
    return tuple(row)


def register(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """Register an Arrow table, first finishing any result a caller left half-read (``fetchone``)."""
    con.complete()
    con.register(name, table)


def arrow(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """A query's result as Arrow without the extra copy a DB-API ``execute`` result makes."""
    con.complete()
    return con.sql(sql).to_arrow_table()


def get_setting(con: duckdb.DuckDBPyConnection, key: str) -> str:
    row = fetch_one(con, "SELECT value FROM settings WHERE key = ?", [key])
    if row is None:
        return DEFAULT_SETTINGS[key]
    return str(row[0])


def set_setting(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a failure (or a killed process) leaves the store as it was before."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
