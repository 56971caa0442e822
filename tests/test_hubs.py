"""Transport hubs: scores, deployments and reasons on a hand-built store, then on the synthetic city.

The helpers at the top build small stores with known answers; test_sweeps and test_incident use them too.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import shapely

from safestreets.config import Workspace
from safestreets.forecast.store import Surface, save_surface
from safestreets.geo.units import make_grid
from safestreets.plan.common import combine, ordinal
from safestreets.plan.hubs import DAYS, DEFAULT_HUB_WEIGHTS, busiest_text, rank_hubs
from safestreets.store import open_store

# Columns that would describe a person or a single record: none may appear in a planning output.
PERSON_COLUMNS = {
    "gender", "age_range", "self_defined_ethnicity", "officer_defined_ethnicity", "search_id", "event_id",
    "crime_id", "removal_more_than_outer", "occurred_at", "lsoa_name",
}  # fmt: skip

X0, Y0 = 529_000.0, 179_000.0  # south-west corner of the test grid (British National Grid)
STATION_A = (530_125.0, 180_125.0)  # next to the violence cluster
STATION_B = (531_500.0, 181_500.0)  # a little violence, and police-found weapons crime
STATION_C = (532_800.0, 182_800.0)  # nothing near it


# --- helpers shared with test_sweeps and test_incident ---------------------------------------------------


def add_event(
    con: duckdb.DuckDBPyConnection,
    x: float,
    y: float,
    when: str,
    crime_type: str = "Violence and sexual offences",
    *,
    source: str = "force-records",
    force: str = "metropolitan",
) -> None:
    """One event; ``when`` is local time ("2024-02-02 21:00") or a month ("2024-02") for month-only data."""
    month_only = len(when) == 7
    month = f"{when}-01" if month_only else when[:7] + "-01"
    n = int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])
    con.execute(
        "INSERT INTO events (event_key, force, month, occurred_at, crime_type, harm, x, y, source, batch_id) "
        "VALUES (?, ?, ?::DATE, ?::TIMESTAMPTZ, ?, 100.0, ?, ?, ?, 1)",
        [f"e{n}", force, month, None if month_only else when, crime_type, x, y, source],
    )


def add_search(
    con: duckdb.DuckDBPyConnection,
    x: float | None,
    y: float | None,
    when: str,
    *,
    legislation: str = "Police and Criminal Evidence Act 1984 (section 1)",
    obj: str = "Offensive weapons",
    outcome: str = "A no further action disposal",
    linked: bool | None = False,
    force: str = "metropolitan",
) -> None:
    con.execute(
        "INSERT INTO stop_searches (force, month, occurred_at, x, y, gender, age_range, legislation, "
        "object_of_search, outcome, outcome_linked, source, batch_id) "
        "VALUES (?, ?::DATE, ?::TIMESTAMPTZ, ?, ?, 'Male', '18-24', ?, ?, ?, ?, 'police.uk', 1)",
        [force, when[:7] + "-01", when, x, y, legislation, obj, outcome, linked],
    )


def add_place(con: duckdb.DuckDBPyConnection, pid: str, kind: str, name: str, x: float, y: float) -> None:
    con.execute(
        "INSERT INTO places (place_id, kind, name, x, y, attributes, batch_id) VALUES (?, ?, ?, ?, ?, '{}', 1)",
        [pid, kind, name, x, y],
    )


def grid_surface(harm_at: Any = None, *, size: float = 4000.0) -> Surface:
    """A 250 m grid over a 4 km square; expected harm 1.0 per cell, or ``harm_at(x, y)`` per cell centre."""
    units = make_grid(shapely.box(X0, Y0, X0 + size, Y0 + size), 250.0)
    harm = (
        np.ones(len(units))
        if harm_at is None
        else np.array([harm_at(a, b) for a, b in zip(units.x, units.y, strict=True)])
    )
    meta = {"model": "test", "window": ["2024-03-01T00:00:00", "2024-04-01T00:00:00"],
            "data": {"target": {"name": "violence"}}, "units": {"kind": "grid", "cell_size_m": 250.0}}  # fmt: skip
    return Surface(units, harm / 100.0, harm, "harm", meta)


def near_a(x: float, y: float) -> float:
    """Forecast harm that peaks at station A and fades with distance."""
    return 100.0 * math.exp(-math.hypot(x - STATION_A[0], y - STATION_A[1]) / 300.0) + 0.1


def assert_no_person_columns(table: pa.Table) -> None:
    assert not PERSON_COLUMNS & set(table.column_names), table.column_names


@pytest.fixture
def hub_store(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Three stations: A beside 20 Friday-night violent crimes and 4 weapon finds, B with 3 crimes and 5
    Possession of weapons crimes, C with nothing."""
    con = open_store(Workspace(tmp_path / "ws"))
    for pid, name, (x, y) in (
        ("A", "Alpha", STATION_A),
        ("B", "Bravo", STATION_B),
        ("C", "Charlie", STATION_C),
    ):
        add_place(con, pid, "station", name, x, y)
    rng = np.random.default_rng(1)
    fridays = ["2024-02-02", "2024-02-09", "2024-02-16", "2024-02-23"]
    for k in range(20):
        dx, dy = rng.uniform(-100, 100, 2)
        add_event(con, STATION_A[0] + dx, STATION_A[1] + dy, f"{fridays[k % 4]} {21 + k % 3}:15")
    for day in ("2024-02-05 10:00", "2024-02-12 10:00", "2024-02-19 10:00"):
        add_event(con, STATION_B[0] + 50, STATION_B[1], day, "Robbery")
    for k in range(5):
        add_event(con, STATION_B[0], STATION_B[1] + 30, f"2024-01-1{k} 15:00", "Possession of weapons")
    add_event(con, STATION_A[0] + 200, STATION_A[1], "2023-06-01 12:00")  # before the 12-week window
    for k in range(4):
        add_search(
            con, STATION_A[0] + 20, STATION_A[1], f"2024-02-0{k + 1} 22:00", linked=True, outcome="Arrest"
        )
    for k in range(2):
        add_search(con, STATION_A[0] - 20, STATION_A[1], f"2024-02-1{k} 22:00")  # weapons, nothing found
    add_search(con, STATION_A[0], STATION_A[1], "2024-02-12 22:00", legislation="Misuse of Drugs Act 1971 "
               "(section 23)", obj="Controlled drugs", outcome="Arrest", linked=True)  # fmt: skip
    yield con
    con.close()


