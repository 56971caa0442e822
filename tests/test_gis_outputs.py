"""GIS outputs open cleanly: GeoParquet 1.1 metadata, GeoPackage layers with one geometry type, real
DATETIME/DATE fields, plain layer names and provenance inside, RFC 7946 GeoJSON. Checked by reading the
files back with pyarrow, pyogrio and sqlite3 for events, a forecast surface, emerging hot spots and a plan."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from pyproj import CRS

from safestreets.config import Workspace
from safestreets.errors import ParameterError
from safestreets.forecast.store import export_surface, read_surface
from safestreets.geo.export import export_table, layer_geometries, layer_name, write_geo
from safestreets.plan.resources import Resources, Rules
from safestreets.plan.run import crs_of, export_plan, run_plan
from safestreets.store import get_setting, open_store
from safestreets.trends.run import emerging_for_forecast, export_emerging

BNG = "EPSG:27700"
PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@pytest.fixture(scope="module")
def outputs(demo_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every spatial export, written once from a copy of the demo store (the demo city is shared)."""
    root = tmp_path_factory.mktemp("gis")
    ws = root / "ws"
    ws.mkdir()
    (ws / "safestreets.duckdb").write_bytes((demo_city / "safestreets.duckdb").read_bytes())
    for extra in demo_city.iterdir():
        if extra.suffix == ".toml":
            (ws / extra.name).write_bytes(extra.read_bytes())
    out = root / "out"
    con = open_store(Workspace(ws))
    try:
        crs = get_setting(con, "crs")
        files: dict[str, Any] = {"crs": crs, "store": {}}
        for ext in ("gpkg", "parquet", "geojson"):
            files[f"events.{ext}"] = export_table(con, out / f"events.{ext}")[0]
        files["store"]["events"] = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE x IS NULL OR y IS NULL), count(occurred_at), "
            "min(x), min(y), max(x), max(y) FROM events"
        ).fetchall()[0]
        files["store"]["occurred_at"] = sorted(
            r[0].astimezone(UTC).replace(tzinfo=None)
            for r in con.execute("SELECT occurred_at FROM events WHERE occurred_at IS NOT NULL").fetchall()
        )
        surface = read_surface(con, 1)
        for ext in ("gpkg", "parquet", "geojson"):
            files[f"surface.{ext}"] = export_surface(
                con, 1, out / f"forecast-violence-{surface.window[0]:%Y-%m}.{ext}"
            )
        em, units = emerging_for_forecast(con, surface.provenance, surface.window[0], periods=6)
        for ext in ("gpkg", "parquet", "geojson"):
            files[f"emerging.{ext}"] = export_emerging(
                em, units, out / f"hotspots-{em.window().replace(' ', '')}.{ext}", crs=crs
            )
        rules = Rules()
        bcus = sorted(set(surface.bcu) - {""})
        plan = run_plan(con, Resources.uniform(bcus, rules.shifts, 1), rules, seed=3, save=False)
        paths = export_plan(plan, out, crs_of(con))
        files["plan.geojson"] = next(p for p in paths if p.suffix == ".geojson")
        yield files
    finally:
        con.close()


# --- readers that check one format each -----------------------------------------------------------


def check_geoparquet(path: Path, *, crs: str, types: list[str]) -> tuple[pa.Table, dict[str, Any]]:
    """GeoParquet 1.1: the ``geo`` metadata, a WKB geometry column that decodes, the bbox around it."""
    table = pq.read_table(path)
    assert b"geo" in pq.read_metadata(path).metadata  # the file-level key-value metadata
    geo = json.loads(table.schema.metadata[b"geo"])
    assert geo["version"] == "1.1.0" and geo["primary_column"] == "geometry"
    assert set(geo["columns"]) == {"geometry"}
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB" and column["geometry_types"] == types
    projjson = column["crs"]
    assert isinstance(projjson, dict) and projjson["id"] == {
        "authority": "EPSG",
        "code": int(crs.split(":")[1]),
    }
    assert CRS.from_json_dict(projjson) == CRS.from_user_input(crs)
    assert table.schema.field("geometry").type == pa.binary()
    geoms = shapely.from_wkb(table.column("geometry").to_pylist())
    present = geoms[~shapely.is_missing(geoms)]
    assert sorted({g.geom_type for g in present}) == types
    assert column["bbox"] == pytest.approx(list(shapely.total_bounds(present)))
    provenance = json.loads(table.schema.metadata[b"safestreets"])
    assert provenance["file"] == path.name and provenance["rows"] == table.num_rows
    return table, geo


