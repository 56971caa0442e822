"""Reading the store while another process writes it: read-only snapshots.

DuckDB lets one process write a database file, and no other process open it meanwhile, not even to read.
A dashboard that opened the store itself would either fail during a long ingest or, by holding shared
locks request after request, keep the CLI from ever getting its write lock. So readers never keep the
store open: they read a snapshot, a copy of the file taken under a brief read-only lock whenever the store
has changed since the last copy. A writer waits at most for one copy; a reader never waits for a writer
(it reads the previous snapshot until the writer is done, and the new data from the next request on).

A server answering many requests keeps one :class:`SharedReader` per process: one read-only connection
to the newest snapshot, reused by every request (each gets a cursor of its own, cheap to make), and
reopened only when the store has changed and a new snapshot could be taken. Checking for a change is a
``stat`` of the store file; while a writer holds the store, copying is tried at most every
``RETRY_SECONDS``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from pathlib import Path

import duckdb

from safestreets.config import Workspace
from safestreets.errors import WorkspaceError

SNAPSHOTS = "snapshots"
#: While the store cannot be copied (a writer holds it), how often a shared reader tries again.
RETRY_SECONDS = 0.5


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_mtime_ns}-{st.st_size}"


def _newest(folder: Path) -> Path | None:
    found = sorted(folder.glob("store-*.duckdb"), key=lambda p: p.stat().st_mtime_ns)
    return found[-1] if found else None


def _store_stamp(ws: Workspace) -> str:
    try:
        stamp = _stamp(ws.db_path)
    except FileNotFoundError:
        raise WorkspaceError(
            f"no store at {ws.db_path}: run 'safestreets init' or 'safestreets demo' first"
        ) from None
    try:  # the write-ahead log comes and goes as a writer works: gone between two looks is no WAL
        return f"{stamp}-{_stamp(ws.db_path.with_name(ws.db_path.name + '.wal'))}"
    except FileNotFoundError:
        return stamp


def refresh(ws: Workspace) -> Path | None:
    """Take a new snapshot if the store changed since the newest one; returns the newest snapshot (None
    if there is none and the store is being written). Only one process copies at a time."""
    if not ws.db_path.exists():
        raise WorkspaceError(f"no store at {ws.db_path}: run 'safestreets init' or 'safestreets demo' first")
    folder = ws.root / "tmp" / SNAPSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    stamp = _store_stamp(ws)
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


def _open_snapshot(ws: Workspace) -> tuple[duckdb.DuckDBPyConnection, Path]:
    snap = refresh(ws)
    if snap is None:
        raise WorkspaceError(
            "the store is being written and has no snapshot yet: try again when the load ends"
        )
    for attempt in range(3):
        try:
            return duckdb.connect(str(snap), read_only=True), snap
        except duckdb.IOException:  # replaced between finding and opening it: take the newer one
            time.sleep(0.05 * (attempt + 1))
            snap = _newest(snap.parent) or snap
    raise WorkspaceError(f"cannot open a snapshot of {ws.db_path}")


def _zone(con: duckdb.DuckDBPyConnection) -> str:
    tz = con.execute("SELECT value FROM settings WHERE key = 'timezone'").fetchall()
    return str(tz[0][0]) if tz else "Europe/London"


def _setup(con: duckdb.DuckDBPyConnection, zone: str) -> duckdb.DuckDBPyConnection:
    con.execute(f"SET TimeZone = '{zone.replace(chr(39), '')}'")
    con.execute("SET enable_progress_bar = false")
    return con


def open_reader(ws: Workspace, *, timezone: str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the newest snapshot of the store (made or refreshed as needed)."""
    con, _ = _open_snapshot(ws)
    return _setup(con, timezone or _zone(con))


class Snapshot:
    """One request's view of the store: the process's connection to the newest snapshot, and that
    snapshot's identity (its file name: it changes whenever the store's contents do). ``cursor()`` gives
    a cursor of its own on it, for one thread at a time; the caller closes it. (Cursors are not kept per
    thread: a thread ending while the interpreter exits must not be left holding one.)"""

    def __init__(self, con: duckdb.DuckDBPyConnection, ident: str, zone: str) -> None:
        self.con, self.ident, self._zone = con, ident, zone

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return _setup(self.con.cursor(), self._zone)


class SharedReader:
    """One read-only snapshot connection per process, shared by the requests (see the module)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._snap: Path | None = None
        self._current: Snapshot | None = None  # replaced whole, so readers need no lock to take it
        self._stamp = ""  # the store's stamp our snapshot was taken at
        self._retry_at = 0.0

    def current(self) -> Snapshot | None:
        """The snapshot to read now if that needs no copying or opening (a ``stat``, never waiting: safe
        on an event loop); None when :meth:`snapshot` has work to do."""
        stamp = _store_stamp(self.ws)
        view = self._current
        if view is None:
            return None
        if stamp == self._stamp or time.monotonic() < self._retry_at or self._lock.locked():
            return view  # up to date, or a writer holds the store, or another thread is taking the new one
        return None

    def snapshot(self) -> Snapshot:
        """The newest snapshot, taken and opened first if the store changed (may copy the store). While
        another thread of this process is doing that, the snapshot before is read meanwhile."""
        stamp = _store_stamp(self.ws)
        view = self._current
        if view is not None:
            if stamp == self._stamp or time.monotonic() < self._retry_at:
                return view
            if not self._lock.acquire(blocking=False):
                return view
        else:
            self._lock.acquire()
        try:
            if self._current is None or (stamp != self._stamp and time.monotonic() >= self._retry_at):
                self._reopen(stamp)
            assert self._current is not None
            return self._current
        finally:
            self._lock.release()

    def _reopen(self, stamp: str) -> None:
        newest = refresh(self.ws)
        if newest is None and self._con is None:
            raise WorkspaceError(
                "the store is being written and has no snapshot yet: try again when the load ends"
            )
        if newest is not None and newest != self._snap:
            try:
                con = duckdb.connect(str(newest), read_only=True)
            except duckdb.IOException:  # replaced between finding and opening it
                if self._con is not None:
                    newest = None  # keep the one we have, try again shortly
                else:
                    con, newest = _open_snapshot(self.ws)
            if newest is not None:
                # The old connection is not closed: requests may still hold cursors on it; it closes
                # when the last of them is gone (its snapshot file, unlinked by refresh, goes with it).
                self._con, self._snap = con, newest
                self._current = Snapshot(con, newest.name, _zone(con))
        current = newest is not None and newest.name == f"store-{stamp}.duckdb"
        self._stamp = stamp if current else ""
        self._retry_at = 0.0 if current else time.monotonic() + RETRY_SECONDS

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
            self._con = self._snap = self._current = None


_SHARED: dict[Path, SharedReader] = {}
_SHARED_LOCK = threading.Lock()


def shared_reader(ws: Workspace) -> SharedReader:
    """This process's shared reader for a workspace (made on first use)."""
    reader = _SHARED.get(ws.db_path)  # resolved by config.resolve_workspace already
    if reader is None:
        with _SHARED_LOCK:
            reader = _SHARED.setdefault(ws.db_path, SharedReader(ws))
    return reader