# --- the hand-built store ---------------------------------------------------------------------------------


def test_station_next_to_the_violence_ranks_first_and_the_far_one_last(
    hub_store: duckdb.DuckDBPyConnection,
) -> None:
    r = rank_hubs(hub_store, grid_surface(near_a), budget=3)
    hubs = r.hubs.to_pylist()
    assert [h["place_id"] for h in hubs] == ["A", "B", "C"]
    a, b, c = hubs
    assert a["recent_violence"] == 20 and b["recent_violence"] == 3 and c["recent_violence"] == 0
    assert a["weapon_searches"] == 6 and a["weapon_search_hits"] == 4
    assert b["possession_of_weapons_police_found"] == 5 and b["weapon_search_hits"] == 0
    assert a["forecast_harm_rank"] == 1 and c["forecast_harm_rank"] == 3
    assert a["score"] == pytest.approx(1.0) and c["score"] < b["score"] < a["score"]
    assert a["busiest"] == "Fri 20:00-02:00"


def test_budget_is_respected_and_a_dominant_hub_takes_several_slots(
    hub_store: duckdb.DuckDBPyConnection,
) -> None:
    surface = grid_surface(near_a)
    for budget in (0, 1, 3, 7):
        r = rank_hubs(hub_store, surface, budget=budget)
        assert r.deployments.num_rows == budget
    deps = rank_hubs(hub_store, surface, budget=3).deployments.to_pylist()
    assert (deps[0]["place_id"], deps[0]["day"], deps[0]["start"], deps[0]["end"]) == (
        "A",
        "Fri",
        "20:00",
        "02:00",
    )
    assert [d["deployment"] for d in deps] == [1, 2, 3]
    assert [d["place_id"] for d in deps] == ["A", "A", "A"]  # A dominates: its next-best slots beat B's best
    assert len({(d["day"], d["start"]) for d in deps}) == 3
    assert all(d["value"] >= e["value"] for d, e in itertools.pairwise(deps))
    capped = rank_hubs(hub_store, surface, budget=3, max_per_hub=1).deployments.to_pylist()
    assert [d["place_id"] for d in capped] == ["A", "B", "C"]