def check_gpkg(path: Path, *, crs: str, geometry_type: str) -> dict[str, Any]:
    """One plainly named layer of one geometry type in ``crs``, with the provenance inside."""
    layers = pyogrio.list_layers(path)
    assert len(layers) == 1 and layers[0][1] == geometry_type
    name = layers[0][0]
    assert PLAIN_NAME.match(name) and "-" not in name and name == layer_name(path.stem)
    info = pyogrio.read_info(path)
    assert info["geometry_type"] == geometry_type and info["crs"] == crs
    meta = info["layer_metadata"]
    assert f"{path.name}.provenance.json" in meta["DESCRIPTION"] and "safestreets" in meta["DESCRIPTION"]
    provenance = json.loads(meta["provenance"])
    sidecar = json.loads(path.with_name(path.name + ".provenance.json").read_text())
    assert (
        provenance == sidecar and provenance["file"] == path.name and provenance["rows"] == info["features"]
    )
    with sqlite3.connect(path) as db:  # what a GeoPackage reader sees, below GDAL
        declared = db.execute(
            "SELECT geometry_type_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?", [name]
        ).fetchall()
        described = db.execute(
            "SELECT description FROM gpkg_contents WHERE table_name = ?", [name]
        ).fetchall()
        columns = {r[1]: r[2] for r in db.execute(f'PRAGMA table_info("{name}")').fetchall()}
    assert declared == [(geometry_type.upper(), int(crs.split(":")[1]))]
    assert described[0][0] == meta["DESCRIPTION"]
    return {
        "info": info,
        "fields": dict(zip(info["fields"], info["ogr_types"], strict=True)),
        "columns": columns,
    }


def check_geojson(path: Path, *, geometry_type: str) -> dict[str, Any]:
    """RFC 7946: no crs member, WGS84 longitude/latitude (here: Britain), at most 7 decimals."""
    text = path.read_text("utf-8")
    doc = json.loads(text)
    assert doc["type"] == "FeatureCollection" and "crs" not in doc and '"crs"' not in text
    assert "-" not in doc.get("name", "")
    geometries = [f["geometry"] for f in doc["features"]]
    assert {g["type"] for g in geometries if g is not None} == {geometry_type}
    for g in geometries:
        if g is None:
            continue
        xy = np.asarray(shapely.get_coordinates(shapely.geometry.shape(g)))
        lon, lat = xy[:, 0], xy[:, 1]
        assert (np.abs(lon) <= 180).all() and (np.abs(lat) <= 90).all()
        assert ((lon > -10) & (lon < 5) & (lat > 45) & (lat < 60)).all()  # the demo city: Britain
        assert np.array_equal(np.round(xy, 7), xy)  # the written text has at most 7 decimals
    # and straight from the text: no coordinate with more than 7 decimals
    for block in re.findall(r'"coordinates": (\[[^"]*\])', text):
        assert not re.search(r"\d\.\d{8,}", block)
    info = pyogrio.read_info(path)
    assert info["crs"] in ("EPSG:4326", "OGC:CRS84")
    return doc


# --- events -------------------------------------------------------------------------------------------


