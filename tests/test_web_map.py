"""The map page and its JSON: GeoJSON layers (RFC 7946, bbox, caps, unknown names), a unit's and an
area's history, roles (viewers look, analysts download) and the audit trail."""

from __future__ import annotations

import itertools
import math
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safestreets.api import Workspace
from safestreets.api import layers as api_layers
from safestreets.api.accounts import add_user
from safestreets.web import create_app, settings_for

# Bbox around the demo city (it sits near 53.79 N, 1.55 W).
CITY = "-1.70,53.70,-1.40,53.90"


def demo_copy(demo_city: Path, to: Path) -> Path:
    """A copy of the demo city as the demo made it: other tests add forecast runs and plans to the shared
    one, and the map shows the latest of each by default."""
    shutil.copytree(demo_city, to)
    with Workspace(to) as ws:
        for table, key in (("forecasts", "run_id"), ("forecast_runs", "run_id"), ("plan_hotspots", "plan_id"),
                           ("plan_visits", "plan_id"), ("plan_runs", "plan_id")):  # fmt: skip
            ws.con.execute(f"DELETE FROM {table} WHERE {key} > 1")
    return to


@pytest.fixture(scope="module")
def city(demo_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_copy(demo_city, tmp_path_factory.mktemp("webmap") / "ws")


@pytest.fixture(scope="module")
def app(city: Path) -> Any:
    return create_app(settings_for(city))


def _client(app: Any, role: str) -> TestClient:
    _, password = add_user(app.state.db, f"map-{role}", role, actor="test")
    name = f"map-{role}"
    client = TestClient(app, base_url="https://testserver")
    form = client.get("/login").text
    token = re.search(r'name="login_token" value="([^"]+)"', form)
    assert token
    r = client.post("/login", data={"username": name, "password": password, "login_token": token[1]},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    return client


@pytest.fixture(scope="module")
def viewer(app: Any) -> Iterator[TestClient]:
    with _client(app, "viewer") as c:
        yield c


@pytest.fixture(scope="module")
def analyst(app: Any) -> Iterator[TestClient]:
    with _client(app, "analyst") as c:
        yield c


def _positions(geometry: dict[str, Any]) -> list[list[float]]:
    c = geometry["coordinates"]
    depth = {"Point": 0, "MultiPoint": 0, "LineString": 0, "Polygon": 1, "MultiPolygon": 2}[geometry["type"]]
    for _ in range(depth):
        c = [p for part in c for p in part]
    return [c] if geometry["type"] == "Point" else c


def _signed_area(ring: list[list[float]]) -> float:
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring)) / 2


def assert_rfc7946(data: dict[str, Any]) -> None:
    """WGS84 lon/lat within range, at most 7 decimals, shells anticlockwise, holes clockwise, no crs."""
    assert data["type"] == "FeatureCollection"
    assert "crs" not in data
    for f in data["features"]:
        assert f["type"] == "Feature" and isinstance(f["properties"], dict)
        g = f["geometry"]
        for lon, lat in _positions(g):
            assert -180 <= lon <= 180 and -90 <= lat <= 90
            for v in (lon, lat):
                assert round(v, 7) == v
        polys = (
            [g["coordinates"]]
            if g["type"] == "Polygon"
            else g["coordinates"]
            if g["type"] == "MultiPolygon"
            else []
        )
        for poly in polys:
            assert _signed_area(poly[0]) > 0
            for hole in poly[1:]:
                assert _signed_area(hole) < 0
    if data["features"]:
        w, s, e, n = data["bbox"]
        assert w <= e and s <= n


def test_page_is_a_viewer_page_without_inline_script_or_style(viewer: TestClient) -> None:
    r = viewer.get("/map")
    assert r.status_code == 200
    html = r.text
    assert 'src="/static/leaflet/leaflet.js"' in html and 'src="/static/app/map.js"' in html
    assert "style=" not in html and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert 'data-can-download="false"' in html
    assert "Central" in html  # the BCU filter lists BCUs by name
    assert viewer.get("/static/app/map.js").status_code == 200
    assert viewer.get("/static/app/map.css").status_code == 200


