"""The operational database: accounts, sessions, the audit trail (and, later, the registers people fill).

SQLAlchemy 2 over a SQLite file in the workspace by default (nothing to start), or PostgreSQL for a
multi-user deployment when ``SAFESTREETS_DATABASE_URL`` names one. The schema is migrated by Alembic on
first use. The analytic store stays DuckDB (``safestreets.store``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from safestreets.errors import SafestreetsError

ENV_URL = "SAFESTREETS_DATABASE_URL"
SQLITE_NAME = "safestreets.sqlite"


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


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed at the end, rolled back on any error (nothing half-written)."""
        try:
            with self.sessions.begin() as s:
                yield s
        except SQLAlchemyError as exc:
            raise DatabaseError(f"the database at {self.url} failed: {str(exc).splitlines()[0]}") from exc

    def dispose(self) -> None:
        self.engine.dispose()


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
    if sqlite:
        _sqlite_serialised(engine)
    db = Database(engine, sessionmaker(engine, expire_on_commit=False))
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
    """SQLite: WAL (readers never wait for a writer), foreign keys, and transactions that take the write
    lock when they begin, so that two workers appending to the audit chain queue instead of failing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


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