def test_events_geoparquet(outputs: dict[str, Any]) -> None:
    table, geo = check_geoparquet(outputs["events.parquet"], crs=outputs["crs"], types=["Point"])
    rows, no_location, timed, *bounds = outputs["store"]["events"]
    assert table.num_rows == rows and table.column("geometry").null_count == no_location > 0
    assert geo["columns"]["geometry"]["bbox"] == pytest.approx(bounds)
    # the points are the stored x/y
    has = table.filter(pc.is_valid(table.column("geometry")))
    points = shapely.from_wkb(has.column("geometry").to_pylist())
    assert np.allclose(shapely.get_x(points), has.column("x").to_numpy())
    assert np.allclose(shapely.get_y(points), has.column("y").to_numpy())
    assert table.schema.field("occurred_at").type == pa.timestamp("us", "UTC")
    assert table.column("occurred_at").null_count == rows - timed


def test_events_geopackage(outputs: dict[str, Any]) -> None:
    path = outputs["events.gpkg"]
    got = check_gpkg(path, crs=outputs["crs"], geometry_type="Point")
    assert got["fields"]["occurred_at"] == "OFTDateTime" and got["fields"]["month"] == "OFTDate"
    assert got["columns"]["occurred_at"] == "DATETIME" and got["columns"]["month"] == "DATE"
    assert "TEXT" not in (got["columns"]["occurred_at"], got["columns"]["month"])
    assert got["info"]["layer_name"] == "events"
    rows, no_location, *_ = outputs["store"]["events"]
    _, table = pyogrio.read_arrow(path)
    assert table.num_rows == rows and table.column(got["info"]["geometry_name"]).null_count == no_location
    # the instants survive: the same times as the store, in UTC
    times = table.column("occurred_at").drop_null()
    assert times.type.tz == "UTC"
    written = sorted(t.replace(tzinfo=None) for t in times.to_pylist())
    assert written == outputs["store"]["occurred_at"]
    provenance = json.loads(got["info"]["layer_metadata"]["provenance"])
    assert provenance["table"] == "events" and provenance["batches"][0]["sha256"]


def test_events_geojson(outputs: dict[str, Any]) -> None:
    doc = check_geojson(outputs["events.geojson"], geometry_type="Point")
    rows, no_location, *_ = outputs["store"]["events"]
    assert len(doc["features"]) == rows
    assert sum(f["geometry"] is None for f in doc["features"]) == no_location
    timed = next(f["properties"] for f in doc["features"] if f["properties"]["occurred_at"])
    assert timed["occurred_at"].endswith("Z") and re.match(r"\d{4}-\d\d-\d\d$", timed["month"])


# --- a forecast surface, emerging hot spots, a plan ------------------------------------------------------


@pytest.mark.parametrize("name", ["surface", "emerging"])
def test_polygon_layers(outputs: dict[str, Any], name: str) -> None:
    crs = outputs["crs"]
    table, _ = check_geoparquet(outputs[f"{name}.parquet"], crs=crs, types=["Polygon"])  # 250 m grid cells
    got = check_gpkg(outputs[f"{name}.gpkg"], crs=crs, geometry_type="Polygon")
    assert got["info"]["features"] == table.num_rows
    assert "-" not in got["info"]["layer_name"] and got["info"]["layer_name"].startswith(
        "forecast_violence_" if name == "surface" else "hotspots_"
    )
    doc = check_geojson(outputs[f"{name}.geojson"], geometry_type="Polygon")
    assert len(doc["features"]) == table.num_rows
    provenance = json.loads(got["info"]["layer_metadata"]["provenance"])
    assert ("forecast" in provenance) if name == "surface" else ("emerging_hot_spots" in provenance)


def test_plan_geojson(outputs: dict[str, Any]) -> None:
    doc = check_geojson(outputs["plan.geojson"], geometry_type="Point")
    assert doc["features"] and {"team_id", "unit_id", "visits_per_day"} <= set(
        doc["features"][0]["properties"]
    )


def test_geopandas_reads_every_file(outputs: dict[str, Any]) -> None:
    gpd = pytest.importorskip("geopandas")
    for key, path in outputs.items():
        if not isinstance(path, Path):
            continue
        frame = gpd.read_parquet(path) if path.suffix == ".parquet" else gpd.read_file(path)
        assert len(frame) and frame.crs is not None, key
        if path.suffix == ".geojson":
            assert frame.crs.to_epsg() == 4326
        else:
            assert frame.crs == CRS.from_user_input(outputs["crs"])


