"""The channel's storage on SQLite and on a real PostgreSQL server (as a deployment would run it): a
report with a photo, a reply and an addition, decrypted, counted, and purged with its keys."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from nacl.public import PrivateKey
from sqlalchemy import func, select

from safestreets.db import Database, connect
from safestreets.db.intel import IntelAttachment, IntelMessage, IntelReport, IntelReporter
from safestreets.intel import codename, records

ADMIN_URL = os.environ.get(
    "SAFESTREETS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DAY = date(2026, 12, 7)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = connect(f"sqlite:///{tmp_path / 'intel.sqlite'}")
        yield database
        database.dispose()
        return
    import sqlalchemy as sa

    try:
        admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as c:
            c.execute(sa.text("SELECT 1"))
    except Exception as exc:  # no driver or no server
        if os.environ.get("SAFESTREETS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but not reachable at {ADMIN_URL}: {exc}")
        pytest.skip(f"no PostgreSQL server at {ADMIN_URL}")
    name = f"safestreets_intel_{secrets.token_hex(6)}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database = connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_store_reply_add_open_count_purge(db: Database) -> None:
    team = PrivateKey.generate()
    name = codename.new_codename()
    who = codename.derive(name)
    rid = records.store_report(db, team.public_key, who, {"what": "bags swapped at the garage", "point": None},
                               [b"\xff\xd8 a cleaned jpeg"], danger_now=True, today=DAY)  # fmt: skip
    records.reply(db, rid, "Which garage?", DAY)
    assert records.add_detail(db, team.public_key, codename.derive(name), "the one on Dock Street", DAY)
    assert not records.add_detail(db, team.public_key, codename.derive("not a codename"), "x", DAY)
    view = records.replies_for(db, who, DAY)
    assert view.found and [t for _, t in view.replies] == ["Which garage?"]
    opened = records.open_report(db, team, rid)
    assert opened.doc["what"] == "bags swapped at the garage" and opened.photos == [
        b"\xff\xd8 a cleaned jpeg"
    ]
    assert [m["text"] for m in opened.messages] == [
        None,
        "the one on Dock Street",
    ]  # the reply is not ours to read
    records.update_fields(db, rid, area_code="E01000001", area_kind="lsoa")
    assert records.counts(db) == [{"area_code": "E01000001", "area_kind": "lsoa", "week": DAY, "reports": 1}]
    assert records.list_reports(db)[0]["danger_now"]
    done = records.purge(db, DAY + timedelta(days=records.REPORT_DAYS))
    assert done.reports == [rid] and done.reporters == 1
    with db.session() as s:
        for table in (IntelReport, IntelReporter, IntelAttachment, IntelMessage):
            assert s.execute(select(func.count()).select_from(table)).scalar_one() == 0
