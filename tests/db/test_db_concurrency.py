"""Several processes at once on the operational database (the dashboard's workers and the CLI): the audit
chain never forks, reads never wait for a writer, and a session may be trusted only as documented."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from safestreets.db import Database, audit, sessions, users

SRC = Path(__file__).resolve().parents[2] / "src"

APPENDER = """
import sys
from safestreets.db import audit, connect
db = connect(sys.argv[1], migrate=False)
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()  # start together
for i in range(int(sys.argv[3])):
    audit.record(db, actor=sys.argv[2], action="view", target=str(i), params={"i": i})
db.dispose()
"""


def _url(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def test_two_processes_appending_never_fork_the_chain(db: Database) -> None:
    audit.record(db, actor="first", action="view", target="/")
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    n = 60
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, _url(db), f"worker{k}", str(n)], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(2)
    ]  # fmt: skip
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready", p.stderr
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    # Meanwhile this process appends too (a third writer: the CLI beside two workers).
    for i in range(20):
        audit.record(db, actor="cli", action="change", target=str(i))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    verdict = audit.verify(db)
    assert verdict.ok, verdict
    assert verdict.entries == 1 + 2 * n + 20
    with db.engine.connect() as c:
        forks = c.execute(
            sa.text("SELECT count(*) FROM (SELECT prev_hash FROM audit GROUP BY prev_hash HAVING count(*) > 1) f")
        ).scalar_one()
    assert forks == 0  # no two entries follow the same one


def test_sqlite_writers_queue_on_a_lock_file_beside_the_database(tmp_path: Path) -> None:
    from safestreets.db import connect

    db = connect(f"sqlite:///{tmp_path / 'safestreets.sqlite'}")
    audit.record(db, actor="a", action="view", target="/")
    assert (tmp_path / "safestreets.sqlite.writers").exists()
    with db.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL
    db.dispose()


def test_sqlite_reads_take_no_write_lock(tmp_path: Path) -> None:
    """While another process holds SQLite's write lock, a request can still check its session and an
    admin can still verify and read the audit trail (they would otherwise wait, then fail)."""
    from safestreets.db import connect

    path = tmp_path / "safestreets.sqlite"
    db = connect(f"sqlite:///{path}")
    account, _ = users.add_user(db, "reader", "viewer")
    token = sessions.start(db, account)
    audit.record(db, actor="reader", action="view", target="/")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # a writer in the middle of its transaction
    try:
        assert sessions.resume(db, token) is not None
        assert audit.verify(db).ok
        assert [e["actor"] for e in audit.entries(db)] == ["reader"]
    finally:
        other.execute("ROLLBACK")
        other.close()
        db.dispose()


def test_a_trusted_session_still_times_out_and_logout_is_immediate(db: Database) -> None:
    account, _ = users.add_user(db, "trusted", "viewer")
    trusted = sessions.Trusted(window=timedelta(hours=1))
    token = sessions.start(db, account)
    assert sessions.resume(db, token, trusted=trusted) is not None
    # Idle and absolute timeouts are checked on every request, trusted or not.
    assert sessions.resume(db, token, trusted=trusted, idle=timedelta(0)) is None
    token = sessions.start(db, account)
    assert sessions.resume(db, token, trusted=trusted) is not None
    assert sessions.resume(db, token, trusted=trusted, absolute=timedelta(0)) is None
    # A logout in this process ends the session at once.
    token = sessions.start(db, account)
    assert sessions.resume(db, token, trusted=trusted) is not None
    sessions.end(db, token, trusted)
    assert sessions.resume(db, token, trusted=trusted) is None


def test_a_change_made_elsewhere_shows_within_the_trust_window(db: Database) -> None:
    account, _ = users.add_user(db, "elsewhere", "viewer")
    token = sessions.start(db, account)
    trusted = sessions.Trusted(window=timedelta(hours=1))
    assert sessions.resume(db, token, trusted=trusted) is not None
    users.disable_user(db, "elsewhere")  # as another process would (the CLI)
    assert sessions.resume(db, token, trusted=trusted) is not None  # trusted until the window ends
    trusted.forget(user_id=account.id)  # what this process does when it disables the account itself
    assert sessions.resume(db, token, trusted=trusted) is None
    assert sessions.resume(db, token) is None
