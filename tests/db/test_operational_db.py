"""Accounts, sessions and the audit chain, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from safestreets.db import Database, DatabaseError, audit, connect, sessions, upgrade, users
from safestreets.errors import NotFoundError, ParameterError


def test_migrations_run_twice_and_make_every_table(db: Database) -> None:
    upgrade(db)  # a second time: nothing to do, nothing fails
    names = set(sa.inspect(db.engine).get_table_names())
    assert {"users", "login_sessions", "login_attempts", "audit", "audit_head", "alembic_version"} <= names


def test_accounts_roles_and_passwords(db: Database) -> None:
    account, password = users.add_user(db, "ana", "Analyst")
    assert account.role == "analyst" and len(password) >= users.MIN_PASSWORD
    assert account.can("viewer") and account.can("analyst") and not account.can("admin")
    with db.engine.connect() as c:
        stored = c.execute(sa.text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$") and password not in stored
    assert users.authenticate(db, "ANA", password).username == "ana"  # names match in any case
    with pytest.raises(ParameterError, match="already exists"):
        users.add_user(db, "Ana", "viewer")
    with pytest.raises(ParameterError, match="did you mean 'admin'"):
        users.add_user(db, "x", "admn")
    with pytest.raises(ParameterError, match="at least"):
        users.add_user(db, "y", "viewer", "short")
    with pytest.raises(NotFoundError):
        users.disable_user(db, "nobody")


def test_lockout_after_failed_logins_and_reset(db: Database) -> None:
    _, password = users.add_user(db, "vic", "viewer")
    for _ in range(users.MAX_FAILED):
        with pytest.raises(users.LoginRefused):
            users.authenticate(db, "vic", "not the password")
    with pytest.raises(users.LoginRefused, match="locked"):
        users.authenticate(db, "vic", password)  # the right password no longer opens it
    _, new = users.reset_password(db, "vic")
    assert users.authenticate(db, "vic", new).username == "vic"
    users.disable_user(db, "vic")
    with pytest.raises(users.LoginRefused, match="disabled"):
        users.authenticate(db, "vic", new)


def test_sessions_expire_idle_and_absolute(db: Database) -> None:
    account, _ = users.add_user(db, "sam", "viewer")
    token = sessions.start(db, account)
    active = sessions.resume(db, token)
    assert active is not None and active.account.username == "sam"
    assert active.csrf_ok(active.csrf_token) and not active.csrf_ok("forged") and not active.csrf_ok(None)
    with db.engine.connect() as c:
        stored = c.execute(sa.text("SELECT token_hash FROM login_sessions")).scalar_one()
    assert stored != token  # only its hash is stored
    with db.engine.begin() as c:
        c.execute(
            sa.text("UPDATE login_sessions SET last_seen = :t"), {"t": datetime.now(UTC) - timedelta(hours=1)}
        )
    assert sessions.resume(db, token) is None  # idle too long
    token = sessions.start(db, account)
    with db.engine.begin() as c:
        c.execute(
            sa.text("UPDATE login_sessions SET created_at = :t"), {"t": datetime.now(UTC) - timedelta(days=1)}
        )
    assert sessions.resume(db, token) is None  # too old, however active
    token = sessions.start(db, account)
    users.disable_user(db, "sam")
    assert sessions.resume(db, token) is None


def test_login_attempts_are_rate_limited(db: Database) -> None:
    key = sessions.client_key("203.0.113.9", b"k" * 32)
    assert "203.0.113.9" not in key
    allowed = [sessions.attempt_allowed(db, key) for _ in range(sessions.MAX_ATTEMPTS + 2)]
    assert allowed == [True] * sessions.MAX_ATTEMPTS + [False, False]
    assert sessions.attempt_allowed(db, sessions.client_key("198.51.100.1", b"k" * 32))


def _fill(db: Database, n: int) -> None:
    for i in range(n):
        audit.record(db, actor="ana", action="view", target=f"/api/thing/{i}", params={"i": i, "é": "ü"})


def test_audit_chain_detects_edits_and_deletions(db: Database) -> None:
    _fill(db, 6)
    assert audit.verify(db).ok and audit.verify(db).entries == 6
    with db.engine.begin() as c:
        c.execute(sa.text("UPDATE audit SET params = '{}' WHERE id = 3"))
    verdict = audit.verify(db)
    assert not verdict.ok and verdict.at_id == 3 and "changed" in str(verdict)


@pytest.mark.parametrize("victim", [1, 4, 6])
def test_audit_chain_detects_a_deleted_entry(db: Database, victim: int) -> None:
    _fill(db, 6)
    with db.engine.begin() as c:
        c.execute(sa.text("DELETE FROM audit WHERE id = :i"), {"i": victim})
    assert not audit.verify(db).ok


def test_audit_chain_detects_a_rewritten_tail(db: Database) -> None:
    """Deleting the newest entries and fixing nothing else is caught by the head."""
    _fill(db, 4)
    with db.engine.begin() as c:
        c.execute(sa.text("DELETE FROM audit WHERE id >= 3"))
    verdict = audit.verify(db)
    assert not verdict.ok and "removed" in str(verdict)


def test_concurrent_appends_chain_in_order(db: Database) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(8):
                audit.record(db, actor=f"w{k}", action="view", target=str(i))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    verdict = audit.verify(db)
    assert verdict.ok and verdict.entries == 32


@settings(max_examples=40)
@given(
    st.dictionaries(
        st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=20), st.none()), max_size=4
    )
)
def test_canonical_params_hash_stably(params: dict[str, object]) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    text = audit.canonical(params)
    assert audit.canonical(dict(reversed(list(params.items())))) == text
    a = audit.entry_hash("0" * 64, 1, at, "x", "view", "t", text, "ok")
    assert a == audit.entry_hash("0" * 64, 1, at, "x", "view", "t", text, "ok")
    assert a != audit.entry_hash("0" * 64, 1, at, "x", "view", "t", text + " ", "ok")


def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(DatabaseError, match="not reachable") as err:
        connect("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(err.value)  # the password never reaches a message
