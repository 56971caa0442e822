"""Boundary files and the borough -> BCU lookup: reading, loading, re-loading, failing cleanly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyogrio.raw
import pytest
import shapely

from safestreets.config import Workspace
from safestreets.errors import InputError
from safestreets.geo.project import crs_to_lonlat
from safestreets.sources.boundaries import (
    AREA_SCHEMA,
    neighbourhood_table,
    read_areas,
    read_bcu_lookup,
)
from safestreets.store import areas as store_areas
from safestreets.store import open_store
from safestreets.store.areas import load_areas
from safestreets.store.batches import sha256_file

BNG = "EPSG:27700"


def write_layer(
    path: Path,
    records: list[dict[str, Any]],
    geoms: list[Any],
    *,
    crs: str = "EPSG:4326",
    layer: str | None = None,
    driver: str | None = None,
    append: bool = False,
) -> Path:
    """Write features with pyogrio (text fields only, which is all boundary files need here)."""
    fields = list(records[0]) if records else []
    data = [np.array([r[f] for r in records], dtype=object) for f in fields]
    pyogrio.raw.write(
        str(path),
        np.array(shapely.to_wkb(np.array(geoms, dtype=object)), dtype=object),
        data,
        fields,
        layer=layer,
        driver=driver,
        geometry_type="Unknown" if driver != "ESRI Shapefile" else "Polygon",
        crs=crs,
        append=append,
    )
    return path


def square(x0: float, y0: float, size: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x0 + size, y0 + size)


def to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda x, y: crs_to_lonlat(x, y, BNG), interleaved=False)


def write_synthetic_city(root: Path) -> Path:
    """The synthetic city's layout: four LSOAs in two boroughs, one BCU; WGS84 GeoJSON like the real files."""
    folder = root / "boundaries"
    folder.mkdir(parents=True)
    x0, y0 = 530000.0, 180000.0
    lsoas = [
        ({"LSOA_CODE": "S01", "LSOA_NAME": "North A", "BOROUGH_CODE": "B1", "POPULATION": "1500"}, (0, 1000)),
        (
            {"LSOA_CODE": "S02", "LSOA_NAME": "North B", "BOROUGH_CODE": "B1", "POPULATION": "1600"},
            (1000, 1000),
        ),
        ({"LSOA_CODE": "S03", "LSOA_NAME": "South A", "BOROUGH_CODE": "B2", "POPULATION": "1700"}, (0, 0)),
        ({"LSOA_CODE": "S04", "LSOA_NAME": "South B", "BOROUGH_CODE": "B2", "POPULATION": "1800"}, (1000, 0)),
    ]
    write_layer(
        folder / "lsoa.geojson",
        [props for props, _ in lsoas],
        [to_lonlat(square(x0 + dx, y0 + dy, 1000)) for _, (dx, dy) in lsoas],
    )
    write_layer(
        folder / "boroughs.geojson",
        [
            {"BOROUGH_CODE": "B1", "BOROUGH_NAME": "Northside"},
            {"BOROUGH_CODE": "B2", "BOROUGH_NAME": "Southside"},
        ],
        [
            to_lonlat(shapely.box(x0, y0 + 1000, x0 + 2000, y0 + 2000)),
            to_lonlat(shapely.box(x0, y0, x0 + 2000, y0 + 1000)),
        ],
    )
    (folder / "borough_to_bcu.csv").write_text(
        "borough,lad22cd,met_bcu\nNorthside,B1,Central\nSouthside,B2,Central\n", encoding="utf-8"
    )
    return folder


def load_file(con: Any, path: Path, **read: Any) -> int:
    table = read_bcu_lookup(path) if path.suffix == ".csv" else read_areas(path, crs=BNG, **read)
    return load_areas(con, table, source=str(path), sha256=sha256_file(path), params=dict(read))


def snapshot(con: Any) -> tuple[list[Any], list[Any]]:
    areas = con.execute(
        "SELECT kind, code, name, parent, md5(geometry::VARCHAR), batch_id FROM areas ORDER BY ALL"
    )
    batches = con.execute("SELECT batch_id, kind, source FROM batches ORDER BY batch_id")
    return areas.fetchall(), batches.fetchall()


# ---------------------------------------------------------------------------------------------
# Real London boundaries (read once per module: the LSOA sets take a few tenths of a second each)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def london(shared_data: Path) -> dict[str, pa.Table]:
    folder = shared_data / "boundaries"
    return {
        "borough": read_areas(folder / "london_boroughs_lad22_gen20.geojson", crs=BNG),
        "lsoa11": read_areas(folder / "london_lsoa2011_gen20.geojson.gz", crs=BNG),
        "lsoa21": read_areas(folder / "london_lsoa2021_gen20.geojson.gz", crs=BNG),
    }