# --- write_geo on its own: promotion, times, names ------------------------------------------------------


def test_mixed_polygons_become_one_multipolygon_layer(tmp_path: Path) -> None:
    cell = shapely.box(530000, 180000, 530250, 180250)
    two_parts = shapely.MultiPolygon([shapely.box(531000, 180000, 531100, 180100),
                                      shapely.box(531200, 180000, 531300, 180100)])  # fmt: skip
    geoms = np.array([cell, two_parts, None, shapely.Polygon()], dtype=object)
    table = pa.table({
        "area": ["a", "b", "c", "d"],
        "at": pa.array([datetime(2024, 7, 1, 9, 30, tzinfo=UTC)] * 4, pa.timestamp("us", "Europe/London")),
        "day": pa.array([date(2024, 7, 1)] * 4, pa.date32()),
    })  # fmt: skip
    provenance = {"what": "a test"}
    gpkg = write_geo(table, geoms, tmp_path / "mixed-areas.gpkg", crs=BNG, provenance=provenance)
    got = check_gpkg(gpkg, crs=BNG, geometry_type="MultiPolygon")
    assert got["info"]["layer_name"] == "mixed_areas"
    assert got["columns"]["at"] == "DATETIME" and got["columns"]["day"] == "DATE"
    _, back = pyogrio.read_arrow(gpkg)
    assert back.column("at").to_pylist()[0] == datetime(2024, 7, 1, 9, 30, tzinfo=UTC)  # the instant, in UTC
    assert back.column(got["info"]["geometry_name"]).null_count == 2  # no location; empty
    table_back, geo = check_geoparquet(
        write_geo(table, geoms, tmp_path / "mixed-areas.parquet", crs=BNG, provenance=provenance),
        crs=BNG, types=["MultiPolygon"],
    )  # fmt: skip
    assert geo["columns"]["geometry"]["bbox"] == pytest.approx([530000, 180000, 531300, 180250])
    assert table_back.column("geometry").null_count == 2
    doc = json.loads(
        write_geo(table, geoms, tmp_path / "mixed.geojson", crs=BNG, provenance=provenance).read_text()
    )
    assert [f["geometry"] and f["geometry"]["type"] for f in doc["features"]] == [
        "MultiPolygon", "MultiPolygon", None, None,
    ]  # fmt: skip
    assert doc["features"][0]["properties"]["at"] == "2024-07-01T09:30:00Z" and "crs" not in doc


def test_layer_geometries() -> None:
    point, square = shapely.Point(0, 0), shapely.box(0, 0, 1, 1)
    assert layer_geometries([point, None])[1] == "Point"
    assert layer_geometries([square, square])[1] == "Polygon"
    geoms, kind = layer_geometries([point, shapely.MultiPoint([(1, 1), (2, 2)])])
    assert kind == "MultiPoint" and geoms[0].geom_type == "MultiPoint"
    assert layer_geometries([point, square])[1] == "Unknown"
    assert layer_geometries([None, shapely.Point()])[1] == "Unknown"


@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("events", "events"),
        ("forecast-violence-2024-01-01..2024-01-31", "forecast_violence_2024_01_01_2024_01_31"),
        ("plan-2024-01-01-hotspots", "plan_2024_01_01_hotspots"),
        ("2024 plan", "layer_2024_plan"),
    ],
)
def test_layer_names_are_plain(stem: str, name: str) -> None:
    assert layer_name(stem) == name and PLAIN_NAME.match(name)


def test_write_geo_refuses_other_formats(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"\.gpkg, \.geojson or \.parquet"):
        write_geo(pa.table({"a": [1]}), np.array([shapely.Point(0, 0)]), tmp_path / "x.shp", crs=BNG,
                  provenance={})  # fmt: skip