def test_signed_out_is_refused(app: Any) -> None:
    with TestClient(app, base_url="https://testserver") as anonymous:
        assert anonymous.get("/api/layers/areas").status_code == 401
        assert (
            anonymous.get("/map", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303
        )


def test_catalogue(viewer: TestClient) -> None:
    c = viewer.get("/api/layers").json()
    assert {b["code"] for b in c["bcus"]} == {"central", "east", "north-west", "south-west"}
    assert {"bcu", "borough", "lsoa"} <= set(c["area_kinds"])
    assert c["defaults"]["run_id"] == 1 and c["defaults"]["plan_id"] == 1
    assert c["defaults"]["source"] in c["sources"]
    assert "station" in c["place_kinds"]
    assert c["limits"] == {
        "max_features": api_layers.MAX_FEATURES,
        "max_bbox_degrees": api_layers.MAX_BBOX_DEGREES,
    }


@pytest.mark.parametrize(
    "url",
    [
        "/api/layers/areas?kind=borough",
        "/api/layers/areas?kind=lsoa&bcu=central",
        "/api/layers/areas?kind=bcu",
        "/api/layers/crime?target=violence&months=2023-10:2023-12",
        "/api/layers/crime?mode=points&target=robbery&months=2023-12&bcu=Central",
        "/api/layers/forecast",
        "/api/forecasts/1/geojson?top=0.25",
        "/api/layers/hotspots",
        "/api/layers/hubs?kind=station",
        "/api/layers/emerging?run_id=1",
    ],
)
def test_layers_are_rfc7946(viewer: TestClient, url: str) -> None:
    r = viewer.get(url + ("&" if "?" in url else "?") + f"bbox={CITY}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    data = r.json()
    assert_rfc7946(data)
    assert data["features"], url
    assert data["meta"]["count"] == len(data["features"])


def test_bbox_filters(viewer: TestClient) -> None:
    everything = viewer.get("/api/layers/areas?kind=lsoa").json()["features"]
    corner = viewer.get("/api/layers/areas?kind=lsoa&bbox=-1.62,53.75,-1.57,53.78").json()["features"]
    assert 0 < len(corner) < len(everything)
    nowhere = viewer.get("/api/layers/forecast?bbox=0.1,51.4,0.2,51.5").json()
    assert nowhere["features"] == [] and "bbox" not in nowhere


def test_bcu_filters(viewer: TestClient) -> None:
    spots = viewer.get("/api/layers/hotspots").json()["features"]
    central = viewer.get("/api/layers/hotspots?bcu=central").json()["features"]
    assert 0 < len(central) < len(spots)
    assert {f["properties"]["bcu"] for f in central} == {"central"}
    # numbered as the plan numbers them: 1..n over the whole plan, the BCU keeps its own numbers
    assert sorted(f["properties"]["hotspot"] for f in spots) == list(range(1, len(spots) + 1))
    assert {f["properties"]["hotspot"] for f in central} <= {f["properties"]["hotspot"] for f in spots}
    lsoas = viewer.get("/api/layers/areas?kind=lsoa&bcu=central").json()["features"]
    assert lsoas and {f["properties"]["bcu"] for f in lsoas} == {"central"}
    cells = viewer.get("/api/layers/forecast?bcu=east").json()["features"]
    assert cells and {f["properties"]["bcu"] for f in cells} == {"east"}


def test_forecast_bands_and_ranks(viewer: TestClient) -> None:
    data = viewer.get("/api/forecasts/1/geojson").json()
    props = [f["properties"] for f in data["features"]]
    assert [p["rank"] for p in props] == sorted(p["rank"] for p in props)
    assert props[0]["rank"] == 1 and props[0]["band"] == 1 and props[0]["of"] == data["meta"]["units"]
    assert {p["band"] for p in props} == {1, 2, 3, 4, 5}
    top = viewer.get("/api/forecasts/1/geojson?top=0.1").json()
    assert {f["properties"]["band"] for f in top["features"]} == {1, 2, 3}
    assert data["meta"]["model"] and data["meta"]["reason"]
    # the cell popup shows each cell's interval (map.js countRange) from these properties
    assert data["meta"]["intervals"]["level"] == 0.8
    assert all(p["lower"] <= p["upper"] for p in props if p["lower"] is not None) and props[0]["upper"] is not None
    assert "countRange(p, data.meta)" in viewer.get("/static/app/map.js").text


def test_forecast_cells_carry_their_interval(viewer: TestClient) -> None:
    data = viewer.get("/api/forecasts/1/geojson?top=0.05").json()
    props = [f["properties"] for f in data["features"]]
    assert props and all(p["lower"] is not None and p["lower"] <= p["upper"] for p in props)
    totals = data["meta"]["intervals"]["totals"]
    assert totals["city"]["lower"] <= totals["city"]["expected"] <= totals["city"]["upper"]


def test_crime_cells_match_the_forecast_grid(viewer: TestClient) -> None:
    cells = viewer.get("/api/layers/crime?target=violence&months=2023-01:2023-12").json()
    units = {f["id"] for f in viewer.get("/api/layers/forecast").json()["features"]}
    ids = {f["id"] for f in cells["features"]}
    assert len(ids & units) > 0.5 * len(ids)  # the same cell ids as the 250 m forecast grid
    assert cells["meta"]["events"] == sum(f["properties"]["events"] for f in cells["features"])


def test_months_without_data_are_said(viewer: TestClient) -> None:
    data = viewer.get("/api/layers/crime?months=2030-01").json()
    assert data["features"] == []
    assert any("missing data, not zero" in n for n in data["meta"]["notes"])


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/api/layers/areas?kind=ward", 400, "unknown area kind"),
        ("/api/layers/areas?kind=borugh", 400, "did you mean 'borough'"),
        ("/api/layers/areas?bcu=centrl", 400, "did you mean 'central'"),
        ("/api/layers/crime?bcu=nowhere", 400, "unknown BCU"),
        ("/api/layers/crime?mode=heat", 400, "unknown crime mode"),
        ("/api/layers/crime?target=murder", 400, "unknown target"),
        ("/api/layers/hubs?kind=airport", 400, "unknown place kind"),
        ("/api/forecasts/99/geojson", 404, "no forecast run 99"),
        ("/api/layers/hotspots?plan_id=42", 404, "no plan 42"),
        ("/api/layers/units/E1N1?run_id=1", 404, "has no unit"),
        ("/api/layers/areas/borough/XX", 404, "no borough area"),
        ("/api/layers/areas?bbox=-10,50,2,55", 400, "at most 2 degrees"),
        ("/api/layers/areas?bbox=1,2,3", 400, "four numbers"),
        ("/api/layers/areas?bbox=2,50,1,51", 400, "empty"),
        ("/api/layers/areas?bbox=-1.6,95,-1.5,96", 400, "outside"),
    ],
)
def test_bad_requests_are_explained(viewer: TestClient, url: str, status: int, words: str) -> None:
    r = viewer.get(url)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]


