"""Signing in (rate limit, lock-out) and the audit trail: an entry for every view, export and change, and a
chain check that finds an edited or a deleted entry."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text

from safestreets.api import accounts
from safestreets.db import audit, sessions, users
from safestreets.web import create_app, settings_for
from web.web_support import BASE, HTML, Built, Signed, form_token, sign_in

_addresses = (f"10.1.{i // 250}.{i % 250 + 1}" for i in itertools.count())


def browser(app: FastAPI) -> TestClient:
    """A client from an address of its own: the login rate limit counts per address."""
    return TestClient(app, base_url=BASE, follow_redirects=False, client=(next(_addresses), 50000))


def attempt(client: TestClient, username: str, password: str, *, page: Response | None = None) -> Response:
    """One sign-in through the form, with the token of the page it was shown on."""
    page = page if page is not None and page.status_code == 401 else client.get("/login", headers=HTML)
    token = form_token(page.text, "login_token")
    return client.post("/login", data={"username": username, "password": password, "login_token": token,
                                       "next": "/plans"}, headers=HTML)  # fmt: skip


def test_sign_in_and_out(app: FastAPI, fresh_account: Callable) -> None:
    account, password = fresh_account("viewer")
    client = browser(app)
    assert client.get("/plans", headers=HTML).headers["location"] == "/login?next=/plans"
    r = attempt(client, account.username, password)
    assert r.status_code == 303 and r.headers["location"] == "/plans"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    assert client.get("/api/plans").status_code == 200
    page = client.get("/plans", headers=HTML).text
    assert client.post("/logout", data={"csrf_token": form_token(page, "csrf_token")}).status_code == 303
    assert client.get("/api/plans").status_code == 401


def test_the_login_form_needs_its_token(app: FastAPI, fresh_account: Callable) -> None:
    account, password = fresh_account("viewer")
    client = browser(app)
    r = client.post("/login", data={"username": account.username, "password": password, "login_token": "x"})
    assert r.status_code == 403


def test_rate_limit_after_ten_attempts(app: FastAPI, fresh_account: Callable) -> None:
    account, password = fresh_account("viewer")
    client = browser(app)
    page = None
    for _ in range(sessions.MAX_ATTEMPTS):
        page = attempt(client, "nobody-at-all", "wrong password", page=page)
        assert page.status_code == 401
    r = attempt(client, account.username, password, page=page)
    assert r.status_code == 429  # even the right password waits
    assert attempt(browser(app), account.username, password).status_code == 303  # another address does not
    last = next(audit.entries(app.state.db, limit=20))
    assert last["action"] == "login"
    assert any(e["outcome"] == "rate-limited" for e in audit.entries(app.state.db, limit=20))


def test_lock_out_after_five_bad_passwords(
    app: FastAPI, as_role: dict[str, Signed], fresh_account: Callable
) -> None:
    account, password = fresh_account("analyst")
    client = browser(app)
    page = None
    for _ in range(users.MAX_FAILED):
        page = attempt(client, account.username, "not the password", page=page)
        assert page.status_code == 401
    r = attempt(client, account.username, password, page=page)
    assert r.status_code == 401 and "locked" in r.text  # the right password, but locked
    (state,) = [
        u for u in as_role["admin"].get("/api/admin/users").json() if u["username"] == account.username
    ]
    assert state["locked_until"] is not None
    assert "locked until" in as_role["admin"].get("/admin/users", headers=HTML).text
    new = as_role["admin"].post(f"/api/admin/users/{account.username}/reset").json()["password"]
    assert attempt(browser(app), account.username, new).status_code == 303  # a reset unlocks


# --- the audit trail -----------------------------------------------------------------------------------


def newest(app: FastAPI, n: int = 5) -> list[dict[str, Any]]:
    return list(audit.entries(app.state.db, limit=n))


def test_views_exports_and_changes_are_audited(
    app: FastAPI, as_role: dict[str, Signed], built: Built
) -> None:
    viewer, analyst, admin = as_role["viewer"], as_role["analyst"], as_role["admin"]
    cases: list[tuple[Signed, Callable[[], Response], str, str]] = [
        (viewer, lambda: viewer.get("/api/plans/1?bcu=east"), "view", "/api/plans/1"),
        (viewer, lambda: viewer.get("/forecasts/1", headers=HTML), "view", "/forecasts/1"),
        (viewer, lambda: viewer.get("/api/hubs"), "view", "/api/hubs"),
        (viewer, lambda: viewer.get("/briefings/2024-01-01", headers=HTML), "view", "/briefings/2024-01-01"),
        (viewer, lambda: viewer.get("/api/loads"), "view", "/api/loads"),
        (viewer, lambda: viewer.get("/"), "view", "/"),
        (analyst, lambda: analyst.get(f"/api/plans/{built.plan}/cards.pdf"), "export",
         f"/api/plans/{built.plan}/cards.pdf"),
        (analyst, lambda: analyst.get("/api/briefings/2024-01-01.pdf"), "export", "/api/briefings/2024-01-01.pdf"),
        (admin, lambda: admin.get("/api/admin/audit.csv"), "export", "audit"),
        (admin, lambda: admin.get("/api/admin/audit"), "view", "audit"),
        (admin, lambda: admin.get("/api/admin/users"), "view", "/api/admin/users"),
        (admin, lambda: admin.post("/api/admin/users", json={"username": "audited-1", "role": "viewer"}), "change",
         "users.add"),
        (admin, lambda: admin.post("/api/admin/users/audited-1/reset"), "change", "users.reset"),
        (admin, lambda: admin.post("/api/admin/users/audited-1/disable"), "change", "users.disable"),
    ]  # fmt: skip
    for who, act, action, target in cases:
        r = act()
        assert r.status_code < 300, (target, r.text[:200])
        entries = [e for e in newest(app, 3) if e["actor"] == who.account.username]
        assert any(
            e["action"] == action and e["target"] == target and e["outcome"] == "ok" for e in entries
        ), target
    added = next(e for e in newest(app, 10) if e["target"] == "users.add")
    assert '"username":"audited-1"' in added["params"] and "password" not in added["params"]


def test_refusals_are_audited(app: FastAPI, as_role: dict[str, Signed]) -> None:
    assert as_role["viewer"].get("/api/admin/users").status_code == 403
    e = newest(app, 1)[0]
    assert (e["actor"], e["action"], e["outcome"]) == ("test-viewer", "access", "denied")
    assert e["target"] == "GET /api/admin/users"
    assert as_role["admin"].post("/api/admin/users/test-viewer/disable", csrf=False).status_code == 403
    e = newest(app, 1)[0]
    assert (e["actor"], e["action"], e["outcome"]) == ("test-admin", "csrf", "denied")


@pytest.fixture
def own_db_app(web_ws: Path, tmp_path: Path) -> FastAPI:
    """The dashboard with a database of its own, for tests that tamper with the audit trail."""
    settings = dataclasses.replace(settings_for(web_ws), database_url=f"sqlite:///{tmp_path / 'ops.sqlite'}")
    return create_app(settings)


def _verdict(admin: Signed) -> dict[str, Any]:
    return admin.get("/api/admin/audit/verify").json()  # type: ignore[no-any-return]


def test_verify_finds_an_edited_entry(own_db_app: FastAPI) -> None:
    db = own_db_app.state.db
    admin = sign_in(own_db_app, accounts.add_user(db, "boss", "admin", actor="test")[0])
    for url in ("/api/plans", "/api/forecasts", "/api/status"):
        admin.get(url)
    assert _verdict(admin)["ok"]
    with db.engine.begin() as c:
        target = c.execute(text("SELECT target FROM audit WHERE id = 3")).scalar_one()
        c.execute(text("UPDATE audit SET target = '/api/nothing-to-see' WHERE id = 3"))
    v = _verdict(admin)
    assert not v["ok"] and v["at_id"] == 3 and "changed" in v["problem"] and v["entries"] == 2
    assert "Broken at entry 3" in admin.get("/admin/audit/verify", headers=HTML).text
    with db.engine.begin() as c:
        c.execute(text("UPDATE audit SET target = :t WHERE id = 3"), {"t": target})
    assert _verdict(admin)["ok"]


def test_verify_finds_a_deleted_entry(own_db_app: FastAPI) -> None:
    db = own_db_app.state.db
    admin = sign_in(own_db_app, accounts.add_user(db, "boss", "admin", actor="test")[0])
    for url in ("/api/plans", "/api/forecasts", "/api/status", "/api/loads"):
        admin.get(url)
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM audit WHERE id = 4"))
    v = _verdict(admin)
    assert not v["ok"] and v["at_id"] == 4 and "missing" in v["problem"]


def test_verify_finds_the_newest_entries_deleted(own_db_app: FastAPI) -> None:
    db = own_db_app.state.db
    admin = sign_in(own_db_app, accounts.add_user(db, "boss", "admin", actor="test")[0])
    admin.get("/api/plans")
    admin.get("/api/forecasts")
    assert audit.verify(db).ok
    with db.engine.begin() as c:
        last = c.execute(text("SELECT max(id) FROM audit")).scalar_one()
        c.execute(text("DELETE FROM audit WHERE id = :n"), {"n": last})
    verdict = audit.verify(db)
    assert not verdict.ok and "newest entries were removed" in (verdict.problem or "")
