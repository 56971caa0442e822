"""Signing in and out: login with rate limiting and lock-out, server-side sessions, CSRF on the form."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from safestreets.db import audit, sessions, users
from safestreets.web.deps import SESSION_COOKIE, Viewer, current
from safestreets.web.render import page

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "ss_login"  # double-submit token for the login form (there is no session yet)


def _cookie(
    response: Response, request: Request, name: str, value: str, *, max_age: int | None, path: str = "/"
) -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="strict",
                        secure=request.app.state.settings.secure_cookies)  # fmt: skip


def _safe_next(target: str | None) -> str:
    # Only a local path: never an open redirect to another site.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    if current(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html.j2", login_token=token, next=_safe_next(next), message=None)
    _cookie(response, request, LOGIN_COOKIE, token, max_age=900, path="/login")
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    login_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    db = request.app.state.db
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, login_token):
        raise HTTPException(403, "the sign-in form expired: reload the page and try again")
    client = sessions.client_key(
        request.client.host if request.client else "?", request.app.state.settings.secret
    )
    if not sessions.attempt_allowed(db, client):
        audit.record(db, actor=username[:64], action="login", target="/login", outcome="rate-limited")
        raise HTTPException(429, "too many sign-in attempts: wait a few minutes")
    try:
        account = users.authenticate(db, username, password)
    except users.LoginRefused as refused:
        audit.record(db, actor=username[:64], action="login", target="/login", params={"reason": refused.reason},
                     outcome="refused")  # fmt: skip
        token = secrets.token_urlsafe(32)
        response = page(request, "login.html.j2", status_code=401, login_token=token, next=_safe_next(next),
                        message="Wrong username or password, or the account is locked or disabled.")  # fmt: skip
        _cookie(response, request, LOGIN_COOKIE, token, max_age=900, path="/login")
        return response
    audit.record(db, actor=account.username, action="login", target="/login")
    response = RedirectResponse(_safe_next(next), status_code=303)
    _cookie(response, request, SESSION_COOKIE, sessions.start(db, account), max_age=None)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, active: sessions.Active = Viewer) -> Response:
    sessions.end(request.app.state.db, request.cookies.get(SESSION_COOKIE), request.app.state.trusted)
    audit.record(request.app.state.db, actor=active.account.username, action="logout", target="/logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
