"""The ANPR dashboard: every endpoint refused without a session and for weaker roles, working for the right
ones; a posted batch raises its alerts within the request and the page's JSON shows them; reveals are admin
only and audited; the page runs no inline script."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from anpr.conftest import CAMERAS, NOW, when, write_reads
from safestreets.api import Workspace, accounts
from safestreets.db import audit
from safestreets.web import create_app, settings_for
from web.web_support import BASE, HTML, ROLES, Signed, sign_in

REASON = "stolen vehicle, crime ref 01/2345/26"
#: (method, url, weakest role, status for it)
ENDPOINTS = (
    ("GET", "/anpr", "analyst", 200),
    ("GET", "/api/anpr/alerts", "analyst", 200),
    ("GET", "/api/anpr/hotlist", "analyst", 200),
    ("GET", "/api/anpr/vehicles/{vehicle}/reads?purpose=robbery+enquiry", "analyst", 200),
    ("POST", "/api/anpr/reads", "analyst", 200),
    ("POST", "/api/anpr/alerts/1/ack", "analyst", 200),
    ("POST", "/anpr/hotlist", "analyst", 303),
    ("POST", "/anpr/alerts/1/ack", "analyst", 303),
    ("POST", "/anpr/reveal", "admin", 200),
)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, dict[str, Signed], str]]:
    mp = pytest.MonkeyPatch()
    mp.delenv("SAFESTREETS_ANPR_KEY", raising=False)
    mp.delenv("SAFESTREETS_DATABASE_URL", raising=False)
    tmp = tmp_path_factory.mktemp("anprweb")
    with Workspace.init(tmp / "ws") as ws:
        (tmp / "cams.csv").write_text(CAMERAS, "utf-8")
        ws.anpr.load_cameras(tmp / "cams.csv", actor="t")
        entry = ws.anpr.hotlist_add("AB12CDE", reason=REASON, source="PNC", expires_at=NOW + timedelta(days=3),
                                    actor="t")  # fmt: skip
        ws.anpr.load(write_reads(tmp / "r.csv", [("AB12CDE", when(30), "C1", "N", 0.9)]), actor="t")
    app = create_app(settings_for(tmp / "ws"))
    signed = {role: sign_in(app, accounts.add_user(app.state.db, f"anpr-{role}", role, actor="t")[0])
              for role in ROLES}  # fmt: skip
    yield app, signed, entry.vehicle
    app.state.db.dispose()
    mp.undo()


def _call(client: TestClient | Signed, method: str, url: str, vehicle: str, *, csrf: bool = True):  # type: ignore[no-untyped-def]
    url = url.replace("{vehicle}", vehicle)
    api = url.startswith("/api/")
    headers = {} if api else dict(HTML)
    if method == "GET":
        return client.get(url, headers=headers)
    kwargs: dict = {}
    if url == "/api/anpr/reads":
        kwargs = {"content": json.dumps([{"plate": "ZZ99ZZZ", "read_at": when(1).isoformat(), "camera_id": "C2"}]),
                  "headers": {"content-type": "application/json"}}  # fmt: skip
    elif url == "/anpr/hotlist":
        kwargs = {"data": {"plate": "XY12XYZ", "reason": REASON, "source": "local intelligence 77",
                           "expires": (NOW + timedelta(days=2)).date().isoformat()}}  # fmt: skip
    elif url == "/anpr/reveal":
        kwargs = {"data": {"entry": "1", "reason": "confirm for the stop record"}}
    elif not api:
        kwargs = {"data": {}}
    if isinstance(client, Signed):
        if not api and csrf:
            kwargs["data"] = {**kwargs.get("data", {}), "csrf_token": client.csrf}
            return client.post(url, csrf=False, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)
        return client.post(url, csrf=csrf, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)
    return client.post(url, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)


@pytest.mark.parametrize(("method", "url", "role", "status"), ENDPOINTS)
def test_each_endpoint_needs_a_session_and_its_role(web, method: str, url: str, role: str, status: int) -> None:  # type: ignore[no-untyped-def]
    app, signed, vehicle = web
    anonymous = TestClient(app, base_url=BASE, follow_redirects=False)
    r = _call(anonymous, method, url, vehicle)
    assert r.status_code in ((401,) if url.startswith("/api/") else (303, 401, 403)), r.text
    for name in ROLES:
        r = _call(signed[name], method, url, vehicle)
        if ROLES.index(name) < ROLES.index(role):
            assert r.status_code == 403, (name, r.text)
        else:
            assert r.status_code == status, (name, r.text)
            assert "script-src 'self'" in r.headers["content-security-policy"] or "default-src 'self'" in r.headers[
                "content-security-policy"]  # fmt: skip
    if method == "POST":
        assert _call(signed["admin"], method, url, vehicle, csrf=False).status_code == 403


def test_a_posted_batch_raises_its_alert_at_once_and_the_json_shows_it(web) -> None:  # type: ignore[no-untyped-def]
    app, signed, vehicle = web
    ana = signed["analyst"]
    before = ana.get("/api/anpr/alerts").json()
    top = max((a["id"] for a in before), default=0)
    body = f"plate,read_at,camera_id,direction,confidence\nab12 cde,{when(0.5).isoformat()},C3,E,0.95\n" \
           f"NOT-A-PLATE,{when(0.5).isoformat()},C3,E,0.95\nQQ11QQQ,{when(0.5).isoformat()},C9,E,0.95\n"
    r = ana.post("/api/anpr/reads", content=body, headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["received"], got["accepted"], got["alerts"]) == (3, 1, 1)
    assert [x["field"] for x in got["rejected"]] == ["plate", "camera_id"]
    assert got["alert_latency_ms"] is not None and got["alert_latency_ms"] >= 0
    new = ana.get(f"/api/anpr/alerts?after={top}").json()
    assert [(a["vehicle"], a["camera_id"]) for a in new] == [(vehicle, "C3")]
    assert "AB12CDE" not in r.text + json.dumps(new)
    staged = list((settings_for_root(app) / "anpr" / "inbox").glob("*.parquet"))
    assert staged  # waiting for 'anpr watch' to store them
    assert ana.post("/api/anpr/reads", content=b"{", headers={"content-type": "application/json"}).status_code == 400


def settings_for_root(app: FastAPI) -> Path:
    return Path(app.state.settings.workspace)


def test_the_page_polls_without_inline_script_and_reveals_are_audited(web) -> None:  # type: ignore[no-untyped-def]
    app, signed, _ = web
    page = signed["analyst"].get("/anpr", headers=HTML).text
    assert '<script src="/static/app/anpr.js"' in page and "<script>" not in page and "onclick" not in page
    assert "Reveal a plate" not in page  # analysts do not get the form
    assert "Reveal a plate" in signed["admin"].get("/anpr", headers=HTML).text
    assert signed["admin"].get("/static/app/anpr.js").status_code == 200
    r = _call(signed["admin"], "POST", "/anpr/reveal", "")
    assert "AB12CDE" in r.text
    r = signed["admin"].post("/anpr/reveal", csrf=False, headers=HTML,
                             data={"entry": "1", "reason": "", "csrf_token": signed["admin"].csrf})  # fmt: skip
    assert r.status_code == 403
    reveals = [e for e in audit.entries(app.state.db) if e["action"] == "reveal"]
    assert reveals and reveals[0]["outcome"] == "denied" and any(e["outcome"] == "ok" for e in reveals)
    assert all(e["actor"] == "anpr-admin" for e in reveals)


def test_a_query_past_the_reach_is_refused(web) -> None:  # type: ignore[no-untyped-def]
    _, signed, vehicle = web
    r = signed["analyst"].get(f"/api/anpr/vehicles/{vehicle}/reads?purpose=robbery+enquiry&since=2026-01-01")
    assert r.status_code == 403 and "reach" in r.text
    r = signed["analyst"].get(f"/api/anpr/vehicles/{vehicle}/reads")
    assert r.status_code == 403 and "purpose" in r.text
