"""Administration (admins only): accounts (list, add with a one-time password, disable, reset) and the audit
trail (paged newest first, CSV export, chain check). Every change goes through the accounts API, which
writes its audit entry; every form carries the session's CSRF token."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from safestreets.api import accounts
from safestreets.api import catalog_models as m
from safestreets.db import Database
from safestreets.db.sessions import Active
from safestreets.db.users import Account
from safestreets.errors import NotFoundError, ParameterError, SafestreetsError
from safestreets.web.deps import Admin, database, record
from safestreets.web.render import page

router = APIRouter()

Username = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=2_000_000_000)]
Before = Annotated[
    int | None, Query(ge=1, le=2**62, description="only entries older than this id (the next page)")
]
PAGE = 50
NOT_FOUND = {404: {"description": "no such user"}}
AUDIT_COLUMNS = ("id", "at", "actor", "action", "target", "params", "outcome", "hash")


def _user(a: Account) -> m.User:
    return m.User(username=a.username, role=a.role, disabled=a.disabled, locked_until=a.locked_until,
                  created_at=a.created_at)  # fmt: skip


def _signed_out(request: Request, account: Account) -> Account:
    """This worker stops trusting the account's sessions at once (the others within sessions.TRUST)."""
    request.app.state.trusted.forget(user_id=account.id)
    return account


def _not_self(active: Active, username: str, what: str) -> None:
    if username.lower() == active.account.username.lower():
        raise ParameterError(f"you cannot {what} your own account: ask another admin")


def _audit_page(db: Database, active: Active, limit: int, offset: int, before: int | None) -> m.AuditPage:
    # One more than asked tells whether older entries follow, without counting the trail.
    rows = list(
        accounts.audit_entries(
            db, limit=limit + 1, offset=offset, before=before, actor=active.account.username
        )
    )
    shown = [m.AuditEntry(**r) for r in rows[:limit]]
    more = len(rows) > limit
    return m.AuditPage(limit=limit, offset=offset, before=before, more=more,
                       next_before=shown[-1].id if more and shown else None, entries=shown)  # fmt: skip


def _verdict(db: Database) -> m.AuditVerdict:
    v = accounts.verify_audit(db)
    return m.AuditVerdict(ok=v.ok, entries=v.entries, problem=v.problem, at_id=v.at_id, message=str(v))


# --- JSON ----------------------------------------------------------------------------------------------


@router.get("/api/admin/users", tags=["admin"], summary="Accounts, their roles and state")
def api_users(request: Request, active: Active = Admin, db: Database = Depends(database)) -> list[m.User]:
    record(request, active, "view", "/api/admin/users")
    return [_user(a) for a in accounts.list_users(db)]


@router.post(
    "/api/admin/users",
    tags=["admin"],
    summary="Add an account; its random password is in the answer, once",
    status_code=201,
    responses={400: {"description": "a bad username or role, or the user exists"}},
)
def api_add_user(
    body: m.NewUser, active: Active = Admin, db: Database = Depends(database)
) -> m.OneTimePassword:
    account, password = accounts.add_user(db, body.username, body.role, actor=active.account.username)
    return m.OneTimePassword(username=account.username, role=account.role, password=password)


@router.post(
    "/api/admin/users/{username}/disable",
    tags=["admin"],
    summary="Disable an account and end its sessions",
    responses={**NOT_FOUND, 400: {"description": "your own account"}},
)
def api_disable(
    request: Request, username: Username, active: Active = Admin, db: Database = Depends(database)
) -> m.User:
    _not_self(active, username, "disable")
    return _user(_signed_out(request, accounts.disable_user(db, username, actor=active.account.username)))


@router.post(
    "/api/admin/users/{username}/reset",
    tags=["admin"],
    summary="A new random password (in the answer, once); unlocks and re-enables the account",
    responses=NOT_FOUND,
)
def api_reset(
    request: Request, username: Username, active: Active = Admin, db: Database = Depends(database)
) -> m.OneTimePassword:
    account, password = accounts.reset_password(db, username, actor=active.account.username)
    _signed_out(request, account)
    return m.OneTimePassword(username=account.username, role=account.role, password=password)


@router.get("/api/admin/audit", tags=["admin"], summary="The audit trail, newest first")
def api_audit(
    limit: Limit = PAGE, offset: Offset = 0, before: Before = None, active: Active = Admin,
    db: Database = Depends(database),
) -> m.AuditPage:  # fmt: skip
    return _audit_page(db, active, limit, offset, before)


