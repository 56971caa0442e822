"""Who may use what: every endpoint refused without a session (401 for the API, a redirect to the login
page for pages), refused for each role too weak for it (403), working for the right role and the ones
above; CSRF refused on every state-changing call; security headers on every answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from safestreets.api import accounts
from safestreets.db.users import Account
from web.web_support import ENDPOINTS, HTML, ROLES, Built, Endpoint, Signed

IDS = [f"{e.method} {e.url}" for e in ENDPOINTS]


@dataclass
class Needs:
    """What calls need beyond the endpoint: a way to make target accounts, the plan with patrol cards."""

    make: Callable[[str], tuple[Account, str]]
    plan: int


@pytest.fixture
def needs(fresh_account: Callable[[str], tuple[Account, str]], built: Built) -> Needs:
    return Needs(fresh_account, built.plan)


def call(client: TestClient | Signed, e: Endpoint, needs: Needs, *, csrf: bool = True) -> Response:
    """One call of an endpoint, with what it needs: a fresh target account, a form or JSON body."""
    make = needs.make
    url = e.url.replace("{plan}", str(needs.plan))
    url = url.replace("{user}", make("viewer")[0].username) if "{user}" in url else url
    headers = {} if e.api else dict(HTML)
    if e.method == "GET":
        return client.get(url, headers=headers)
    body: dict[str, object] = {}
    if e.url == "/api/admin/users":
        body = {"json": {"username": f"new-{make('viewer')[0].username}", "role": "analyst"}}
    elif e.url == "/admin/users":
        body = {"data": {"username": f"new-{make('viewer')[0].username}", "role": "viewer"}}
    elif e.form:
        body = {"data": {}}
    if isinstance(client, Signed):
        if e.form and csrf:  # a browser form sends the token as a field
            body["data"] = {**body.get("data", {}), "csrf_token": client.csrf}  # type: ignore[dict-item]
            return client.post(url, csrf=False, headers=headers, **body)  # type: ignore[arg-type]
        return client.post(url, csrf=csrf, headers=headers, **body)  # type: ignore[arg-type]
    return client.post(url, headers=headers, **body)  # type: ignore[arg-type]


@pytest.mark.parametrize("e", ENDPOINTS, ids=IDS)
def test_refused_without_a_session(anonymous: TestClient, e: Endpoint, needs: Needs) -> None:
    r = call(anonymous, e, needs)
    if e.api:
        assert r.status_code == 401, r.text
        assert r.json()["status"] == 401
    else:
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("e", ENDPOINTS, ids=IDS)
def test_refused_for_weaker_roles(as_role: dict[str, Signed], e: Endpoint, needs: Needs) -> None:
    for role in ROLES[: ROLES.index(e.role)]:
        r = call(as_role[role], e, needs)
        assert r.status_code == 403, (role, r.text[:300])


@pytest.mark.parametrize("e", ENDPOINTS, ids=IDS)
def test_works_for_the_right_roles(as_role: dict[str, Signed], e: Endpoint, needs: Needs) -> None:
    for role in ROLES[ROLES.index(e.role) :]:
        r = call(as_role[role], e, needs)
        assert r.status_code == e.status, (role, r.text[:500])
        if e.api and r.headers["content-type"].startswith("application/json"):
            r.json()
        elif not e.api:
            assert r.headers["content-type"].startswith("text/html")


STATE_CHANGING = [e for e in ENDPOINTS if e.method != "GET"]


@pytest.mark.parametrize("e", STATE_CHANGING, ids=[f"{e.method} {e.url}" for e in STATE_CHANGING])
def test_csrf_refused_without_the_token(
    app: FastAPI, as_role: dict[str, Signed], e: Endpoint, needs: Needs
) -> None:
    before = {(a.username, a.disabled) for a in accounts.list_users(app.state.db)}
    r = call(as_role["admin"], e, needs, csrf=False)
    assert r.status_code == 403, r.text[:300]
    assert "CSRF" in r.text
    after = {(a.username, a.disabled) for a in accounts.list_users(app.state.db)}
    # Only the accounts the call itself made for its target exist now; none was added or disabled by it.
    assert {u for u, _ in after - before} == {u for u, _ in after - before if u.startswith("fresh-")}
    assert not [u for u, disabled in after - before if disabled]


def test_csrf_refused_with_a_wrong_token(as_role: dict[str, Signed], fresh_account: Callable) -> None:
    target = fresh_account("viewer")[0].username
    r = as_role["admin"].client.post(f"/api/admin/users/{target}/disable", headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    r = as_role["admin"].client.post(
        f"/admin/users/{target}/disable", data={"csrf_token": "wrong"}, headers=HTML
    )
    assert r.status_code == 403


def test_logout_needs_the_token(app: FastAPI, fresh_account: Callable) -> None:
    from web.web_support import sign_in

    signed = sign_in(app, fresh_account("viewer")[0])
    assert signed.client.post("/logout", headers=HTML).status_code == 403
    r = signed.client.post("/logout", data={"csrf_token": signed.csrf}, headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert signed.client.get("/api/plans").status_code == 401


SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


def check_headers(r: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, (name, r.request.url)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp or ("sandbox" in csp and "script" not in csp), csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp or r.request.url.path.startswith("/briefings/"), csp
    path = r.request.url.path
    if path.startswith("/static/") or path == "/favicon.ico":
        assert r.headers["cache-control"] == "public, max-age=3600"
    elif r.headers["cache-control"] != "no-store":
        # Only the answers kept per snapshot (map layers, the overview's data): revalidated by ETag each
        # time, never kept by a shared cache, never an export.
        assert r.headers["cache-control"] == "private, no-cache" and r.headers.get("etag"), r.headers
        assert path == "/api/overview" or path.startswith(("/api/layers/", "/api/forecasts/")), path
        assert "download=true" not in str(r.request.url)


@pytest.mark.parametrize("e", ENDPOINTS, ids=IDS)
def test_security_headers_on_every_answer(
    anonymous: TestClient, as_role: dict[str, Signed], e: Endpoint, needs: Needs
) -> None:
    check_headers(call(anonymous, e, needs))  # refused
    check_headers(call(as_role["viewer"], e, needs))  # shown or forbidden
    check_headers(call(as_role["admin"], e, needs))


def test_security_headers_on_errors_and_static(as_role: dict[str, Signed], anonymous: TestClient) -> None:
    admin = as_role["admin"].client
    for r in (
        admin.get("/api/forecasts/999"),
        admin.get("/forecasts/999", headers=HTML),
        admin.get("/api/forecasts/x"),
        admin.get("/no/such/page", headers=HTML),
        anonymous.get("/static/app/app.css"),
        anonymous.get("/login", headers=HTML),
    ):
        check_headers(r)


def test_the_briefing_runs_no_script(as_role: dict[str, Signed]) -> None:
    r = as_role["viewer"].client.get("/briefings/2024-01-01", headers=HTML)
    csp = r.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'") and "sandbox" in csp and "script-src" not in csp
    assert "<script" not in r.text.lower()
    assert r.headers["content-disposition"].startswith("inline")


def test_pages_carry_no_inline_script_or_style(as_role: dict[str, Signed]) -> None:
    """The dashboard's own pages keep to its policy: script and style only from files."""
    import re

    for e in ENDPOINTS:
        if e.api or e.method != "GET" or e.url.startswith("/briefings/"):
            continue
        html = as_role["admin"].client.get(e.url, headers=HTML).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), e.url
        assert "<style" not in html and not re.search(r"\sstyle=", html), e.url
        assert not re.search(r"\son[a-z]+=", html), e.url
