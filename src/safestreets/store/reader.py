"""Reading the store while another process writes it: read-only snapshots.

DuckDB lets one process write a database file, and no other process open it meanwhile, not even to read.
A dashboard that opened the store itself would either fail during a long ingest or, by holding shared
locks request after request, keep the CLI from ever getting its write lock. So readers never keep the
store open: they read a snapshot, a copy of the file taken under a brief read-only lock whenever the store
has changed since the last copy. A writer waits at most for one copy; a reader never waits for a writer
(it reads the previous snapshot until the writer is done, and the new data from the next request on).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

import duckdb

from safestreets.config import Workspace
from safestreets.errors import WorkspaceError

SNAPSHOTS = "snapshots"


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_mtime_ns}-{st.st_size}"


def _newest(folder: Path) -> Path | None:
    found = sorted(folder.glob("store-*.duckdb"), key=lambda p: p.stat().st_mtime_ns)
    return found[-1] if found else None


def refresh(ws: Workspace) -> Path | None:
    """Take a new snapshot if the store changed since the newest one; returns the newest snapshot (None
    if there is none and the store is being written). Only one process copies at a time."""
    if not ws.db_path.exists():
        raise WorkspaceError(f"no store at {ws.db_path}: run 'safestreets init' or 'safestreets demo' first")
    folder = ws.root / "tmp" / SNAPSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    wal = ws.db_path.with_name(ws.db_path.name + ".wal")
    stamp = _stamp(ws.db_path) + (f"-{_stamp(wal)}" if wal.exists() else "")
    target = folder / f"store-{stamp}.duckdb"
    if target.exists():
        return target
    with open(folder / "copy.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process is copying: read the snapshot before it meanwhile
            return _newest(folder)
        try:
            # A read-only connection holds the shared lock, so no writer is mid-write while we copy.
            con = duckdb.connect(str(ws.db_path), read_only=True)
        except duckdb.Error:  # a writer holds the store: keep reading the last snapshot
            return _newest(folder)
        try:
            partial = folder / f".{target.name}.{os.getpid()}"
            shutil.copyfile(ws.db_path, partial)
            os.replace(partial, target)  # readers only ever see whole files
        finally:
            con.close()
        for old in folder.glob("store-*.duckdb"):
            if old != target:
                old.unlink(missing_ok=True)  # open readers keep their file until they close it
    return target


def open_reader(ws: Workspace, *, timezone: str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the newest snapshot of the store (made or refreshed as needed)."""
    snap = refresh(ws)
    if snap is None:
        raise WorkspaceError(
            "the store is being written and has no snapshot yet: try again when the load ends"
        )
    for attempt in range(3):
        try:
            con = duckdb.connect(str(snap), read_only=True)
            break
        except duckdb.IOException:  # replaced between finding and opening it: take the newer one
            time.sleep(0.05 * (attempt + 1))
            snap = _newest(snap.parent) or snap
    else:
        raise WorkspaceError(f"cannot open a snapshot of {ws.db_path}")
    tz = timezone or con.execute("SELECT value FROM settings WHERE key = 'timezone'").fetchall()
    zone = tz if isinstance(tz, str) else (tz[0][0] if tz else "Europe/London")
    con.execute(f"SET TimeZone = '{zone.replace(chr(39), '')}'")
    con.execute("SET enable_progress_bar = false")
    return con
