"""Weapons-sweep suggestions: places near hot cells, ranked with reasons; a clear note when none are loaded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pytest

from safestreets.config import Workspace
from safestreets.plan.sweeps import suggest_sweeps
from safestreets.store import open_store
from test_hubs import (
    STATION_A,
    add_event,
    add_place,
    add_search,
    assert_no_person_columns,
    build_city,
    grid_surface,
    near_a,
)

PARK_NEAR = (STATION_A[0] + 150, STATION_A[1] + 100)  # inside the hot spot around A
ALLEY_NEAR = (STATION_A[0] - 250, STATION_A[1] - 200)  # at its edge
PARK_FAR = (532_600.0, 182_600.0)  # 3 km away from it


@pytest.fixture
def sweep_store(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_store(Workspace(tmp_path / "ws"))
    add_place(con, "P1", "open-space", "Near Park", *PARK_NEAR)
    add_place(con, "P2", "open-space", "Far Park", *PARK_FAR)
    add_place(con, "L1", "alley", "Cut Through", *ALLEY_NEAR)
    add_place(con, "S1", "station", "Alpha", *STATION_A)
    for k in range(12):
        add_event(con, PARK_NEAR[0] + 10 * k, PARK_NEAR[1], f"2024-02-{k + 1:02d} 22:00")
    for k in range(3):
        add_event(con, PARK_NEAR[0], PARK_NEAR[1] - 20, f"2024-01-{k + 10} 16:00", "Possession of weapons")
    add_event(con, ALLEY_NEAR[0], ALLEY_NEAR[1], "2024-02-20 01:00", "Robbery")
    add_event(con, PARK_FAR[0], PARK_FAR[1], "2024-02-21 01:00")
    add_search(con, PARK_NEAR[0], PARK_NEAR[1], "2024-02-03 23:00", linked=True, outcome="Arrest")
    add_search(con, PARK_NEAR[0], PARK_NEAR[1], "2024-02-04 23:00")  # nothing found: not a hit
    yield con
    con.close()


def test_places_near_hot_cells_rank_by_harm_violence_and_weapons(
    sweep_store: duckdb.DuckDBPyConnection,
) -> None:
    r = suggest_sweeps(sweep_store, grid_surface(near_a), hot_top=9)
    rows = r.to_table().to_pylist()
    assert [row["place_id"] for row in rows] == ["P1", "L1"]  # P2 is nowhere near a hot cell; S1 is a station
    p1, l1 = rows
    assert p1["recent_violence"] == 12 and l1["recent_violence"] == 1
    assert p1["possession_of_weapons_police_found"] == 3 and p1["weapon_search_hits_police_found"] == 1
    assert p1["hot_cells_near"] > l1["hot_cells_near"] >= 1 and p1["nearest_hot_cell_m"] == 0.0
    assert p1["score"] == pytest.approx(1.0) and 0 < l1["score"] < p1["score"]
    assert p1["forecast_harm"] > l1["forecast_harm"] > 0
    assert "12 violence and robbery crimes in the 12 weeks to 2024-02-21" in p1["reasons"]
    assert (
        "3 Possession of weapons crimes, 1 weapon searches with a find or positive outcome (police-found)"
        in p1["reasons"]
    )
    assert r.params["hot_cells_used"] == 9
    text = "\n".join(r.lines())
    assert "1. Near Park (open-space): score 1.00" in text and "2. Cut Through (alley)" in text
    assert_no_person_columns(r.to_table())
    assert json.loads(r.to_table().schema.metadata[b"params"])["radius_m"] == 300.0


def test_limit_and_radius(sweep_store: duckdb.DuckDBPyConnection) -> None:
    surface = grid_surface(near_a)
    one = suggest_sweeps(sweep_store, surface, hot_top=9, limit=1)
    assert one.table.column("place_id").to_pylist() == ["P1"]
    assert any("1 more candidate" in n for n in one.notes)
    tight = suggest_sweeps(sweep_store, surface, hot_top=1, radius_m=50.0)
    assert len(tight) <= 1


def test_a_given_hot_cell_mask_decides_where(sweep_store: duckdb.DuckDBPyConnection) -> None:
    surface = grid_surface(near_a)
    units = surface.units
    mask = np.hypot(units.x - PARK_FAR[0], units.y - PARK_FAR[1]) < 200  # "persistent" cells by the far park
    r = suggest_sweeps(sweep_store, surface, hot_cells=mask)
    assert r.table.column("place_id").to_pylist() == ["P2"]
    assert r.params["hot_cells_from"] == "given mask" and r.params["hot_cells_used"] == int(mask.sum())
    by_index = suggest_sweeps(sweep_store, surface, hot_cells=np.flatnonzero(mask))
    assert by_index.table.column("place_id").to_pylist() == ["P2"]
    with pytest.raises(ValueError, match="mask has 3 entries"):
        suggest_sweeps(sweep_store, surface, hot_cells=np.array([True, False, True]))
    nothing = suggest_sweeps(sweep_store, surface, hot_cells=np.zeros(len(units), dtype=bool))
    assert len(nothing) == 0 and "selects no cells" in nothing.notes[0]


def test_no_places_of_those_kinds_is_an_empty_result_with_a_note(tmp_path: Path) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    add_place(con, "S1", "station", "Alpha", *STATION_A)
    add_event(con, *PARK_NEAR, "2024-02-01 22:00")
    r = suggest_sweeps(con, grid_surface(near_a))
    con.close()
    assert len(r) == 0 and r.table.num_rows == 0 and "place_id" in r.table.column_names
    note = r.notes[0]
    assert "'open-space' or 'alley'" in note and "safestreets places load FILE --kind open-space" in note
    assert "loaded kinds: station" in note
    assert any("no places of kind" in line for line in r.lines())


def test_places_far_from_every_hot_cell_give_a_note(sweep_store: duckdb.DuckDBPyConnection) -> None:
    surface = grid_surface(near_a)  # the hottest cell is the one holding station A: 530000-530250 east
    r = suggest_sweeps(sweep_store, surface, kinds=("open-space",), hot_top=1, radius_m=10.0)
    assert len(r) == 0
    assert r.notes == ["none of the 2 open-space place(s) lies within 10 m of a hot cell (nearest 25 m)"]
    near = suggest_sweeps(sweep_store, surface, kinds=("open-space",), hot_top=1, radius_m=30.0)
    assert near.table.column("place_id").to_pylist() == ["P1"]
    station = suggest_sweeps(sweep_store, surface, kinds=("station",), hot_top=1, radius_m=10.0)
    assert station.table.column("nearest_hot_cell_m").to_pylist() == [0.0]
    none = suggest_sweeps(sweep_store, surface, kinds=("open-space",), hot_top=0)
    assert len(none) == 0 and none.notes == ["no hot cells: hot_top is 0"]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_city(tmp_path_factory.mktemp("city") / "ws")


def test_sweeps_on_the_synthetic_city(city: Path) -> None:
    con = open_store(Workspace(city), read_only=True)
    try:
        r = suggest_sweeps(con, None, hot_top=40, radius_m=400.0)
    finally:
        con.close()
    assert len(r) >= 1
    assert set(r.table.column("kind").to_pylist()) == {"open-space"}
    assert any("'alley'" in n for n in r.notes)  # the synthetic city has no alleys, and says so
    top = r.table.to_pylist()[0]
    assert top["hot_cells_near"] >= 1 and top["recent_violence"] > 0 and top["forecast_harm"] > 0
    assert r.provenance["forecast"]["model"] == "kde"
    assert_no_person_columns(r.to_table())