def test_london_boroughs_read_in_bng(london: dict[str, pa.Table]) -> None:
    boroughs = london["borough"]
    assert boroughs.schema == AREA_SCHEMA
    assert boroughs.num_rows == 33
    assert set(boroughs.column("kind").to_pylist()) == {"borough"}
    assert sorted(boroughs.column("code").to_pylist()) == [f"E090000{i:02d}" for i in range(1, 34)]
    names = dict(zip(boroughs.column("code").to_pylist(), boroughs.column("name").to_pylist(), strict=True))
    assert names["E09000001"] == "City of London"
    # Greater London covers about 1,572 square kilometres; the 20 m generalisation barely changes it.
    total_km2 = sum(boroughs.column("area_m2").to_pylist()) / 1e6
    assert 1540 < total_km2 < 1600
    # Metres on the British National Grid, not degrees.
    assert (
        500_000
        < min(boroughs.column("xmin").to_pylist())
        < max(boroughs.column("xmax").to_pylist())
        < 570_000
    )
    geoms = shapely.from_wkb(boroughs.column("geometry").to_pylist())
    assert shapely.is_valid(geoms).all()


def test_lsoa_sets_detected_from_ons_fields(london: dict[str, pa.Table]) -> None:
    lsoa11, lsoa21 = london["lsoa11"], london["lsoa21"]
    assert lsoa11.num_rows == 4835 and set(lsoa11.column("kind").to_pylist()) == {"lsoa11"}
    assert lsoa21.num_rows == 4994 and set(lsoa21.column("kind").to_pylist()) == {"lsoa21"}
    for table in (lsoa11, lsoa21):
        assert all(p.startswith("E09") for p in table.column("parent").to_pylist())
        assert all(c.startswith("E01") for c in table.column("code").to_pylist())
    first = lsoa21.filter(pa.compute.equal(lsoa21.column("code"), "E01000001")).to_pylist()[0]
    assert first["name"] == "City of London 001A" and first["parent"] == "E09000001"
    # LSOAs tile their boroughs: the two sets cover the same area to well within a percent.
    a11 = sum(lsoa11.column("area_m2").to_pylist())
    a21 = sum(lsoa21.column("area_m2").to_pylist())
    assert abs(a11 - a21) / a21 < 0.01


def test_msoa_set_detected(shared_data: Path) -> None:
    msoa = read_areas(shared_data / "boundaries" / "london_msoa2021_gen20.geojson.gz", crs=BNG)
    assert msoa.num_rows == 1002
    assert set(msoa.column("kind").to_pylist()) == {"msoa21"}


def test_bcu_lookup_reads_32_boroughs_in_12_bcus(shared_data: Path) -> None:
    lookup = read_bcu_lookup(shared_data / "london" / "borough_to_met_bcu_lookup.csv")
    assert lookup.num_rows == 32
    assert len(set(lookup.column("bcu_code").to_pylist())) == 12
    assert "E09000001" not in lookup.column("borough_code").to_pylist()  # the City has its own force
    row = next(r for r in lookup.to_pylist() if r["borough_code"] == "E09000007")
    assert row == {
        "borough_code": "E09000007",
        "borough_name": "Camden",
        "bcu_code": "central-north",
        "bcu_name": "Central North",
    }


def test_load_london_areas_and_bcus(tmp_path: Path, shared_data: Path, london: dict[str, pa.Table]) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    for kind in ("borough", "lsoa11", "lsoa21"):
        load_areas(con, london[kind], source=kind, sha256=None, params={})
    load_file(con, shared_data / "london" / "borough_to_met_bcu_lookup.csv")
    counts = dict(con.execute("SELECT kind, count(*) FROM areas GROUP BY kind").fetchall())
    assert counts == {"borough": 33, "lsoa11": 4835, "lsoa21": 4994, "bcu": 12}
    parents = dict(con.execute("SELECT code, parent FROM areas WHERE kind = 'borough'").fetchall())
    assert parents["E09000001"] is None
    assert parents["E09000007"] == "central-north"
    assert sum(p is not None for p in parents.values()) == 32
    # A BCU's shape is its boroughs' union, and its area their sum.
    rows = con.execute(
        "SELECT b.code, b.geometry, b.area_m2, sum(a.area_m2) FROM areas b "
        "JOIN areas a ON a.kind = 'borough' AND a.parent = b.code WHERE b.kind = 'bcu' GROUP BY ALL"
    ).fetchall()
    assert len(rows) == 12
    for _code, wkb, area, borough_sum in rows:
        assert area == pytest.approx(borough_sum)
        assert shapely.area(shapely.from_wkb(wkb)) == pytest.approx(borough_sum, rel=1e-3)
    batches = con.execute("SELECT kind, rows_loaded FROM batches ORDER BY batch_id").fetchall()
    assert batches == [("areas", 33), ("areas", 4835), ("areas", 4994), ("areas", 12)]