@router.get(
    "/api/admin/audit.csv",
    tags=["admin"],
    summary="The whole audit trail as CSV, newest first (download)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def api_audit_csv(active: Active = Admin, db: Database = Depends(database)) -> StreamingResponse:
    rows = accounts.audit_entries(db, actor=active.account.username, action="export")
    return StreamingResponse(_csv(rows), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="audit.csv"'})  # fmt: skip


@router.get(
    "/api/admin/audit/verify",
    tags=["admin"],
    summary="Check the audit chain: every entry present and unchanged",
)
def api_verify(request: Request, active: Active = Admin, db: Database = Depends(database)) -> m.AuditVerdict:
    verdict = _verdict(db)
    record(request, active, "view", "/api/admin/audit/verify", {"ok": verdict.ok})
    return verdict


def _cell(value: Any) -> Any:
    # A spreadsheet runs a cell that starts with one of these as a formula; the audit trail holds text
    # typed by anyone who tried to sign in.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=AUDIT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for n, row in enumerate(rows, start=1):
        writer.writerow({k: _cell(v) for k, v in row.items()})
        if n % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- pages ---------------------------------------------------------------------------------------------


def _users_page(request: Request, db: Database, status_code: int = 200, **context: Any) -> HTMLResponse:
    users = [_user(a) for a in accounts.list_users(db)]
    return page(request, "admin_users.html.j2", status_code=status_code, users=users,
                roles=("viewer", "analyst", "admin"), **context)  # fmt: skip


@router.get("/admin/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, active: Active = Admin, db: Database = Depends(database)) -> HTMLResponse:
    record(request, active, "view", "/admin/users")
    return _users_page(request, db)


def _change(request: Request, db: Database, action: Any) -> HTMLResponse:
    """Run a change and show the users page with its outcome (a user error is shown, not raised)."""
    try:
        message, secret = action()
    except SafestreetsError as err:
        return _users_page(
            request, db, status_code=404 if isinstance(err, NotFoundError) else 400, error=str(err)
        )
    return _users_page(request, db, message=message, secret=secret)


@router.post("/admin/users", response_class=HTMLResponse, include_in_schema=False)
def add_user_form(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=16)] = "viewer",
    active: Active = Admin,
    db: Database = Depends(database),
) -> HTMLResponse:
    def act() -> tuple[str, m.OneTimePassword]:
        account, password = accounts.add_user(db, username, role, actor=active.account.username)
        return f"user {account.username} ({account.role}) added", m.OneTimePassword(
            username=account.username, role=account.role, password=password
        )

    return _change(request, db, act)


@router.post("/admin/users/{username}/disable", response_class=HTMLResponse, include_in_schema=False)
def disable_form(
    request: Request, username: Username, active: Active = Admin, db: Database = Depends(database)
) -> HTMLResponse:
    def act() -> tuple[str, None]:
        _not_self(active, username, "disable")
        account = _signed_out(request, accounts.disable_user(db, username, actor=active.account.username))
        return f"user {account.username} disabled and signed out", None

    return _change(request, db, act)


@router.post("/admin/users/{username}/reset", response_class=HTMLResponse, include_in_schema=False)
def reset_form(
    request: Request, username: Username, active: Active = Admin, db: Database = Depends(database)
) -> HTMLResponse:
    def act() -> tuple[str, m.OneTimePassword]:
        account, password = accounts.reset_password(db, username, actor=active.account.username)
        _signed_out(request, account)
        return f"user {account.username}: new password, account unlocked and enabled", m.OneTimePassword(
            username=account.username, role=account.role, password=password
        )

    return _change(request, db, act)


@router.get("/admin/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(
    request: Request, before: Before = None, active: Active = Admin, db: Database = Depends(database)
) -> HTMLResponse:
    return page(request, "admin_audit.html.j2", audit=_audit_page(db, active, PAGE, 0, before))


@router.get("/admin/audit/verify", response_class=HTMLResponse, include_in_schema=False)
def verify_page(request: Request, active: Active = Admin, db: Database = Depends(database)) -> HTMLResponse:
    verdict = _verdict(db)
    record(request, active, "view", "/admin/audit/verify", {"ok": verdict.ok})
    return page(request, "admin_verify.html.j2", verdict=verdict)
