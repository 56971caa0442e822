"""Per-request dependencies: the operational database, a read-only view of the workspace, the signed-in
user (with a role check), CSRF on every state-changing call, and audit entries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from safestreets.api import Workspace
from safestreets.db import Database, audit, sessions
from safestreets.db.models import ROLES
from safestreets.web.settings import WebSettings

SESSION_COOKIE = "ss_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def settings(request: Request) -> WebSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def database(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


async def workspace(request: Request) -> AsyncIterator[Workspace]:
    """The workspace's newest snapshot, on this worker's shared connection; it never blocks a writing
    command, nor waits for one. On the event loop when the snapshot is current (a ``stat``: no thread
    to hop to), in a thread when it must be refreshed first (that may copy the store)."""
    paths = request.app.state.paths
    ws = Workspace.snapshot_ready(paths) or await run_in_threadpool(Workspace.snapshot, paths)
    try:
        yield ws
    finally:
        ws.close()


def current(request: Request) -> sessions.Active | None:
    cached = getattr(request.state, "active", "unset")
    if cached != "unset":
        return cached  # type: ignore[no-any-return]
    active = sessions.resume(request.app.state.db, request.cookies.get(SESSION_COOKIE),
                             trusted=request.app.state.trusted)  # fmt: skip
    request.state.active = active
    return active


def trusted(request: Request) -> sessions.Active | None:
    """The signed-in session if this worker verified it recently (no database read), else None."""
    active = sessions.trusted_session(request.cookies.get(SESSION_COOKIE), request.app.state.trusted)
    if active is not None:
        request.state.active = active
    return active


async def _csrf(request: Request, active: sessions.Active) -> None:
    if request.method not in UNSAFE:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not active.csrf_ok(sent):
        audit.record(request.app.state.db, actor=active.account.username, action="csrf",
                     target=f"{request.method} {request.url.path}", outcome="denied")  # fmt: skip
        raise HTTPException(403, "missing or wrong CSRF token")


def require(role: str) -> Callable[..., Any]:
    """A dependency: the signed-in user, who must hold ``role`` (or a stronger one)."""
    if role not in ROLES:
        raise ValueError(role)  # a programming error in a route declaration

    async def check(request: Request) -> sessions.Active:
        # A session verified in the last few seconds is checked here; otherwise the database is read in
        # a thread (not on the event loop, where a wait for the database would hold up every request).
        active = trusted(request)
        if active is None:
            active = await run_in_threadpool(current, request)
        if active is None:
            raise HTTPException(401, "sign in first")
        if not active.account.can(role):
            audit.record(request.app.state.db, actor=active.account.username, action="access",
                         target=f"{request.method} {request.url.path}", params={"needs": role},
                         outcome="denied")  # fmt: skip
            raise HTTPException(403, f"this needs the {role} role")
        await _csrf(request, active)
        return active

    return check


Viewer = Depends(require("viewer"))
Analyst = Depends(require("analyst"))
Admin = Depends(require("admin"))


def record(request: Request, active: sessions.Active, action: str, target: str, params: dict[str, Any] | None = None,
           outcome: str = "ok") -> None:  # fmt: skip
    """One audit entry for what this request showed, exported or changed."""
    audit.record(request.app.state.db, actor=active.account.username, action=action, target=target,
                 params=params or {}, outcome=outcome)  # fmt: skip
