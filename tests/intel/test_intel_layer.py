"""Counts as a map layer and a briefing section: LSOA polygons loaded into a small workspace, reports
triaged into them from their map positions, and the layer, the page's map and the section read back."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from safestreets.api import Workspace
from safestreets.api import intel as api
from safestreets.intel import codename, keys, records
from safestreets.report.intel_section import community_section
from safestreets.web.intel_map import choropleth


def lsoa_file(path: Path) -> Path:
    """Four LSOAs in a 2x2 grid around 51.515 N, 0.09 W (each about 700 m by 700 m)."""
    feats = []
    for i, (x, y) in enumerate([(-0.100, 51.510), (-0.090, 51.510), (-0.100, 51.516), (-0.090, 51.516)]):
        ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.006], [x, y + 0.006], [x, y]]
        feats.append({"type": "Feature", "properties": {"LSOA21CD": f"E0100000{i}", "LSOA21NM": f"Test {i}"},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    return path


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
