"""The operational database tests run on SQLite and on a real PostgreSQL server (127.0.0.1:5432).

Each PostgreSQL test gets a database of its own, made and dropped here. Without a server the PostgreSQL
cases skip, unless SAFESTREETS_REQUIRE_POSTGRES=1 (CI sets it), when they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from safestreets.db import Database, connect

ADMIN_URL = os.environ.get(
    "SAFESTREETS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_admin() -> object | None:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(
            ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with engine.connect() as c:
            c.execute(sa.text("SELECT 1"))
        return engine
    except Exception as exc:  # no driver or no server: the reason is reported below
        if os.environ.get("SAFESTREETS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but not reachable at {ADMIN_URL}: {exc}")
        return None


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = connect(f"sqlite:///{tmp_path / 'ops.sqlite'}")
        yield database
        database.dispose()
        return
    import sqlalchemy as sa

    admin = _postgres_admin()
    if admin is None:
        pytest.skip(f"no PostgreSQL server at {ADMIN_URL}")
    name = f"safestreets_test_{secrets.token_hex(6)}"
    with admin.connect() as c:  # type: ignore[attr-defined]
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    database = connect(url)
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as c:  # type: ignore[attr-defined]
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()  # type: ignore[attr-defined]