def test_reload_is_idempotent_and_order_free(tmp_path: Path, shared_data: Path) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    lookup = shared_data / "london" / "borough_to_met_bcu_lookup.csv"
    borough_file = shared_data / "boundaries" / "london_boroughs_lad22_gen20.geojson"
    # The lookup first: boroughs get placeholder rows that the boundary load then fills in.
    first = load_file(con, lookup)
    assert load_file(con, lookup) == first
    assert con.execute(
        "SELECT count(*) FROM areas WHERE kind = 'borough' AND geometry IS NULL"
    ).fetchall() == [(32,)]
    batch = load_file(con, borough_file)
    before = snapshot(con)
    assert load_file(con, borough_file) == batch
    assert snapshot(con) == before
    rows = con.execute(
        "SELECT count(*), count(geometry), count(parent) FROM areas WHERE kind = 'borough'"
    ).fetchall()
    assert rows == [(33, 33, 32)]  # the boundary load kept the BCU parents
    assert con.execute("SELECT count(geometry) FROM areas WHERE kind = 'bcu'").fetchall() == [(12,)]


def test_failed_load_leaves_store_unchanged(
    tmp_path: Path, london: dict[str, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    load_areas(con, london["borough"], source="boroughs", sha256="b", params={})
    before = snapshot(con)

    bad = tmp_path / "broken.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.geojson"):
        load_file(con, bad)
    assert snapshot(con) == before

    # A failure after the rows are written (here, in the re-assignment) must undo them too.
    def fail(*args: Any, **kwargs: Any) -> dict:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store_areas, "assign_areas", fail)
    with pytest.raises(RuntimeError):
        load_areas(con, london["lsoa21"], source="lsoa21", sha256="l", params={})
    assert snapshot(con) == before


# ---------------------------------------------------------------------------------------------
# The synthetic city's files
# ---------------------------------------------------------------------------------------------


def test_synthetic_city_loads_with_detection(tmp_path: Path) -> None:
    folder = write_synthetic_city(tmp_path)
    lsoa = read_areas(folder / "lsoa.geojson", crs=BNG)
    assert lsoa.column("kind").to_pylist() == ["lsoa"] * 4
    assert lsoa.column("parent").to_pylist() == ["B1", "B1", "B2", "B2"]
    assert lsoa.column("population").to_pylist() == [1500.0, 1600.0, 1700.0, 1800.0]
    assert lsoa.column("area_m2").to_numpy() == pytest.approx(np.full(4, 1e6), rel=1e-6)
    boroughs = read_areas(folder / "boroughs.geojson", crs=BNG)
    assert boroughs.column("kind").to_pylist() == ["borough", "borough"]
    assert boroughs.column("name").to_pylist() == ["Northside", "Southside"]

    con = open_store(Workspace(tmp_path / "ws"))
    for name in ("lsoa.geojson", "boroughs.geojson", "borough_to_bcu.csv"):
        load_file(con, folder / name)
    rows = con.execute(
        "SELECT kind, code, parent FROM areas WHERE kind <> 'lsoa' ORDER BY kind, code"
    ).fetchall()
    assert rows == [("bcu", "central", None), ("borough", "B1", "central"), ("borough", "B2", "central")]


# ---------------------------------------------------------------------------------------------
# Formats, fields and errors
# ---------------------------------------------------------------------------------------------


