"""Small fixtures for the accountability tests: a workspace with two boroughs and one BCU."""

from __future__ import annotations

import json
from pathlib import Path

from safestreets import Workspace

BOROUGHS = {"E09000007": ("Camden", (-0.16, 51.53)), "E09000019": ("Islington", (-0.11, 51.55))}
LAD_HEADER = ["area_code", "area_name", "Asian, Asian British or Asian Welsh: Indian",
              "Black, Black British, Black Welsh, Caribbean or African: African",
              "Mixed or Multiple ethnic groups: White and Asian",
              "White: English, Welsh, Scottish, Northern Irish or British", "Other ethnic group: Arab"]  # fmt: skip


def borough_geojson(path: Path) -> Path:
    feats = []
    for code, (name, (x, y)) in BOROUGHS.items():
        ring = [
            [x - 0.02, y - 0.01],
            [x + 0.02, y - 0.01],
            [x + 0.02, y + 0.01],
            [x - 0.02, y + 0.01],
            [x - 0.02, y - 0.01],
        ]
        feats.append({"type": "Feature", "properties": {"LAD22CD": code, "LAD22NM": name},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def small_workspace(tmp: Path) -> Workspace:
    ws = Workspace.init(tmp / "ws")
    ws.load_areas(borough_geojson(tmp / "boroughs.geojson"), kind="borough")
    lookup = tmp / "lookup.csv"
    lookup.write_text(
        "borough,lad22cd,met_bcu\nCamden,E09000007,Central North\nIslington,E09000019,Central North\n"
    )
    ws.load_areas(lookup)
    return ws


def lad_csv(path: Path, rows: list[list[object]]) -> Path:
    import csv

    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LAD_HEADER)
        w.writerows(rows)
    return path