def test_reasons_quote_the_numbers(hub_store: duckdb.DuckDBPyConnection) -> None:
    r = rank_hubs(hub_store, grid_surface(near_a), budget=2)
    a = r.reasons["A"]
    assert a[0].startswith("forecast violence harm in 400 m: ") and a[0].endswith("(1st of 3 stations)")
    assert "20 violence and robbery crimes in the 12 weeks to 2024-02-23" in a
    assert any(
        s.startswith("4 of 6 weapon searches had a find or positive outcome") and "police-found" in s
        for s in a
    )
    assert any(
        s.startswith("busiest: Fri 20:00-02:00 (21 timed violent crimes nearby, last 52 weeks)") for s in a
    )
    assert "5 Possession of weapons crimes in the 12 months to 2024-02-23 (police-found)" in r.reasons["B"]
    first = r.deployments.to_pylist()[0]["reasons"]
    assert "Fri 20:00-02:00: " in first and "of the violence near here falls in this slot" in first
    text = "\n".join(r.lines())
    assert "1. Alpha (station), Fri 20:00-02:00" in text and "police-found" in text
    assert "0.5 x forecast harm + 0.35 x recent violence + 0.15 x weapon search hits" in text


def test_no_stop_and_search_data_is_not_zero_searches(hub_store: duckdb.DuckDBPyConnection) -> None:
    """Without stop-and-search records in the window, hubs say so (not "0 of 0 weapon searches") and the
    component leaves the score instead of scoring every hub zero on it."""
    with_data = rank_hubs(hub_store, grid_surface(near_a), budget=2)
    hub_store.execute("DELETE FROM stop_searches")
    r = rank_hubs(hub_store, grid_surface(near_a), budget=2)
    span = "2023-02-24 to 2024-02-23"  # the 12 months of weapon signals
    assert any(n.startswith(f"no stop-and-search data covers {span}") for n in r.notes)
    for reasons in r.reasons.values():
        assert f"weapon searches: no stop-and-search data covers {span}" in reasons
        assert not any("of 0 weapon searches" in s for s in reasons)
    assert r.hubs.column("weapon_searches").null_count == r.hubs.num_rows
    assert r.hubs.column("weapon_search_hits").null_count == r.hubs.num_rows
    # The score is the weighted mean of what is known: B (no weapon search hits) is no longer held at zero
    # on a component that has no data.
    b_before = next(h["score"] for h in with_data.hubs.to_pylist() if h["place_id"] == "B")
    b_after = next(h["score"] for h in r.hubs.to_pylist() if h["place_id"] == "B")
    assert b_after == pytest.approx(b_before / (1 - DEFAULT_HUB_WEIGHTS["weapon_search_hits"]))


