"""Places (stations and other hubs): reading CSV and point files, loading and re-loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyogrio.raw
import pytest
import shapely

from safestreets.config import Workspace
from safestreets.errors import InputError
from safestreets.sources.places import PLACE_SCHEMA, read_places
from safestreets.store import open_store, places
from safestreets.store.batches import sha256_file
from safestreets.store.places import load_places

BNG = "EPSG:27700"


@pytest.fixture(scope="module")
def transport(shared_data: Path) -> Path:
    return shared_data / "transport"


def load_file(con: Any, path: Path, **read: Any) -> int:
    table = read_places(path, crs=BNG, **read)
    return load_places(con, table, source=str(path), sha256=sha256_file(path), params=dict(read))


def test_tube_stations(transport: Path) -> None:
    table = read_places(transport / "tube_stations.csv", crs=BNG)
    assert table.schema == PLACE_SCHEMA
    assert table.num_rows == 334
    assert set(table.column("kind").to_pylist()) == {"station"}
    assert len(set(table.column("place_id").to_pylist())) == 334
    first = table.slice(0, 1).to_pylist()[0]
    assert first["place_id"] == "1" and first["name"] == "Acton Town"
    assert (first["lon"], first["lat"]) == (-0.2801, 51.5028)
    assert 519_000 < first["x"] < 520_000 and 179_000 < first["y"] < 180_000
    attributes = json.loads(first["attributes"])
    assert attributes == {"display_name": "Acton<br />Town", "zone": 3, "total_lines": 2, "rail": 0}
    aldgate = json.loads(table.column("attributes")[1].as_py())
    assert aldgate["display_name"] is None  # "NULL" in the file


def test_naptan_projection_matches_published_grid_refs(transport: Path) -> None:
    path = transport / "naptan_rail_stations_greater_london.csv"
    table = read_places(path, crs=BNG)
    assert table.num_rows == 356
    assert table.column("place_id")[0].as_py() == "9100ABWD"
    assert table.column("name")[0].as_py() == "Abbey Wood (London) Rail Station"
    published = pacsv.read_csv(path)
    dx = table.column("x").to_numpy() - published.column("Easting").to_numpy()
    dy = table.column("y").to_numpy() - published.column("Northing").to_numpy()
    assert np.hypot(dx, dy).max() < 1.0
    attributes = json.loads(table.column("attributes")[0].as_py())
    assert attributes["CrsCode"] == "ABW" and "Easting" not in attributes and "longitude" not in attributes


def test_eastings_northings_only(tmp_path: Path, transport: Path) -> None:
    published = pacsv.read_csv(transport / "naptan_rail_stations_greater_london.csv")
    en_only = tmp_path / "rail_en.csv"
    pacsv.write_csv(published.drop_columns(["longitude", "latitude"]), en_only)
    table = read_places(en_only, crs=BNG)
    assert table.column("x").to_numpy() == pytest.approx(published.column("Easting").to_numpy(), abs=1e-6)
    # Back to lon/lat: NaPTAN's own lon/lat agree to about a metre (1e-5 degrees).
    assert table.column("lon").to_numpy() == pytest.approx(published.column("longitude").to_numpy(), abs=2e-5)
    assert table.column("lat").to_numpy() == pytest.approx(published.column("latitude").to_numpy(), abs=2e-5)


def test_explicit_fields_and_generated_ids(tmp_path: Path) -> None:
    path = tmp_path / "venues.csv"
    path.write_text(
        "Venue,Y_coord,X_coord,capacity\nThe Fort,51.5,-0.1,300\nThe Den,51.6,-0.2,\n", encoding="utf-8"
    )
    table = read_places(
        path, crs=BNG, name_field="venue", lon_field="X_coord", lat_field="Y_coord", kind="club"
    )
    assert table.column("name").to_pylist() == ["The Fort", "The Den"]
    assert table.column("kind").to_pylist() == ["club", "club"]
    assert table.column("lon").to_pylist() == [-0.1, -0.2]
    assert [json.loads(a) for a in table.column("attributes").to_pylist()] == [
        {"capacity": 300},
        {"capacity": None},
    ]
    ids = table.column("place_id").to_pylist()
    assert len(set(ids)) == 2
    # Generated ids depend on the place, not the row order.
    path.write_text(
        "Venue,Y_coord,X_coord,capacity\nThe Den,51.6,-0.2,\nThe Fort,51.5,-0.1,300\n", encoding="utf-8"
    )
    again = read_places(
        path, crs=BNG, name_field="venue", lon_field="X_coord", lat_field="Y_coord", kind="club"
    )
    assert again.column("place_id").to_pylist() == ids[::-1]
    inferred = read_places(path, crs=BNG, lon_field="X_coord", lat_field="Y_coord")
    assert inferred.column("kind")[0].as_py() == "venue"  # from the file name


@pytest.mark.parametrize(
    ("text", "row", "column", "reason"),
    [
        ("name,latitude,longitude\na,51.5,-0.1\nb,abc,-0.1\n", 2, "latitude", "not a number"),
        ("name,latitude,longitude\na,51.5,-0.1\nb,51.5,-190\n", 2, "longitude", "longitude outside"),
        ("name,latitude,longitude\na,91,-0.1\n", 1, "latitude", "latitude outside"),
        ("name,latitude,longitude\na,51.5,-0.1\nb,,-0.1\nc,51.4,0.1\n", 2, "latitude", "no coordinates"),
        ("name,lat,lon\na,0,0\n", 1, "lon", "0, 0"),
        ("name,easting,northing\na,530000,180000\nb,9e12,1e12\n", 2, "easting", "not a position"),
    ],
)
def test_bad_coordinates_name_file_row_and_column(
    tmp_path: Path, text: str, row: int, column: str, reason: str
) -> None:
    path = tmp_path / "stations.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_places(path, crs=BNG)
    assert err.value.row == row
    assert err.value.column == column
    assert reason in err.value.reason
    assert "stations.csv" in str(err.value)


def test_unusable_files(tmp_path: Path) -> None:
    path = tmp_path / "nothing.csv"
    path.write_text("name,zone\na,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no coordinate columns found.*columns: name, zone"):
        read_places(path, crs=BNG)
    with pytest.raises(InputError, match="unknown places format"):
        read_places(_touch(tmp_path / "stations.xlsx"), crs=BNG)
    with pytest.raises(InputError, match="file not found"):
        read_places(tmp_path / "missing.csv", crs=BNG)
    dup = tmp_path / "dup.csv"
    dup.write_text("id,name,lat,lon\n1,a,51.5,-0.1\n1,b,51.4,-0.1\n", encoding="utf-8")
    with pytest.raises(InputError, match="id also used by row 1") as err:
        read_places(dup, crs=BNG)
    assert err.value.row == 2


def _touch(path: Path) -> Path:
    path.write_text("", encoding="utf-8")
    return path


def test_geojson_points(tmp_path: Path) -> None:
    path = tmp_path / "hubs.geojson"
    points = [shapely.Point(-0.1246, 51.5308), shapely.Point(-0.0886, 51.5050)]
    pyogrio.raw.write(
        str(path),
        np.array(shapely.to_wkb(np.array(points)), dtype=object),
        [np.array(["King's Cross", "London Bridge"], dtype=object), np.array(["KGX", "LBG"], dtype=object)],
        ["name", "code"],
        geometry_type="Point",
        crs="EPSG:4326",
    )
    table = read_places(path, crs=BNG, kind="hub")
    assert table.column("place_id").to_pylist() == ["KGX", "LBG"]
    assert table.column("name").to_pylist() == ["King's Cross", "London Bridge"]
    assert table.column("kind").to_pylist() == ["hub", "hub"]
    assert table.column("lon").to_numpy() == pytest.approx([-0.1246, -0.0886])
    assert 530_000 < table.column("x")[0].as_py() < 531_000


def test_load_replace_and_idempotence(tmp_path: Path, transport: Path) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    tube = transport / "tube_stations.csv"
    first = load_file(con, tube)
    assert load_file(con, tube) == first  # same bytes, same options: nothing new
    assert con.execute("SELECT count(*), count(DISTINCT batch_id) FROM places").fetchall() == [(334, 1)]
    assert con.execute("SELECT count(*) FROM batches").fetchall() == [(1,)]
    # Another source of the same kind sits beside it.
    load_file(con, transport / "naptan_rail_stations_greater_london.csv")
    assert con.execute("SELECT count(*) FROM places").fetchall() == [(690,)]
    # A changed file at the same path replaces what that path loaded, and only that.
    table = read_places(tube, crs=BNG).slice(0, 10)
    batch = load_places(con, table, source=str(tube), sha256="edited", params={})
    assert con.execute("SELECT count(*) FROM places").fetchall() == [(356 + 10,)]
    replaced = con.execute("SELECT rows_replaced FROM batches WHERE batch_id = ?", [batch]).fetchall()
    assert replaced == [(334,)]
    attrs = con.execute(
        "SELECT attributes->>'zone' FROM places WHERE place_id = '1' AND batch_id = ?", [batch]
    )
    assert attrs.fetchall() == [("3.0",)]


def test_failed_load_leaves_store_unchanged(
    tmp_path: Path, transport: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    tube = transport / "tube_stations.csv"
    load_file(con, tube)
    before = con.execute("SELECT * FROM places ORDER BY ALL").fetchall()

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(places, "record_batch", fail)
    table = read_places(tube, crs=BNG)
    with pytest.raises(RuntimeError):
        load_places(con, table, source=str(tube), sha256="other", params={})
    assert con.execute("SELECT * FROM places ORDER BY ALL").fetchall() == before
    assert con.execute("SELECT count(*) FROM batches").fetchall() == [(1,)]
    with pytest.raises(InputError, match="missing columns"):
        load_places(con, pa.table({"name": ["x"]}), source="x", sha256=None, params={})


def test_synthetic_city_places_layout(tmp_path: Path) -> None:
    # The synthetic city's places files: id,name,kind,latitude,longitude, one file per kind of place.
    path = tmp_path / "night_time_economy.csv"
    path.write_text(
        "id,name,kind,latitude,longitude\nSYN-NTE-00001,The Pulse Rooms,nightclub,53.789346,-1.550534\n",
        encoding="utf-8",
    )
    row = read_places(path, crs=BNG).to_pylist()[0]
    assert (row["place_id"], row["kind"], row["name"]) == (
        "SYN-NTE-00001",
        "night-time-economy",
        "The Pulse Rooms",
    )
    assert json.loads(row["attributes"]) == {"kind": "nightclub"}
