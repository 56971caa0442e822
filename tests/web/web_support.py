"""Helpers for the dashboard tests: signing in without the login form, and every endpoint with the role it
needs (the access tests walk this list, so a new endpoint belongs here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from safestreets.db import sessions
from safestreets.db.users import Account

ROLES = ("viewer", "analyst", "admin")
BASE = "https://testserver"  # the session cookie is Secure
HTML = {"accept": "text/html"}


@dataclass(frozen=True)
class Built:
    """The test workspace and what the fixture added to it (the demo's own run and plan are 1)."""

    path: Path
    run: int  # a last-period forecast: the latest run, with emerging hot spots computed on it
    plan: int  # a plan from it, the latest, whose patrol cards are the ones in outputs


@dataclass
class Signed:
    """A client signed in as one account, with the CSRF token its session's forms carry."""

    client: TestClient
    account: Account
    csrf: str

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.client.get(url, **kwargs)

    def post(self, url: str, *, csrf: bool = True, **kwargs: Any) -> Response:
        headers = {**({"X-CSRF-Token": self.csrf} if csrf else {}), **kwargs.pop("headers", {})}
        return self.client.post(url, headers=headers, **kwargs)


def sign_in(app: FastAPI, account: Account) -> Signed:
    """A session started in the database directly: signing in through the form counts towards the login
    rate limit, which the login tests exercise on their own."""
    db = app.state.db
    token = sessions.start(db, account)
    active = sessions.resume(db, token)
    assert active is not None
    client = TestClient(app, base_url=BASE, follow_redirects=False)
    client.cookies.set("ss_session", token)
    return Signed(client, account, active.csrf_token)


def form_token(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


@dataclass(frozen=True)
class Endpoint:
    method: str
    url: str  # "{user}": an account made for the call; "{plan}": the plan whose patrol cards are in outputs
    role: str
    status: int = 200  # for the right role

    @property
    def api(self) -> bool:
        return self.url.startswith("/api/")

    @property
    def form(self) -> bool:
        return self.method == "POST" and not self.api


#: Every page and JSON endpoint of the page families, with the weakest role that may use it.
ENDPOINTS = (
    Endpoint("GET", "/", "viewer"),
    Endpoint("GET", "/api/overview", "viewer"),
    Endpoint("GET", "/forecasts", "viewer"),
    Endpoint("GET", "/forecasts/compare", "viewer"),
    Endpoint("GET", "/forecasts/1", "viewer"),
    Endpoint("GET", "/api/forecasts", "viewer"),
    Endpoint("GET", "/api/forecasts/compare", "viewer"),
    Endpoint("GET", "/api/forecasts/1", "viewer"),
    Endpoint("GET", "/plans", "viewer"),
    Endpoint("GET", "/plans/1", "viewer"),
    Endpoint("GET", "/api/plans", "viewer"),
    Endpoint("GET", "/api/plans/1", "viewer"),
    Endpoint("GET", "/api/plans/1/visits", "viewer"),
    Endpoint("GET", "/api/plans/{plan}/cards.pdf", "analyst"),
    Endpoint("GET", "/hubs", "viewer"),
    Endpoint("GET", "/api/hubs", "viewer"),
    Endpoint("GET", "/impact", "viewer"),
    Endpoint("GET", "/api/impact", "viewer"),
    Endpoint("GET", "/api/impact/feedback", "viewer"),
    Endpoint("GET", "/briefings", "viewer"),
    Endpoint("GET", "/briefings/2024-01-01", "viewer"),
    Endpoint("GET", "/api/briefings", "viewer"),
    Endpoint("GET", "/api/briefings/2024-01-01", "viewer"),
    Endpoint("GET", "/api/briefings/2024-01-01.pdf", "analyst"),
    Endpoint("GET", "/status", "viewer"),
    Endpoint("GET", "/status/loads", "viewer"),
    Endpoint("GET", "/status/loads/1", "viewer"),
    Endpoint("GET", "/api/status", "viewer"),
    Endpoint("GET", "/api/loads", "viewer"),
    Endpoint("GET", "/api/loads/1", "viewer"),
    Endpoint("GET", "/api/loads/1/rejects", "analyst"),
    Endpoint("GET", "/intel", "analyst"),
    Endpoint("GET", "/api/intel/reports", "analyst"),
    Endpoint("GET", "/api/intel/counts", "analyst"),
    Endpoint("GET", "/api/intel/layer", "analyst"),
    Endpoint("GET", "/anpr", "analyst"),
    Endpoint("GET", "/api/anpr/alerts", "analyst"),
    Endpoint("GET", "/api/anpr/hotlist", "analyst"),
    Endpoint("GET", "/anpr/analyses?kind=flows&purpose=web+access+check", "analyst"),
    Endpoint("GET", "/api/anpr/analyses/flows?purpose=web+access+check", "analyst"),
    Endpoint("GET", "/api/layers/anpr/cameras", "analyst"),
    Endpoint("GET", "/api/layers/anpr/flows?purpose=web+access+check", "analyst"),
    Endpoint("GET", "/accountability/stopsearch", "viewer"),
    Endpoint("GET", "/api/stopsearch", "viewer"),
    Endpoint("GET", "/accountability/operations", "viewer"),
    Endpoint("GET", "/api/operations", "viewer"),
    Endpoint("GET", "/accountability/s60", "viewer"),
    Endpoint("GET", "/api/s60", "viewer"),
    Endpoint("GET", "/api/layers/accountability", "viewer"),
    Endpoint("GET", "/admin/users", "admin"),
    Endpoint("GET", "/admin/audit", "admin"),
    Endpoint("GET", "/admin/audit/verify", "admin"),
    Endpoint("GET", "/api/admin/users", "admin"),
    Endpoint("GET", "/api/admin/audit", "admin"),
    Endpoint("GET", "/api/admin/audit.csv", "admin"),
    Endpoint("GET", "/api/admin/audit/verify", "admin"),
    Endpoint("POST", "/api/admin/users", "admin", 201),
    Endpoint("POST", "/api/admin/users/{user}/disable", "admin"),
    Endpoint("POST", "/api/admin/users/{user}/reset", "admin"),
    Endpoint("POST", "/admin/users", "admin"),
    Endpoint("POST", "/admin/users/{user}/disable", "admin"),
    Endpoint("POST", "/admin/users/{user}/reset", "admin"),
)