def test_forecast_harm_is_area_weighted_over_the_catchment(hub_store: duckdb.DuckDBPyConnection) -> None:
    r = rank_hubs(hub_store, grid_surface(), budget=1)  # harm 1 per 250 m cell
    expected = math.pi * 400.0**2 / 250.0**2  # 8.04 cells' worth inside a 400 m circle
    got = {h["place_id"]: h["forecast_harm"] for h in r.hubs.to_pylist()}
    assert got["A"] == pytest.approx(expected, rel=0.01) and got["B"] == pytest.approx(expected, rel=0.01)
    # C is 200 m from the grid's edge: only the part of its circle over the grid counts.
    edge = shapely.box(X0, Y0, X0 + 4000, Y0 + 4000).intersection(shapely.Point(STATION_C).buffer(400, 64))
    assert got["C"] == pytest.approx(edge.area / 250.0**2, rel=0.01) and got["C"] < 0.7 * expected


def test_police_found_weapons_crime_is_context_unless_weighted(hub_store: duckdb.DuckDBPyConnection) -> None:
    surface = grid_surface()  # flat forecast: violence and weapon signals decide
    default = rank_hubs(hub_store, surface, budget=1)
    assert default.params["weights"]["possession_of_weapons"] == 0.0
    assert default.hubs.column("place_id").to_pylist()[0] == "A"
    heavy = rank_hubs(hub_store, surface, budget=1, weights={"possession_of_weapons": 10.0})
    assert heavy.hubs.column("place_id").to_pylist()[0] == "B"
    with pytest.raises(ValueError, match="unknown weight"):
        rank_hubs(hub_store, surface, weights={"knives": 1.0})


def test_stored_forecast_is_used_when_no_surface_is_given(hub_store: duckdb.DuckDBPyConnection) -> None:
    none = rank_hubs(hub_store, None, budget=1)
    assert any("no forecast" in n for n in none.notes)
    assert all(math.isnan(v) for v in none.hubs.column("forecast_harm").to_pylist())
    assert none.hubs.column("place_id").to_pylist()[0] == "A"  # violence alone still puts A first
    surface = grid_surface(near_a)
    run_id = save_surface(hub_store, surface)
    stored = rank_hubs(hub_store, None, budget=1)
    given = rank_hubs(hub_store, surface, budget=1)
    assert stored.hubs.column("forecast_harm").to_pylist() == pytest.approx(
        given.hubs.column("forecast_harm").to_pylist()
    )
    assert stored.provenance["forecast"]["run_id"] == run_id


def test_outputs_carry_provenance_and_no_person_level_columns(hub_store: duckdb.DuckDBPyConnection) -> None:
    r = rank_hubs(hub_store, grid_surface(near_a), budget=2, weeks_back=8)
    for table in (r.to_table(), r.hubs_table()):
        assert_no_person_columns(table)
        meta = table.schema.metadata
        assert json.loads(meta[b"params"])["weeks_back"] == 8
        prov = json.loads(meta[b"provenance"])
        assert prov["source"] == "force-records" and prov["data_months"] == ["2023-06", "2024-02"]
        assert prov["windows"]["recent"]["start"].startswith("2023-12-30")
    assert "in the 8 weeks to 2024-02-23" in r.reasons["A"][1]


def test_month_only_data_counts_three_months_and_gives_no_times(tmp_path: Path) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    add_place(con, "A", "station", "Alpha", *STATION_A)
    add_place(con, "C", "station", "Charlie", *STATION_C)
    for month, n in (("2023-11", 7), ("2023-12", 2), ("2024-01", 3), ("2024-02", 4)):
        for _ in range(n):
            add_event(con, STATION_A[0] + 10, STATION_A[1], month, source="police.uk")
    r = rank_hubs(con, None, budget=3)
    con.close()
    assert r.hubs.column("recent_violence").to_pylist() == [9, 0]  # Dec-Feb; November is out
    assert "9 violence and robbery crimes in the 3 months 2023-12 to 2024-02" in r.reasons["A"]
    deps = r.deployments.to_pylist()
    assert [d["place_id"] for d in deps] == ["A"]  # one per hub without times; C has nothing to offer
    assert deps[0]["day"] == "" and any("month-only" in n for n in r.notes)


