"""Assigning events, outcomes and stop-searches to LSOA, borough and BCU."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import shapely

from safestreets.config import Workspace
from safestreets.sources.boundaries import read_areas, read_bcu_lookup
from safestreets.store import open_store
from safestreets.store.areas import load_areas
from safestreets.store.assign import assign_areas, locate

BNG = "EPSG:27700"
BRIGHTON = (531000.0, 104500.0)  # well outside Greater London


# ---------------------------------------------------------------------------------------------
# A London store built once; each test works on its own copy of the file
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def london_store(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    ws = Workspace(tmp_path_factory.mktemp("london"))
    con = open_store(ws)
    folder = shared_data / "boundaries"
    for name in (
        "london_boroughs_lad22_gen20.geojson",
        "london_lsoa2011_gen20.geojson.gz",
        "london_lsoa2021_gen20.geojson.gz",
    ):
        load_areas(con, read_areas(folder / name, crs=BNG), source=name, sha256=None, params={})
    lookup = read_bcu_lookup(shared_data / "london" / "borough_to_met_bcu_lookup.csv")
    load_areas(con, lookup, source="lookup", sha256=None, params={})
    con.close()
    return ws.db_path


@pytest.fixture
def con(london_store: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    ws = Workspace(tmp_path / "ws")
    ws.ensure()
    shutil.copy(london_store, ws.db_path)
    connection = open_store(ws)
    yield connection
    connection.close()


def add_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: list[dict[str, Any]],
    batch_id: int = 100,
) -> None:
    """Insert minimal rows: an id, a month, the given x/y/lsoa_code and the NOT NULL columns."""
    n = len(rows)
    data = pa.table(
        {
            "rid": pa.array([r["id"] for r in rows], pa.string()),
            "x": pa.array([r.get("x") for r in rows], pa.float64()),
            "y": pa.array([r.get("y") for r in rows], pa.float64()),
            "lsoa_code": pa.array([r.get("lsoa_code") for r in rows], pa.string()),
            "batch_id": pa.array([batch_id] * n, pa.int32()),
        }
    )
    con.register("_new_rows", data)
    columns = {
        "events": "event_key, force, month, crime_type, x, y, lsoa_code, source, batch_id",
        "outcomes": "crime_id, force, month, x, y, lsoa_code, outcome_type, outcome_raw, source, batch_id",
        "stop_searches": "operation_name, force, month, x, y, lsoa_code, source, batch_id",  # the id as a name
    }[table]
    values = {
        "events": "rid, 'metropolitan', DATE '2022-01-01', 'Robbery', x, y, lsoa_code, 'test', batch_id",
        "outcomes": "rid, 'metropolitan', DATE '2022-01-01', x, y, lsoa_code, 'o', 'o', 'test', batch_id",
        "stop_searches": "rid, 'metropolitan', DATE '2022-01-01', x, y, lsoa_code, 'test', batch_id",
    }[table]
    con.execute(f"INSERT INTO {table} ({columns}) SELECT {values} FROM _new_rows")
    con.unregister("_new_rows")


def result(con: duckdb.DuckDBPyConnection, table: str = "events") -> dict[str, tuple[Any, Any, Any]]:
    key = {"events": "event_id", "outcomes": "crime_id", "stop_searches": "operation_name"}[table]
    rows = con.execute(f"SELECT {key}, lsoa_code, borough_code, bcu FROM {table}").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def areas_of(con: duckdb.DuckDBPyConnection, kind: str) -> dict[str, tuple[shapely.Geometry, str | None]]:
    rows = con.execute("SELECT code, geometry, parent FROM areas WHERE kind = ?", [kind]).fetchall()
    return {code: (shapely.from_wkb(wkb), parent) for code, wkb, parent in rows}


# ---------------------------------------------------------------------------------------------
# Known answers on the real London boundaries
# ---------------------------------------------------------------------------------------------


def test_borough_representative_points(con: duckdb.DuckDBPyConnection) -> None:
    boroughs = areas_of(con, "borough")
    lsoa21 = areas_of(con, "lsoa21")
    rows = []
    for code, (geom, _) in boroughs.items():
        p = shapely.point_on_surface(geom)
        rows.append({"id": code, "x": p.x, "y": p.y})
    add_rows(con, "events", rows)
    counts = assign_areas(con, "events")
    assert counts["by_point"] == 33 and counts["unassigned"] == 0 and counts["points"] == 33
    got = result(con)
    for code, (_, bcu) in boroughs.items():
        lsoa, borough, assigned_bcu = got[code]
        assert borough == code
        assert assigned_bcu == bcu
        assert lsoa21[lsoa][1] == code  # the LSOA filled in lies in that borough
    assert got["E09000001"][2] is None  # the City has no Met BCU
    assert got["E09000007"][2] == "central-north"


def test_lsoa11_and_lsoa21_codes_both_resolve(con: duckdb.DuckDBPyConnection) -> None:
    only11 = con.execute(
        "SELECT code, parent FROM areas WHERE kind = 'lsoa11' "
        "AND code NOT IN (SELECT code FROM areas WHERE kind = 'lsoa21') ORDER BY code LIMIT 1"
    ).fetchall()[0]
    only21 = con.execute(
        "SELECT code, parent FROM areas WHERE kind = 'lsoa21' "
        "AND code NOT IN (SELECT code FROM areas WHERE kind = 'lsoa11') ORDER BY code LIMIT 1"
    ).fetchall()[0]
    bcu_of = dict(con.execute("SELECT code, parent FROM areas WHERE kind = 'borough'").fetchall())
    # No coordinates at all: the published code alone must place them.
    add_rows(con, "events", [{"id": "old", "lsoa_code": only11[0]}, {"id": "new", "lsoa_code": only21[0]}])
    counts = assign_areas(con, "events")
    assert counts["by_code"] == 2 and counts["by_point"] == 0
    got = result(con)
    assert got["old"] == (only11[0], only11[1], bcu_of[only11[1]])
    assert got["new"] == (only21[0], only21[1], bcu_of[only21[1]])
    assert got["old"][2] is not None and got["new"][2] is not None


def test_point_on_shared_edge_gets_lowest_code(con: duckdb.DuckDBPyConnection) -> None:
    lsoa21 = areas_of(con, "lsoa21")
    codes = sorted(lsoa21)
    # Find a vertex shared by LSOAs in two different boroughs (Camden / Islington side).
    camden = [c for c in codes if lsoa21[c][1] == "E09000007"]
    islington = [c for c in codes if lsoa21[c][1] == "E09000019"]
    tree = shapely.STRtree([lsoa21[c][0] for c in islington])
    shared = None
    for c in camden:
        geom = lsoa21[c][0]
        for j in tree.query(geom, predicate="touches"):
            other = lsoa21[islington[j]][0]
            common = {tuple(v) for v in shapely.get_coordinates(geom)} & {
                tuple(v) for v in shapely.get_coordinates(other)
            }
            if common:
                shared = min(common)
                break
        if shared:
            break
    assert shared is not None
    holders = sorted(c for c in codes if shapely.intersects(lsoa21[c][0], shapely.Point(shared)))
    assert len(holders) >= 2
    add_rows(con, "events", [{"id": i, "x": shared[0], "y": shared[1]} for i in ("edge", "edge2")])
    assign_areas(con, "events")
    got = result(con)
    assert con.execute("SELECT count(*) FROM events").fetchall() == [(2,)]
    assert got["edge"][0] == holders[0] == got["edge2"][0]
    assert got["edge"][1] == lsoa21[holders[0]][1]


def test_outside_london_and_no_location_stay_null(con: duckdb.DuckDBPyConnection) -> None:
    add_rows(
        con,
        "events",
        [
            {"id": "brighton", "x": BRIGHTON[0], "y": BRIGHTON[1]},
            {"id": "arun", "lsoa_code": "E01031349", "x": BRIGHTON[0], "y": BRIGHTON[1]},
            {"id": "nowhere"},
        ],
    )
    counts = assign_areas(con, "events")
    assert counts["unassigned"] == 3 and counts["no_location"] == 1 and counts["points"] == 1
    got = result(con)
    assert got["brighton"] == (None, None, None)
    assert got["arun"] == ("E01031349", None, None)  # the published code is kept
    assert got["nowhere"] == (None, None, None)


def test_unknown_published_code_falls_back_on_point(con: duckdb.DuckDBPyConnection) -> None:
    camden = shapely.point_on_surface(areas_of(con, "borough")["E09000007"][0])
    add_rows(con, "events", [{"id": "e", "lsoa_code": "W01000001", "x": camden.x, "y": camden.y}])
    counts = assign_areas(con, "events")
    assert counts["by_point"] == 1
    assert result(con)["e"] == ("W01000001", "E09000007", "central-north")


def test_stop_searches_and_outcomes(con: duckdb.DuckDBPyConnection) -> None:
    boroughs = areas_of(con, "borough")
    hackney = shapely.point_on_surface(boroughs["E09000012"][0])
    # A stop-search never has a published LSOA: a stale code is replaced from the point.
    add_rows(con, "stop_searches", [{"id": "s", "x": hackney.x, "y": hackney.y, "lsoa_code": "E01000001"}])
    add_rows(con, "stop_searches", [{"id": "gone"}], batch_id=101)
    con.execute(
        "UPDATE stop_searches SET borough_code = 'X', bcu = 'Y', lsoa_code = 'Z' WHERE operation_name = 'gone'"
    )
    add_rows(con, "outcomes", [{"id": "o", "x": hackney.x, "y": hackney.y}])
    assign_areas(con, "stop_searches")
    assign_areas(con, "outcomes")
    s = result(con, "stop_searches")
    assert s["s"][1:] == ("E09000012", "central-east") and s["s"][0] != "E01000001"
    assert s["gone"] == (None, None, None)
    assert result(con, "outcomes")["o"][1:] == ("E09000012", "central-east")


def test_where_limits_scope_and_rerun_is_stable(con: duckdb.DuckDBPyConnection) -> None:
    camden = shapely.point_on_surface(areas_of(con, "borough")["E09000007"][0])
    add_rows(con, "events", [{"id": "a", "x": camden.x, "y": camden.y}], batch_id=1)
    add_rows(con, "events", [{"id": "b", "x": camden.x, "y": camden.y}], batch_id=2)
    counts = assign_areas(con, "events", where="batch_id = 2")
    assert counts["rows"] == 1
    got = result(con)
    assert got["a"] == (None, None, None)
    assert got["b"][1] == "E09000007"
    assign_areas(con, "events")
    first = result(con)
    again = assign_areas(con, "events")
    assert result(con) == first
    # The filled-in LSOA now places both rows by code.
    assert again["by_code"] == 2 and again["by_point"] == 0


def test_runs_inside_callers_transaction(con: duckdb.DuckDBPyConnection) -> None:
    camden = shapely.point_on_surface(areas_of(con, "borough")["E09000007"][0])
    add_rows(con, "events", [{"id": "a", "x": camden.x, "y": camden.y}])
    con.execute("BEGIN TRANSACTION")
    assign_areas(con, "events")
    assert result(con)["a"][1] == "E09000007"
    con.execute("ROLLBACK")
    assert result(con)["a"] == (None, None, None)


def test_loading_areas_assigns_existing_events(tmp_path: Path, shared_data: Path) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    add_rows(con, "events", [{"id": "camden", "x": 529000.0, "y": 184000.0}])
    table = read_areas(shared_data / "boundaries" / "london_boroughs_lad22_gen20.geojson", crs=BNG)
    load_areas(con, table, source="b", sha256=None, params={})
    # Boroughs alone: the point is placed in a borough, with no LSOA to fill in.
    assert result(con)["camden"] == (None, "E09000007", None)
    lookup = read_bcu_lookup(shared_data / "london" / "borough_to_met_bcu_lookup.csv")
    load_areas(con, lookup, source="l", sha256=None, params={})
    assert result(con)["camden"] == (None, "E09000007", "central-north")


def test_no_areas_loaded_is_a_no_op(tmp_path: Path) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    add_rows(con, "events", [{"id": "a", "x": 529000.0, "y": 184000.0}])
    counts = assign_areas(con, "events")
    assert counts["rows"] == 1 and counts["unassigned"] == 1
    with pytest.raises(ValueError, match="cannot assign areas"):
        assign_areas(con, "areas")


# ---------------------------------------------------------------------------------------------
# Point location on its own, and speed
# ---------------------------------------------------------------------------------------------


def test_locate_ties_and_misses() -> None:
    # Four unit squares meeting at (1, 1).
    squares = np.array([shapely.box(x, y, x + 1, y + 1) for x in (0, 1) for y in (0, 1)])
    xs = np.array([0.5, 1.0, 1.0, 2.0, 5.0, 1.5])
    ys = np.array([0.5, 1.0, 0.5, 2.0, 5.0, 1.5])
    assert locate(xs, ys, squares).tolist() == [0, 0, 0, 3, -1, 3]
    assert locate(np.array([]), np.array([]), squares).tolist() == []


def test_many_rows_few_points_quickly(con: duckdb.DuckDBPyConnection) -> None:
    n_points, repeat = 50_000, 10
    rng = np.random.default_rng(7)
    xs, ys = rng.uniform(503_000, 562_000, n_points), rng.uniform(155_000, 201_000, n_points)
    pts = pa.table({"pid": np.arange(n_points), "x": xs, "y": ys})
    con.register("pts", pts)
    con.execute(
        "INSERT INTO events (event_key, force, month, crime_type, x, y, source, batch_id) "
        "SELECT 'e' || i, 'metropolitan', DATE '2022-01-01', 'Robbery', p.x, p.y, 'test', 1 "
        f"FROM range({n_points * repeat}) r(i) JOIN pts p ON p.pid = i % {n_points}"
    )
    con.unregister("pts")
    start = time.perf_counter()
    counts = assign_areas(con, "events")
    elapsed = time.perf_counter() - start
    assert counts["points"] == n_points
    assert counts["rows"] == counts["by_point"] + counts["unassigned"] == n_points * repeat
    # London fills a bit over half of its bounding box.
    assert 0.45 < counts["by_point"] / counts["rows"] < 0.75
    assert elapsed < 10, f"assigning {counts['rows']} rows took {elapsed:.1f} s"
