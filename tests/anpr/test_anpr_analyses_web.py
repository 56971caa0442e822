"""ANPR analyses on the dashboard: JSON, map layers and the ANPR page's form. Each endpoint is refused without
a session and for a viewer, refused without a purpose and past the reach (unless authorised), writes every
query with its purpose to the audit trail, agrees with ``ws.anpr.analyse`` for the same window, answers
valid GeoJSON and is never stored by a browser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safestreets.api import Workspace, accounts
from safestreets.api.anpr import Anpr
from safestreets.db import audit
from safestreets.synthetic.anpr import AnprConfig, generate_anpr
from safestreets.web import create_app, settings_for
from web.web_support import BASE, HTML, Signed, sign_in

PURPOSE = "tasking: lines into the county towns"
KINDS = ("journeys", "flows", "county-lines", "co-travel")
LAYERS = ("flows", "county-lines", "co-travel")


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    mp = pytest.MonkeyPatch()
    mp.delenv("SAFESTREETS_ANPR_KEY", raising=False)
    mp.delenv("SAFESTREETS_DATABASE_URL", raising=False)
    tmp = tmp_path_factory.mktemp("anpranalysesweb")
    generate_anpr(tmp / "synth", AnprConfig(seed=0, reads=20_000, days=14))
    truth = json.loads((tmp / "synth" / "ground_truth.json").read_text("utf-8"))
    metro = ",".join(truth["metro_area_codes"])
    with Workspace.init(tmp / "ws") as ws:
        ws.anpr.load_cameras(tmp / "synth" / "cameras.csv", actor="t")
        for f in sorted((tmp / "synth" / "reads").glob("*.parquet")):
            ws.anpr.load(f, actor="t")
        first = ws.con.sql("SELECT min(read_at) FROM anpr_reads").fetchall()[0][0]
        since = first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        expected = {k: ws.anpr.analyse(k, actor="t", purpose=PURPOSE, since=since,
                                       **({"metro_areas": metro} if k == "county-lines" else {}))
                    for k in KINDS}  # fmt: skip
    app = create_app(settings_for(tmp / "ws"))
    made = {name: accounts.add_user(app.state.db, f"aa-{name}", role, actor="t")[0]
            for name, role in (("viewer", "viewer"), ("analyst", "analyst"), ("far", "analyst"))}  # fmt: skip
    signed = {name: sign_in(app, a) for name, a in made.items()}
    with Workspace(tmp / "ws", read_only=True) as ws:
        now = datetime.now(UTC)
        Anpr(ws, app.state.db).authorise("aa-far", reason="Op Orochi: a year of lines", reach_from=now - timedelta(days=200),
                                         expires_at=now + timedelta(days=1), actor="t")  # fmt: skip
    yield {"app": app, "signed": signed, "metro": metro, "since": since.date().isoformat(), "expected": expected}
    app.state.db.dispose()
    mp.undo()


def _urls(web: dict[str, Any], purpose: str = PURPOSE) -> list[str]:
    q = f"purpose={purpose}&since={web['since']}&metro={web['metro']}"
    return ([f"/api/anpr/analyses/{k}?{q}" for k in KINDS] + [f"/api/layers/anpr/{k}?{q}" for k in LAYERS]
            + ["/api/layers/anpr/cameras", f"/anpr/analyses?kind=flows&{q}"])  # fmt: skip


def test_refused_without_a_session_and_for_a_viewer(web: dict[str, Any]) -> None:
    anonymous = TestClient(web["app"], base_url=BASE, follow_redirects=False)
    for url in _urls(web):
        headers = {} if url.startswith("/api/") else HTML
        r = anonymous.get(url, headers=headers)
        assert r.status_code == (401 if url.startswith("/api/") else 303), url
        assert web["signed"]["viewer"].get(url, headers=headers).status_code == 403, url
        assert web["signed"]["analyst"].get(url, headers=headers).status_code == 200, url


def test_refused_without_a_purpose(web: dict[str, Any]) -> None:
    analyst: Signed = web["signed"]["analyst"]
    for url in _urls(web, purpose=""):
        if url.endswith("/cameras"):
            continue  # where cameras stand is not a query of reads
        r = analyst.get(url)
        assert r.status_code == 403, url
        if url.startswith("/api/"):
            assert "purpose" in r.json()["error"]
    for url in ("/api/anpr/analyses/flows?purpose=abc", "/api/anpr/analyses/nonsense?purpose=" + PURPOSE,
                "/api/layers/anpr/journeys?purpose=" + PURPOSE, "/api/anpr/analyses/flows?since=yesterday&purpose=" + PURPOSE,
                "/api/anpr/analyses/flows?limit=0&purpose=" + PURPOSE, "/api/anpr/analyses/flows?since=0001-01-01T00:00+14:00&purpose=" + PURPOSE):  # fmt: skip
        r = analyst.get(url)
        assert 400 <= r.status_code < 500 and "error" in r.json(), url


def test_reach_needs_an_authorisation(web: dict[str, Any]) -> None:
    far = (datetime.now(UTC) - timedelta(days=120)).date().isoformat()
    for url in (f"/api/anpr/analyses/flows?purpose={PURPOSE}&since={far}", f"/api/layers/anpr/flows?purpose={PURPOSE}&since={far}"):  # fmt: skip
        assert web["signed"]["analyst"].get(url).status_code == 403
        assert web["signed"]["far"].get(url).status_code == 200


def test_every_query_is_audited_with_its_purpose(web: dict[str, Any]) -> None:
    purpose = "audit check: flows into Dunmere"
    for url in (f"/api/anpr/analyses/flows?purpose={purpose}", f"/api/layers/anpr/co-travel?purpose={purpose}",
                f"/anpr/analyses?kind=journeys&purpose={purpose}"):  # fmt: skip
        assert web["signed"]["analyst"].get(url).status_code == 200
    trail = [e for e in audit.entries(web["app"].state.db) if e["actor"] == "aa-analyst"
             and e["target"].startswith("anpr.analysis:") and json.loads(e["params"] or "{}").get("purpose") == purpose]  # fmt: skip
    assert {e["target"] for e in trail} == {"anpr.analysis:flows", "anpr.analysis:co-travel", "anpr.analysis:journeys"}


def test_results_agree_with_the_api(web: dict[str, Any]) -> None:
    analyst: Signed = web["signed"]["analyst"]
    for kind in KINDS:
        r = analyst.get(f"/api/anpr/analyses/{kind}?purpose={PURPOSE}&since={web['since']}&metro={web['metro']}&limit=5000")
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        want = web["expected"][kind]
        assert body["columns"] == want.table.column_names
        assert body["total"] == want.table.num_rows == len(body["rows"]) > 0
        assert body["engine"] == "duckdb" and body["window"]["since"].startswith(web["since"])
        key = body["columns"][:2]
        got = sorted(tuple(row[c] for c in key) for row in body["rows"])
        assert got == sorted(tuple(row[c] for c in key) for row in want.table.select(key).to_pylist())
        if kind == "county-lines":
            flagged = {row["vehicle"] for row in body["rows"] if row["flagged"]}
            assert flagged and body["evidence"] and {e["vehicle"] for e in body["evidence"]} <= flagged
        else:
            assert body["evidence"] is None
        assert all(len(v) == 32 for row in body["rows"] for c, v in row.items() if c in ("vehicle", "vehicle_a", "vehicle_b"))
    small = analyst.get(f"/api/anpr/analyses/journeys?purpose={PURPOSE}&limit=3").json()
    assert len(small["rows"]) == 3 and small["total"] > 3


def _valid_geojson(data: dict[str, Any]) -> None:
    assert data["type"] == "FeatureCollection"

    def points(coords: Any) -> Iterator[list[float]]:
        if coords and isinstance(coords[0], (int, float)):
            yield coords
        else:
            for c in coords:
                yield from points(c)

    for f in data["features"]:
        assert f["type"] == "Feature" and f["geometry"]["type"] in {"Point", "LineString"}
        for lon, lat in points(f["geometry"]["coordinates"]):
            assert -180 <= lon <= 180 and -90 <= lat <= 90


def test_layers_are_geojson(web: dict[str, Any]) -> None:
    analyst: Signed = web["signed"]["analyst"]
    q = f"purpose={PURPOSE}&since={web['since']}&metro={web['metro']}"
    cams = analyst.get("/api/layers/anpr/cameras")
    assert cams.headers["content-type"].startswith("application/geo+json")
    assert cams.headers["cache-control"] == "no-store"
    _valid_geojson(cams.json())
    assert len(cams.json()["features"]) == 90
    for kind in LAYERS:
        r = analyst.get(f"/api/layers/anpr/{kind}?{q}")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        data = r.json()
        _valid_geojson(data)
        assert data["features"], kind
    flows = analyst.get(f"/api/layers/anpr/flows?{q}").json()
    assert sum(f["properties"]["trips"] for f in flows["features"]) == sum(web["expected"]["flows"].table["trips"].to_pylist())
    assert {f["geometry"]["type"] for f in flows["features"]} == {"Point", "LineString"}
    lines = analyst.get(f"/api/layers/anpr/county-lines?{q}").json()
    flagged = {r["vehicle"] for r in web["expected"]["county-lines"].flagged().to_pylist()}
    assert {f["properties"]["vehicle"] for f in lines["features"]} == flagged
    assert all(f["properties"]["score"] >= 60 and f["properties"]["mean_dwell_min"] > 0 for f in lines["features"])
    co = analyst.get(f"/api/layers/anpr/co-travel?{q}").json()
    assert all(f["properties"]["co_reads"] >= f["properties"]["pairs"] >= 1 for f in co["features"])


def test_the_page_shows_the_table_and_the_evidence(web: dict[str, Any]) -> None:
    analyst: Signed = web["signed"]["analyst"]
    assert 'action="/anpr/analyses"' in analyst.get("/anpr", headers=HTML).text
    page = analyst.get(f"/anpr/analyses?kind=county-lines&purpose={PURPOSE}&since={web['since']}&metro={web['metro']}",
                       headers=HTML)  # fmt: skip
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "Evidence" in page.text and "<script>" not in page.text
    flagged = web["expected"]["county-lines"].flagged()["vehicle"].to_pylist()
    assert flagged[0] in page.text
    refused = analyst.get("/anpr/analyses?kind=flows&purpose=", headers=HTML)
    assert refused.status_code == 403 and "purpose" in refused.text


def test_the_map_section_is_for_analysts(web: dict[str, Any]) -> None:
    assert 'id="anpr-layers"' in web["signed"]["analyst"].get("/map", headers=HTML).text
    assert 'id="anpr-layers"' not in web["signed"]["viewer"].get("/map", headers=HTML).text


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_map_section_in_a_browser(web: dict[str, Any]) -> None:
    """Chromium on the served app: nothing loads before a purpose; then the layers draw, with the purpose in
    each request, no console error and no CSP refusal."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's chromium is not at /usr/bin/chromium (apt-get install chromium)")
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(web["app"], host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    token = web["signed"]["analyst"].client.cookies.get("ss_session")
    problems: list[str] = []
    requests: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=["--headless=new", "--no-sandbox",
                                                                              "--disable-gpu"])  # fmt: skip
            context = browser.new_context(base_url=url)
            context.add_cookies([{"name": "ss_session", "value": token, "url": url}])
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            context.on("request", lambda r: requests.append(r.url))
            page.goto("/map")
            page.check("#anpr-layers input[value=county-lines]")
            page.check("#anpr-layers input[value=co-travel]")
            page.click("#anpr-layers button[type=submit]")  # the form is not sent without a purpose
            page.wait_for_timeout(300)
            assert page.eval_on_selector("#anpr-purpose", "e => e.validity.valueMissing")
            assert not any("/api/layers/anpr/county-lines" in r for r in requests)
            page.fill("#anpr-purpose", PURPOSE)
            page.fill("#anpr-since", web["since"])
            page.fill("#anpr-metro", web["metro"])
            page.click("#anpr-layers button[type=submit]")
            page.wait_for_function("() => document.querySelector('#anpr-status').innerText.includes('Shown')",
                                   timeout=30_000)  # fmt: skip
            status = page.inner_text("#anpr-status")
            assert "cameras: 90" in status and "county-lines:" in status and "co-travel:" in status, status
            assert page.locator(".leaflet-overlay-pane path").count() > 90
            shots = Path(__file__).parents[1] / "artifacts" / "browser"  # ignored by git: for a person to look at
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "anpr-map.png"), full_page=True)
            sent = [r for r in requests if "/api/layers/anpr/county-lines" in r]
            assert sent and all("purpose=tasking" in r for r in sent)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not [m for m in problems if "favicon" not in m], problems
