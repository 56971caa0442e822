"""The operational database: accounts, sessions, the audit trail (and, later, the registers people fill).

SQLAlchemy 2 over a SQLite file in the workspace by default (nothing to start), or PostgreSQL for a
multi-user deployment when ``SAFESTREETS_DATABASE_URL`` names one. The schema is migrated by Alembic on
first use. The analytic store stays DuckDB (``safestreets.store``).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from safestreets.errors import SafestreetsError

ENV_URL = "SAFESTREETS_DATABASE_URL"
SQLITE_NAME = "safestreets.sqlite"
#: Beside a SQLite file: the lock its writers queue on (``safestreets.sqlite.writers``).
WRITERS_SUFFIX = ".writers"
#: How long a writer waits for another writing thread of its process (SQLite's busy timeout is as long).
WAIT_SECONDS = 30.0
_READ = "safestreets_read"  # execution option: a transaction that only reads (SQLite: a deferred BEGIN)


class DatabaseError(SafestreetsError):
    """The operational database cannot be reached or used."""


def database_url(workspace_root: Path | None = None) -> str:
    """``SAFESTREETS_DATABASE_URL`` if set, else the SQLite file in the workspace."""
    url = os.environ.get(ENV_URL)
    if url:
        return url
    if workspace_root is None:
        raise DatabaseError(f"no database: set {ENV_URL} or open a workspace")
    return f"sqlite:///{Path(workspace_root) / SQLITE_NAME}"


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as the scheme only
        return url.split(":", 1)[0]


class Writers:
    """The queue writers wait in: a lock per process (threads) and, for a SQLite file, a lock file beside
    it (processes: the dashboard's workers and the CLI), so writers are woken as the lock is let go rather
    than polling SQLite's write lock with its busy handler's sleeps. On PostgreSQL only the lock per
    process: the server's row locks order the processes. Reentrant within a thread."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._thread = threading.RLock()
        self._depth = 0
        self._owner = 0
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        if not self._thread.acquire(timeout=WAIT_SECONDS):
            raise DatabaseError("the operational database is busy: another writer did not finish in time")
        try:
            if self.path is not None and self._depth == 0:
                self._lock_file()
            self._depth += 1
            self._owner = threading.get_ident()
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = 0
                if self.path is not None and self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()

    def owned(self) -> bool:
        """Whether this thread is inside a writing transaction now."""
        return self._owner == threading.get_ident() and self._depth > 0

    def _lock_file(self) -> None:
        if self._fd is None or self._pid != os.getpid():  # a forked child needs its own open file
            self._fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        # Blocking: the kernel wakes a waiter as soon as the lock is let go. A writer holds it for one
        # transaction, so the wait is bounded by the writers ahead (SQLite's busy timeout bounds theirs).
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]
    #: Sessions for transactions that only read (SQLite: no write lock, never waiting for a writer).
    readers: sessionmaker[Session] | None = None
    writers: Writers = field(default_factory=lambda: Writers(None))

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction that may write: committed at the end, rolled back on any error (nothing
        half-written). Writers queue one at a time (see :class:`Writers`)."""
        with self.writers.held():
            try:
                with self.sessions.begin() as s:
                    yield s
            except SQLAlchemyError as exc:
                raise DatabaseError(f"the database at {self.url} failed: {str(exc).splitlines()[0]}") from exc

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """One transaction that only reads: on SQLite it takes no write lock, so it neither waits for a
        writer (WAL) nor holds one up. Anything written in it is rolled back."""
        try:
            with (self.readers or self.sessions)() as s:
                yield s
                s.rollback()
        except SQLAlchemyError as exc:
            raise DatabaseError(f"the database at {self.url} failed: {str(exc).splitlines()[0]}") from exc

    def dispose(self) -> None:
        self.engine.dispose()
        self.writers.close()


def connect(url: str, *, migrate: bool = True) -> Database:
    """An engine for ``url`` (migrated to the current schema unless ``migrate=False``)."""
    sqlite = url.startswith("sqlite")
    try:
        engine = create_engine(
            url,
            pool_pre_ping=not sqlite,
            connect_args={"timeout": 30} if sqlite else {"connect_timeout": 5},
        )
    except Exception as exc:  # a malformed URL or a missing driver
        raise DatabaseError(f"cannot use database {_shown(url)}: {exc}") from exc
    readers = sessionmaker(engine.execution_options(**{_READ: True}), expire_on_commit=False)
    db = Database(engine, sessionmaker(engine, expire_on_commit=False), readers)
    if sqlite:
        _sqlite_serialised(engine)
        path = engine.url.database
        if path and path != ":memory:" and not path.startswith("file:"):
            db.writers = Writers(Path(path).with_name(Path(path).name + WRITERS_SUFFIX))
    try:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"the database at {_shown(url)} is not reachable: {str(exc).splitlines()[0]}"
        ) from exc
    if migrate:
        upgrade(db)
    return db


def _sqlite_serialised(engine: Engine) -> None:
    """SQLite: WAL (readers never wait for a writer), synchronous=NORMAL (in WAL mode a commit is not
    flushed to disk at once: a power cut may lose the last transactions, never consistency), foreign
    keys, and transactions that may write take the write lock when they begin, so that two workers
    appending to the audit chain queue instead of failing. Read-only transactions begin deferred."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ) else "BEGIN IMMEDIATE")


def upgrade(db: Database) -> None:
    """Bring the schema to the newest Alembic revision (safe to run again)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    try:
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot migrate the database at {db.url}: {str(exc).splitlines()[0]}") from exc