def test_too_many_features_is_refused_with_a_hint(
    app: Any, viewer: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from safestreets.web.cache import AnswerCache

    monkeypatch.setattr(api_layers, "MAX_FEATURES", 20)
    # The limit is changed under a running app: answers kept from earlier requests must not be served.
    kept, app.state.answers = app.state.answers, AnswerCache(tmp_path)
    try:
        r = viewer.get("/api/layers/crime?mode=points")
        assert r.status_code == 400
        assert "at most 20 features" in r.json()["error"] and "counts per cell" in r.json()["error"]
        assert viewer.get("/api/layers/forecast").status_code == 400
        assert viewer.get("/api/layers/areas?kind=borough").status_code == 200  # 8 boroughs
    finally:
        app.state.answers = kept


def test_unit_history_and_why(viewer: TestClient) -> None:
    top = viewer.get("/api/forecasts/1/geojson?top=0.01").json()["features"][0]["properties"]
    d = viewer.get(f"/api/layers/units/{top['unit_id']}?run_id=1").json()
    assert d["rank"] == 1 and d["of"] == top["of"] and d["band"] == 1
    assert d["run"]["model"] and d["run"]["reason"] in " ".join(d["why"])
    assert len(d["neighbours"]) == 8  # a grid cell inside the city: the eight around it
    assert all(n["rank"] > 1 for n in d["neighbours"])
    assert {n["direction"] for n in d["neighbours"]} == {"north", "north-east", "east", "south-east", "south",
                                                         "south-west", "west", "north-west"}  # fmt: skip
    series = d["history"]["series"]
    assert [s["period"] for s in series] == [f"2023-{m:02d}" for m in range(1, 13)]
    assert sum(s["events"] for s in series) > 0
    assert d["plan"] and d["plan"]["hotspot"] >= 1
    assert d["borough"] and d["bcu_name"]
    # the counts are the cell's own: the crime layer over all months agrees
    cells = viewer.get(
        f"/api/layers/crime?target=violence&months=2023-01:2023-12&source={d['history']['source']}"
    ).json()  # fmt: skip
    cell = next(f for f in cells["features"] if f["id"] == top["unit_id"])
    assert cell["properties"]["events"] == sum(s["events"] for s in series)


def test_unit_history_by_week_needs_times(viewer: TestClient) -> None:
    unit = viewer.get("/api/forecasts/1/geojson?top=0.01").json()["features"][0]["id"]
    r = viewer.get(f"/api/layers/units/{unit}?period=week&source=police.uk")
    assert r.status_code == 400 and "month" in r.json()["error"]
    weeks = viewer.get(f"/api/layers/units/{unit}?period=week&source=force-records").json()["history"][
        "series"
    ]
    assert len(weeks) >= 52 and weeks[0]["period"] <= "2023-01-02"


def test_area_history(viewer: TestClient, city: Path) -> None:
    d = viewer.get("/api/layers/areas/borough/SYN09000001").json()
    assert d["name"] == "Redford" and d["bcu"] == "central"
    assert d["forecast"]["units"] > 0 and d["forecast"]["best_rank"] >= 1
    total = sum(s["events"] for s in d["history"]["series"])
    with Workspace(city, read_only=True) as ws:
        (expected,) = ws.con.execute(
            "SELECT count(*) FROM events WHERE borough_code = 'SYN09000001' AND source = ? AND x IS NOT NULL "
            "AND crime_type IN ('Violence and sexual offences', 'Robbery')",
            [d["history"]["source"]],
        ).fetchone()
    assert total == expected


def test_gaps_are_null_not_zero(city: Path, tmp_path: Path) -> None:
    from safestreets.api import unit_history

    ws_path = tmp_path / "ws"
    shutil.copytree(city, ws_path)
    with Workspace(ws_path) as ws:
        ws.con.execute("DELETE FROM events WHERE source = 'police.uk' AND month = DATE '2023-06-01'")
    with Workspace(ws_path, read_only=True) as ws:
        d = unit_history.area_detail(ws, "bcu", "central", source="police.uk")
    june = next(s for s in d["history"]["series"] if s["period"] == "2023-06")
    assert june["events"] is None and june["harm"] is None
    assert any("2023-06" in n for n in d["history"]["notes"])


def test_viewers_look_and_analysts_download(viewer: TestClient, analyst: TestClient) -> None:
    r = viewer.get("/api/layers/hotspots?download=true")
    assert r.status_code == 403 and "analyst" in r.json()["error"]
    r = analyst.get("/api/layers/hotspots?download=true")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="plan1-hotspots.geojson"'
    assert 'data-can-download="true"' in analyst.get("/map").text


def test_views_are_audited(app: Any, viewer: TestClient) -> None:
    from safestreets.db import audit

    viewer.get("/api/layers/areas?kind=borough&bcu=east")
    viewer.get("/api/layers/units/E430000N432750?run_id=1")
    viewer.get("/api/layers/crime?download=true")
    entries = list(audit.entries(app.state.db, limit=20))
    seen = [(e["action"], e["target"], e["outcome"]) for e in entries]
    assert ("view", "/api/layers/areas", "ok") in seen
    assert ("view", "/api/layers/units/E430000N432750", "ok") in seen
    assert ("export", "/api/layers/crime", "denied") in seen


def test_openapi_lists_the_map_endpoints(viewer: TestClient) -> None:
    paths = viewer.get("/api/openapi.json").json()["paths"]
    for p in ("/api/layers", "/api/layers/areas", "/api/layers/crime", "/api/layers/forecast",
              "/api/forecasts/{run_id}/geojson", "/api/layers/hotspots", "/api/layers/hubs",
              "/api/layers/emerging", "/api/layers/units/{unit_id}", "/api/layers/areas/{kind}/{code}"):  # fmt: skip
        assert p in paths, p


def test_bbox_parsing() -> None:
    assert api_layers.parse_bbox(None) is None and api_layers.parse_bbox(" ") is None
    assert api_layers.parse_bbox("-1.6,53.7,-1.4,53.9") == (-1.6, 53.7, -1.4, 53.9)
    with pytest.raises(ValueError, match="four numbers"):
        api_layers.parse_bbox("nan,1,2,3")
    assert not math.isnan(api_layers.MAX_BBOX_DEGREES)


def test_basemap_from_settings(city: Path) -> None:
    """No tile server by default; a configured basemap URL reaches the page and the CSP allows its host."""
    import dataclasses

    settings = dataclasses.replace(
        settings_for(city), basemap_url="https://tiles.example.org/{z}/{x}/{y}.png"
    )
    app = create_app(settings)
    _, password = add_user(app.state.db, "map-basemap", "viewer", actor="test")
    with TestClient(app, base_url="https://testserver") as client:
        token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"username": "map-basemap", "password": password, "login_token": token[1]})
        r = client.get("/map")
    assert 'data-basemap="https://tiles.example.org/{z}/{x}/{y}.png"' in r.text
    assert "https://tiles.example.org" in r.headers["content-security-policy"]


def test_map_of_an_empty_workspace(tmp_path: Path) -> None:
    """Nothing loaded yet: the page still opens, layers it cannot show are off, the JSON says why."""
    Workspace.init(tmp_path / "ws").close()
    app = create_app(settings_for(tmp_path / "ws"))
    _, password = add_user(app.state.db, "map-empty", "viewer", actor="test")
    with TestClient(app, base_url="https://testserver") as client:
        token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"username": "map-empty", "password": password, "login_token": token[1]})
        page = client.get("/map")
        assert page.status_code == 200
        assert 'id="l-areas" disabled' in page.text and 'id="l-forecast" checked disabled' in page.text
        assert client.get("/api/layers").json()["bounds"] is None
        r = client.get("/api/layers/forecast")
        assert r.status_code == 404 and "safestreets forecast" in r.json()["error"]
        assert client.get("/api/layers/crime").status_code == 404
