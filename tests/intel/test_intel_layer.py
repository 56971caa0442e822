"""Counts as a map layer and a briefing section: LSOA polygons loaded into a small workspace, reports
triaged into them from their map positions, and the layer, the page's map and the section read back."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from intel.intel_support import lsoa_file
from safestreets.api import Workspace
from safestreets.api import intel as api
from safestreets.intel import codename, keys, records
from safestreets.report.intel_section import community_section
from safestreets.web.intel_map import choropleth


def test_layer_page_map_and_briefing_section(ws: Workspace, team_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws.load_areas(
        lsoa_file(tmp_path / "lsoa.geojson"), kind="lsoa", code_field="LSOA21CD", name_field="LSOA21NM"
    )
    team = keys.load_public(ws.root / "intel" / "team.pub")
    today = date.today()
    for n in range(4):  # four in the first LSOA, one in the second
        rid = records.store_report(ws.db, team, codename.derive(codename.new_codename()),
                                   {"what": f"report {n}", "point": [51.513, -0.095]}, [], danger_now=False,
                                   today=today)  # fmt: skip
        ws.intel_triage(team_key, rid, actor="a1")
    rid = records.store_report(ws.db, team, codename.derive(codename.new_codename()),
                               {"what": "one more", "point": [51.513, -0.085]}, [], danger_now=False, today=today)  # fmt: skip
    row = ws.intel_triage(team_key, rid, actor="a1")
    assert (row["area_code"], row["area_kind"]) == ("E01000001", "lsoa")
    layer = api.counts_geojson(ws.db, ws.con, ws.crs, every_area=True, actor="a1")
    props = {f["id"]: f["properties"] for f in layer["features"]}
    assert props["E01000000"]["reports"] == 4 and props["E01000001"]["suppressed"]
    assert props["E01000002"]["reports"] == 0 and len(props) == 4
    assert "report 0" not in json.dumps(layer)
    svg = choropleth(layer)
    assert svg.startswith("<svg") and svg.count("<path") == 4 and "fewer than 3" in svg
    monday = records.monday(today) + timedelta(weeks=1)
    section = community_section(records.counts(ws.db), monday)
    assert section is not None and section["total"] == 5
    assert section["areas"] == [{"area": "E01000000", "reports": 4}] and section["suppressed_areas"] == 1
    assert community_section([], monday) is None


def test_a_place_picked_on_the_map_without_script(ws: Workspace, team_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from safestreets.db import database_url
    from safestreets.intake import IntakeSettings, create_app

    ws.load_areas(
        lsoa_file(tmp_path / "lsoa.geojson"), kind="lsoa", code_field="LSOA21CD", name_field="LSOA21NM"
    )
    made = ws.intel_pick_map(tmp_path / "pick" / "map.svg")
    assert made.svg.read_text().startswith("<svg") and made.width == 320 and made.height > 100
    lat, lon = made.place(made.width / 4, made.height * 3 / 4)  # inside the south-west LSOA
    assert 51.510 < lat < 51.516 and -0.100 < lon < -0.090
    settings = IntakeSettings(database_url=database_url(ws.root), public_key=ws.root / "intel" / "team.pub",
                              pick_map=made.svg)  # fmt: skip
    with TestClient(create_app(settings)) as c:
        assert 'href="/pick"' in c.get("/").text
        page = c.get("/pick").text
        assert 'type="image"' in page and "<script" not in page
        svg = c.get("/pick-map.svg")
        assert svg.headers["content-type"].startswith("image/svg+xml") and "default-src 'none'" in svg.headers[
            "content-security-policy"]  # fmt: skip
        form = c.post("/pick", data={"pick.x": str(made.width / 4), "pick.y": str(made.height * 3 / 4)})
        assert form.status_code == 200 and f'value="{lat}"' in form.text and f'value="{lon}"' in form.text
        assert c.post("/pick", data={}).status_code == 400
        r = c.post("/report", data={"what": "picked on the map", "lat": str(lat), "lon": str(lon)})
        assert r.status_code == 200
    rid = next(r["id"] for r in ws.intel_reports(actor="t") if r["status"] == "new")
    assert ws.intel_triage(team_key, rid, actor="t")["area_code"] == "E01000000"