def test_geopackage_round_trip_with_layers(tmp_path: Path) -> None:
    path = tmp_path / "areas.gpkg"
    wards = [square(530000, 180000, 500), square(530500, 180000, 500)]
    write_layer(path, [{"WD22CD": "E05000001", "WD22NM": "One", "LAD22CD": "E09000001"},
                       {"WD22CD": "E05000002", "WD22NM": "Two", "LAD22CD": "E09000001"}],
                wards, crs=BNG, layer="wards", driver="GPKG")  # fmt: skip
    write_layer(path, [{"code": "X1", "label": "Zone"}], [square(0, 0, 10)], crs=BNG, layer="zones",
                driver="GPKG", append=True)  # fmt: skip
    with pytest.raises(InputError, match=r"2 layers with geometries.*pass layer"):
        read_areas(path, crs=BNG)
    table = read_areas(path, crs=BNG, layer="wards")
    assert table.column("kind").to_pylist() == ["ward", "ward"]
    assert table.column("parent").to_pylist() == ["E09000001", "E09000001"]
    got = shapely.from_wkb(table.column("geometry").to_pylist())
    assert shapely.equals_exact(got, np.array(wards), tolerance=1e-6).all()
    zones = read_areas(path, crs=BNG, layer="zones", kind="zone", code_field="code", name_field="label")
    assert zones.select(["code", "name", "kind"]).to_pylist() == [
        {"code": "X1", "name": "Zone", "kind": "zone"}
    ]
    with pytest.raises(InputError, match="no layer 'nope'"):
        read_areas(path, crs=BNG, layer="nope")


def test_shapefile_round_trip_from_wgs84(tmp_path: Path) -> None:
    path = tmp_path / "boroughs.shp"
    shapes = [square(530000, 180000, 2000), square(532000, 180000, 2000)]
    write_layer(
        path,
        [{"LAD22CD": "E09000001", "LAD22NM": "A"}, {"LAD22CD": "E09000002", "LAD22NM": "B"}],
        [to_lonlat(s) for s in shapes],
        driver="ESRI Shapefile",
    )
    table = read_areas(path, crs=BNG)
    assert table.column("code").to_pylist() == ["E09000001", "E09000002"]
    got = shapely.from_wkb(table.column("geometry").to_pylist())
    # Projected there and back: a few millimetres at most.
    assert shapely.hausdorff_distance(got, np.array(shapes)).max() < 0.01
    assert table.column("area_m2").to_numpy() == pytest.approx(np.full(2, 4e6), rel=1e-6)


def test_invalid_polygon_is_made_valid(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(530000, 180000), (531000, 181000), (531000, 180000), (530000, 181000)])
    assert not bowtie.is_valid
    path = write_layer(tmp_path / "bowtie.geojson", [{"LSOA21CD": "E01000001"}], [to_lonlat(bowtie)])
    table = read_areas(path, crs=BNG)
    geom = shapely.from_wkb(table.column("geometry")[0].as_py())
    assert geom.is_valid and geom.geom_type in ("Polygon", "MultiPolygon")
    assert table.column("area_m2")[0].as_py() == pytest.approx(500_000, rel=1e-3)


ONE, TWO = square(0, 0, 1), square(2, 0, 1)


@pytest.mark.parametrize(
    ("records", "geoms", "match"),
    [
        ([{"NAME": "a"}], [ONE], r"no area code field found.*fields: NAME"),
        ([{"LAD22CD": "E1"}, {"LAD22CD": "E1"}], [ONE, TWO], r"duplicate code 'E1' in features 1 and 2"),
        (
            [{"LAD22CD": "E1"}, {"LAD22CD": "E2"}],
            [ONE, shapely.Polygon()],
            r"feature 2 \(LAD22CD='E2'\) has an empty",
        ),
        ([{"LAD22CD": "E1"}], [shapely.Point(0, 0)], r"feature 1 .* is a Point, not a polygon"),
        ([{"LAD22CD": "E1"}, {"LAD22CD": ""}], [ONE, TWO], r"feature 2 has no code"),
    ],
)
def test_bad_boundary_files(
    tmp_path: Path, records: list[dict[str, Any]], geoms: list[Any], match: str
) -> None:
    path = write_layer(tmp_path / "bad.geojson", records, geoms)
    with pytest.raises(InputError, match=match) as err:
        read_areas(path, crs=BNG)
    assert "bad.geojson" in str(err.value)