def test_no_stations_is_an_empty_result_with_a_note(tmp_path: Path) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    add_event(con, *STATION_A, "2024-02-02 21:00")
    r = rank_hubs(con, None)
    con.close()
    assert r.hubs.num_rows == 0 and r.deployments.num_rows == 0
    assert "places load" in r.notes[0] and "'station'" in r.notes[0]
    assert r.lines()[0].startswith("Transport hubs: 0 deployment(s)")


def test_helpers() -> None:
    assert [ordinal(k) for k in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"
    ]  # fmt: skip
    share = np.zeros((7, 4))
    share[DAYS.index("Fri"), 3] = share[DAYS.index("Sat"), 3] = 0.4
    share[DAYS.index("Mon"), 1] = 0.2
    assert busiest_text(share, 6, 2) == "Fri-Sat 20:00-02:00"
    scores = combine({"a": np.array([2.0, 1.0, 0.0]), "b": np.array([np.nan] * 3)}, {"a": 1.0, "b": 1.0})
    assert scores.tolist() == [1.0, 0.5, 0.0]  # an all-NaN component drops out of the mean


# --- the synthetic city -----------------------------------------------------------------------------------


def build_city(root: Path) -> Path:
    """A small synthetic city loaded the way the demo loads it, with a stored KDE violence forecast."""
    from safestreets.api.demo import load_city_areas_and_places
    from safestreets.evaluate.forecast_run import run_forecast
    from safestreets.store.ingest import ingest_policeuk
    from safestreets.store.records import ingest_force_records
    from safestreets.synthetic import CityConfig, generate_city

    city = root / "synthetic-city"
    generate_city(city, CityConfig(seed=7, n_events=12_000, months=12))
    con = open_store(Workspace(root))
    try:
        load_city_areas_and_places(con, city)
        ingest_policeuk(con, city / "police_uk")
        for records in sorted((city / "force_records").glob("*-records.csv")):
            ingest_force_records(
                con, records, records.with_name(records.name.replace("-records.csv", "-mapping.toml"))
            )
        run_forecast(con, target="violence", model="kde")
    finally:
        con.close()
    return root


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_city(tmp_path_factory.mktemp("city") / "ws")


def test_hubs_on_the_synthetic_city(city: Path) -> None:
    con = open_store(Workspace(city), read_only=True)
    try:
        n_stations = int(con.execute("SELECT count(*) FROM places WHERE kind = 'station'").fetchall()[0][0])
        r = rank_hubs(con, None, budget=5)
    finally:
        con.close()
    assert r.hubs.num_rows == n_stations > 3
    assert r.deployments.num_rows == 5
    top = r.hubs.to_pylist()[0]
    assert top["recent_violence"] > 0 and top["forecast_harm"] > 0 and top["score"] > 0.5
    assert r.hubs.column("score").to_pylist() == sorted(r.hubs.column("score").to_pylist(), reverse=True)
    assert all(d["day"] in DAYS and d["start"] for d in r.deployments.to_pylist())
    assert r.provenance["source"] == "force-records" and r.provenance["forecast"]["model"] == "kde"
    assert any(line.strip().startswith("busiest: ") for line in r.lines())
    assert_no_person_columns(r.to_table())


def test_places_closer_than_a_street_crossing_are_one_place() -> None:
    from safestreets.plan.hubs import SAME_PLACE_M, same_place

    x = np.array([0.0, 60.0, 1000.0, 1100.0, 1200.0, 5000.0])
    y = np.zeros(6)
    # 0 and 1: one station in two files; 2-3-4: a chain, each under the distance from the next; 5 alone.
    assert same_place(x, y).tolist() == [0, 0, 2, 2, 2, 5]
    assert same_place(x, y, within=50.0).tolist() == [0, 1, 2, 3, 4, 5]
    assert SAME_PLACE_M < 250  # two London stations a short walk apart stay two places
    assert same_place(np.zeros(0), np.zeros(0)).tolist() == []