def test_unknown_format_missing_file_and_garbage(tmp_path: Path) -> None:
    text = tmp_path / "areas.txt"
    text.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown boundary format: expected one of \.geojson"):
        read_areas(text, crs=BNG)
    with pytest.raises(InputError, match="file not found"):
        read_areas(tmp_path / "missing.geojson", crs=BNG)
    garbage = tmp_path / "garbage.geojson"
    garbage.write_text("this is not json", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read as a GeoJSON file"):
        read_areas(garbage, crs=BNG)
    with pytest.raises(InputError, match="no code field 'NOPE'"):
        write_layer(tmp_path / "ok.geojson", [{"LAD22CD": "E1"}], [square(0, 0, 1)])
        read_areas(tmp_path / "ok.geojson", crs=BNG, code_field="NOPE")


def test_gzipped_geojson(tmp_path: Path) -> None:
    import gzip

    plain = write_layer(
        tmp_path / "b.geojson",
        [{"LAD22CD": "E1", "LAD22NM": "One"}],
        [to_lonlat(square(530000, 180000, 100))],
    )
    packed = tmp_path / "b.geojson.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert (
        read_areas(packed, crs=BNG).drop(["geometry"]).to_pylist()
        == read_areas(plain, crs=BNG).drop(["geometry"]).to_pylist()
    )


def test_bcu_lookup_variants(tmp_path: Path) -> None:
    alt = tmp_path / "alt.csv"
    alt.write_text("borough_code,bcu\nE09000002,East\nE09000003,North West\nE09000001,\n", encoding="utf-8")
    table = read_bcu_lookup(alt)
    assert table.to_pylist() == [
        {"borough_code": "E09000002", "borough_name": None, "bcu_code": "east", "bcu_name": "East"},
        {
            "borough_code": "E09000003",
            "borough_name": None,
            "bcu_code": "north-west",
            "bcu_name": "North West",
        },
    ]
    clash = tmp_path / "clash.csv"
    clash.write_text("borough,met_bcu\nBarnet,North West\nBarnet,North\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2.*two BCUs"):
        read_bcu_lookup(clash)
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="columns: a, b"):
        read_bcu_lookup(nothing)


def test_bcu_lookup_by_name_needs_loaded_boroughs(tmp_path: Path) -> None:
    folder = write_synthetic_city(tmp_path)
    by_name = tmp_path / "by_name.csv"
    by_name.write_text("borough,bcu\nNorthside,Upper\nsouthside,Lower\n", encoding="utf-8")
    con = open_store(Workspace(tmp_path / "ws"))
    with pytest.raises(InputError, match="match no loaded borough"):
        load_file(con, by_name)
    assert con.execute("SELECT count(*) FROM areas").fetchall() == [(0,)]
    load_file(con, folder / "boroughs.geojson")
    load_file(con, by_name)
    rows = con.execute("SELECT code, parent FROM areas WHERE kind = 'borough' ORDER BY code").fetchall()
    assert rows == [("B1", "upper"), ("B2", "lower")]
    params = json.loads(
        con.execute("SELECT params FROM batches ORDER BY batch_id DESC LIMIT 1").fetchall()[0][0]
    )
    assert params == {}


def test_parents_filled_from_borough_polygons(tmp_path: Path, shared_data: Path) -> None:
    # ONS's own LSOA/MSOA downloads have no local authority field: the borough polygons supply it.
    con = open_store(Workspace(tmp_path / "ws"))
    load_file(con, shared_data / "boundaries" / "london_msoa2021_gen20.geojson.gz")
    assert con.execute("SELECT count(parent) FROM areas WHERE kind = 'msoa21'").fetchall() == [(0,)]
    load_file(con, shared_data / "boundaries" / "london_boroughs_lad22_gen20.geojson")
    rows = con.execute("SELECT code, name, parent FROM areas WHERE kind = 'msoa21'").fetchall()
    assert len(rows) == 1002 and all(parent is not None for _, _, parent in rows)
    names = dict(con.execute("SELECT code, name FROM areas WHERE kind = 'borough'").fetchall())
    # MSOA names start with their borough's name ("Barking and Dagenham 001").
    assert all(name.startswith(names[parent]) for _, name, parent in rows)


def test_neighbourhood_table_and_empty_file(tmp_path: Path) -> None:
    hoods = {
        "E05000138": ("Covent Garden", shapely.to_wkb(to_lonlat(square(530000, 180000, 1000)))),
        "N1": (None, shapely.to_wkb(to_lonlat(square(531000, 180000, 1000)))),
    }
    table = neighbourhood_table(hoods, "metropolitan", crs=BNG)
    assert table.schema == AREA_SCHEMA
    assert table.column("code").to_pylist() == ["metropolitan/E05000138", "metropolitan/N1"]
    assert table.column("kind").to_pylist() == ["neighbourhood", "neighbourhood"]
    assert table.column("area_m2").to_numpy() == pytest.approx(np.full(2, 1e6), rel=1e-6)

    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.geojson: no features"):
        read_areas(empty, crs=BNG)
