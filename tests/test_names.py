"""Places are named for people: grid cells by the police.uk street most of their crime is "on or near",
areas by their loaded names, command units by name in the resources file, and the names reach every
output (forecast table and exports, plan exports, patrol cards, the briefing, the change table).

A toy store checks the naming rules; the synthetic city and the real City of London data check that the
names reach the outputs and are the streets the data name.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
import shapely

from safestreets.api.deploy import command_unit_places
from safestreets.config import Workspace
from safestreets.errors import InputError
from safestreets.forecast.store import Surface, read_surface, save_surface
from safestreets.geo.names import clean_location, unit_names
from safestreets.geo.units import make_grid, polygon_units
from safestreets.plan.resources import read_resources
from safestreets.store import open_store
from test_cli import run

# --- the naming rules on a toy store -------------------------------------------------------------------

#: (x, y, location text, events): a 3 x 3 grid of 100 m cells over (0, 0)-(300, 300).
TOY_EVENTS = [
    (90, 90, "On or near High Street", 3),  # E0N0: a tie between two streets goes to the first a-z
    (10, 10, "On or near Acacia Avenue", 3),
    (150, 50, "On or near Supermarket", 5),  # E100N0: a street beats a kind of place, however many
    (190, 50, "On or near Mill Lane", 1),
    (250, 50, "On or near Parking Area", 4),  # E200N0: only a kind of place: said with the nearest street
    (50, 250, "On or near Dean'S Court", 1),  # E0N200: police.uk's capitals tidied
    (55, 255, "On or near ", 9),  # no street: not a name
    (60, 260, "No Location", 9),
    (250, 250, "12 Acacia Avenue", 9),  # E200N200: a force's own address is never used
]


def _toy_store(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = open_store(Workspace(tmp_path / "ws"))
    for x, y, text, n in TOY_EVENTS:
        for _ in range(n):
            con.execute(
                "INSERT INTO events (force, month, crime_type, x, y, location, source, batch_id) "
                "VALUES ('toy', DATE '2024-01-01', 'Robbery', ?, ?, ?, 'police.uk', 1)",
                [x, y, text],
            )
    whole = shapely.to_wkb(shapely.box(0, 0, 300, 300))
    for code, name, kind in (("L1", "Testville 001A", "lsoa21"), ("B1", "Testville", "borough")):
        con.execute("INSERT INTO areas (code, name, kind, geometry, batch_id) VALUES (?, ?, ?, ?, 2)",
                    [code, name, kind, whole])  # fmt: skip
    return con


def test_clean_location() -> None:
    assert clean_location("On or near Cheapside") == "Cheapside"
    assert clean_location("On or near St Martin'S Le Grand") == "St Martin's Le Grand"
    assert clean_location("On or near ") == "" and clean_location(None) == ""


def test_grid_cells_are_named_by_their_streets(tmp_path: Path) -> None:
    con = _toy_store(tmp_path)
    units = make_grid(shapely.box(0, 0, 300, 300), 100.0)
    names = dict(zip(units.ids, unit_names(con, units), strict=True))
    assert names == {
        "E0N0": "Acacia Avenue, Testville",  # 3 each: a-z
        "E100N0": "Mill Lane, Testville",
        "E200N0": "Parking Area near Mill Lane, Testville",
        "E0N100": "near High Street, Testville",  # no events: the nearest street in the cells around
        "E100N100": "near High Street, Testville",
        "E200N100": "near Mill Lane, Testville",
        "E0N200": "Dean's Court, Testville",
        "E100N200": "near Dean's Court, Testville",
        "E200N200": "Testville 001A",  # no street near: the LSOA holding it (its name says the borough)
    }
    # The same data, the same names.
    assert list(unit_names(con, units)) == [names[u] for u in units.ids]
    con.close()


def test_area_units_carry_their_loaded_names(tmp_path: Path) -> None:
    con = _toy_store(tmp_path)
    con.execute("INSERT INTO areas (code, kind, geometry, batch_id) VALUES ('L2', 'lsoa21', ?, 2)",
                [shapely.to_wkb(shapely.box(300, 0, 400, 300))])  # fmt: skip
    units = polygon_units(np.array(["L1", "L2"], dtype=object),
                          np.array([shapely.box(0, 0, 300, 300), shapely.box(300, 0, 400, 300)]), kind="lsoa21")  # fmt: skip
    assert list(unit_names(con, units)) == ["Testville 001A", ""]  # L2 has no name: shown by its code
    con.close()


def _surface(units: Any) -> Surface:
    n = len(units.ids)
    meta = {"model": "naive", "window": ["2024-01-01", "2024-02-01"], "units": {"kind": units.kind},
            "data": {"target": {"name": "robbery"}}}  # fmt: skip
    return Surface(units, np.arange(n, dtype="float64"), np.arange(n, dtype="float64"), "count", meta)


def test_names_are_stored_with_the_forecast(tmp_path: Path) -> None:
    con = _toy_store(tmp_path)
    units = make_grid(shapely.box(0, 0, 300, 300), 100.0)
    run_id = save_surface(con, _surface(units))
    stored = dict(con.execute("SELECT unit_id, name FROM forecasts WHERE run_id = ?", [run_id]).fetchall())
    assert stored["E100N0"] == "Mill Lane, Testville"
    surface = read_surface(con, run_id)
    i = list(surface.ids).index("E0N0")
    assert surface.place(i) == "Acacia Avenue, Testville"
    # A run stored before units had names is named when read (and not stored: the store may be read-only).
    con.execute("UPDATE forecasts SET name = NULL WHERE run_id = ?", [run_id])
    assert read_surface(con, run_id).place(i) == "Acacia Avenue, Testville"
    assert con.execute("SELECT count(name) FROM forecasts").fetchall()[0][0] == 0
    # The exports carry a name field.
    from safestreets.forecast.store import export_surface

    con.execute("UPDATE forecasts SET name = 'Mill Lane, Testville' WHERE unit_id = 'E100N0'")
    out = export_surface(con, run_id, tmp_path / "surface.geojson")
    props = {f["properties"]["unit_id"]: f["properties"] for f in json.loads(out.read_text())["features"]}
    assert props["E100N0"]["name"] == "Mill Lane, Testville"
    con.close()


# --- command unit names in the resources file ----------------------------------------------------------

NAMES = {"central-east": "Central East", "central-north": "Central North", "E09000030": "Tower Hamlets",
         "E09000001": "City of London"}  # fmt: skip


def _resources(tmp_path: Path, *rows: str, places: dict[str, str] | None = None) -> Any:
    path = tmp_path / "teams.csv"
    path.write_text("bcu,shift,teams\n" + "\n".join(rows) + "\n", "utf-8")
    return read_resources(path, places=places)


def test_resources_take_names_in_any_case(tmp_path: Path) -> None:
    places = command_unit_places(NAMES, np.array(["central-east", "central-north"]))
    res = _resources(tmp_path, "Central East,early,1", "central-north,late,2", "CENTRAL  east,night,1",
                     "tower hamlets,early,1", "E09000001,late,1", "*,late,3", places=places)  # fmt: skip
    assert res.teams == {("central-east", "early"): 1, ("central-north", "late"): 2, ("central-east", "night"): 1,
                         ("E09000030", "early"): 1, ("E09000001", "late"): 1, ("*", "late"): 3}  # fmt: skip
    # The forecast's own command units count even where no area of that code is loaded ('all').
    places = command_unit_places(NAMES, np.array(["all"]))
    assert _resources(tmp_path, "all,early,1", places=places).teams == {("all", "early"): 1}
    # Without names the code is taken as written, as before.
    assert _resources(tmp_path, "Central East,early,1").teams == {("Central East", "early"): 1}


def test_resources_refuse_an_unknown_name_with_a_suggestion(tmp_path: Path) -> None:
    places = command_unit_places(NAMES, np.array(["central-east"]))
    with pytest.raises(InputError) as err:
        _resources(tmp_path, "Central East,early,1", "Centrall Eest,late,1", places=places)
    text = str(err.value)
    assert "teams.csv, row 2" in text and "'bcu'" in text and "did you mean 'Central East'" in text
    with pytest.raises(InputError, match="given twice"):  # a name and its code are the same unit
        _resources(tmp_path, "Central East,early,1", "central-east,early,2", places=places)


def test_a_name_two_kinds_share_means_the_forecasts_unit() -> None:
    names = {"westminster-bcu": "Westminster", "E09000033": "Westminster"}
    assert command_unit_places(names, np.array(["westminster-bcu"]))["Westminster"] == "westminster-bcu"
    assert command_unit_places(names, np.array(["E09000033"]))["Westminster"] == "E09000033"


# --- the synthetic city ---------------------------------------------------------------------------------


def test_demo_city_names_reach_every_output(demo_city: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(demo_city / "safestreets.duckdb"), read_only=True)
    names = dict(con.execute("SELECT unit_id, name FROM forecasts WHERE run_id = 1").fetchall())
    streets = {r[0].removeprefix("On or near ") for r in con.execute(
        "SELECT DISTINCT location FROM events WHERE location LIKE 'On or near %'").fetchall()}  # fmt: skip
    boroughs = {r[0] for r in con.execute("SELECT name FROM areas WHERE kind = 'borough'").fetchall()}
    bcus = dict(con.execute("SELECT code, name FROM areas WHERE kind = 'bcu'").fetchall())
    con.close()
    assert names and all(names.values()), "every cell of the synthetic city has a name"
    for name in names.values():
        place, _, borough = name.rpartition(", ")
        if not place:  # no street in or around the cell: its LSOA, named after its borough
            assert name.rsplit(" ", 1)[0] in boroughs, name
            continue
        assert borough in boroughs, name
        street = place.rpartition(" near ")[2].removeprefix("near ")
        assert street in streets, name
    outputs = demo_city / "outputs"
    with next(outputs.glob("plan-*-hotspots.csv")).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["name"] == names[r["unit_id"]] for r in rows)
    con = duckdb.connect(str(demo_city / "safestreets.duckdb"), read_only=True)
    areas = dict(con.execute("SELECT code, name FROM areas WHERE name IS NOT NULL").fetchall())
    con.close()
    assert all(r["neighbourhood_name"] == areas[r["neighbourhood"]] for r in rows)  # the LSOA's name beside its code
    with next(outputs.glob("plan-*-visits.csv")).open(newline="") as fh:
        assert all(r["name"] == names[r["unit_id"]] for r in csv.DictReader(fh))
    geo = json.loads(next(outputs.glob("forecast-*-run1.geojson")).read_text())
    assert all(f["properties"]["name"] == names[f["properties"]["unit_id"]] for f in geo["features"])
    cards = next(outputs.glob("patrol-cards-*.html")).read_text("utf-8")
    street = rows[0]["name"].rpartition(", ")[0]  # a card whose stops share a borough says it once, on top
    assert f"<b>{rows[0]['name']}</b>" in cards or f"<b>{street}</b>" in cards
    assert rows[0]["unit_id"] in cards
    assert any(name in cards for name in bcus.values()) and "BCU " not in cards
    brief = next(outputs.glob("tactical-assessment-*.html")).read_text("utf-8")
    assert rows[0]["name"] in brief and any(f"<h3>{name}</h3>" in brief for name in bcus.values())


def test_demo_city_tables_show_names(demo_city: Path) -> None:
    con = duckdb.connect(str(demo_city / "safestreets.duckdb"), read_only=True)
    bcu_name = con.execute("SELECT name FROM areas WHERE kind = 'bcu' ORDER BY code").fetchall()[0][0]
    names = dict(con.execute("SELECT unit_id, name FROM forecasts WHERE run_id = 1").fetchall())
    con.close()
    r = run("hotspots", "--forecast-run", "1", "--periods", "6", "--format", "csv", "--out",
            str(demo_city / "outputs" / "names-test.geojson"), workspace=demo_city)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(r.stdout.splitlines()))
    assert rows and all(row["place"] == names[row["unit"]] for row in rows)
    r = run("plan", "--forecast-run", "1", "--resources", str(_teams(demo_city, bcu_name)), "--no-cards",
            "--week", "2024-01-15", "--seed", "1", workspace=demo_city)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert bcu_name in r.stdout


def _teams(ws: Path, bcu_name: str) -> Path:
    path = ws / "outputs" / "names-teams.csv"
    path.write_text(f"bcu,shift,teams\n{bcu_name.lower()},early,1\n{bcu_name.upper()},late,1\n", "utf-8")
    return path


# --- real City of London data ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def city(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real City of London street files (2022-07..2023-12) with the boroughs, the 2021 LSOAs and the Met's
    borough -> BCU lookup; forecasts on 100 m cells and on LSOAs of the City, and one over the City and
    Tower Hamlets (whose command unit is a Met BCU)."""
    folder = shared_data / "police_uk" / "city_of_london"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    ws = tmp_path_factory.mktemp("names") / "ws"
    files = tmp_path_factory.mktemp("names-files")
    for f in sorted(folder.glob("202[23]-*-city-of-london-street.csv.gz")):
        shutil.copy(f, files / f.name)
    forecast = ("forecast", "--target", "violence", "--model", "kde", "--top", "0")
    for args in (("ingest", str(files)),
                 ("areas", "load", str(shared_data / "boundaries" / "london_boroughs_lad22_gen20.geojson"),
                  "--kind", "borough"),
                 ("areas", "load", str(shared_data / "boundaries" / "london_lsoa2021_gen20.geojson.gz")),
                 ("areas", "load", str(shared_data / "london" / "borough_to_met_bcu_lookup.csv")),
                 (*forecast, "--cell-size", "100", "--study-area", "borough:E09000001"),
                 (*forecast, "--units", "lsoa", "--study-area", "borough:E09000001"),
                 (*forecast, "--cell-size", "250", "--study-area", "borough:E09000001,E09000030")):  # fmt: skip
        r = run(*args, workspace=ws)
        assert r.returncode == 0, (args, r.stderr)
    return ws


@pytest.mark.realdata
def test_city_cells_are_named_by_the_streets_in_the_data(city: Path) -> None:
    con = duckdb.connect(str(city / "safestreets.duckdb"), read_only=True)
    names = dict(con.execute("SELECT unit_id, name FROM forecasts WHERE run_id = 1").fetchall())
    # The cell with the most located crime, and the street most of it is "on or near", found here apart.
    unit, street = con.execute(
        "WITH c AS (SELECT printf('E%dN%d', CAST(floor(x / 100) * 100 AS INT), CAST(floor(y / 100) * 100 AS INT)) "
        "AS unit, replace(location, 'On or near ', '') AS street FROM events "
        "WHERE location LIKE 'On or near _%' AND borough_code = 'E09000001') "
        "SELECT unit, (SELECT street FROM c c2 WHERE c2.unit = c.unit GROUP BY street ORDER BY count(*) DESC, "
        "street LIMIT 1) FROM c GROUP BY unit ORDER BY count(*) DESC LIMIT 1"
    ).fetchall()[0]  # fmt: skip
    located = {r[0] for r in con.execute("SELECT DISTINCT replace(location, 'On or near ', '') FROM events "
                                         "WHERE location LIKE 'On or near _%'").fetchall()}  # fmt: skip
    con.close()
    assert names[unit] == f"{street}, City of London"
    assert {"Bishopsgate, City of London", "Liverpool Street, City of London", "Moorgate, City of London",
            "Fleet Street, City of London"} <= set(names.values())  # fmt: skip
    for name in names.values():
        place, _, borough = name.rpartition(", ")
        if not place:  # no street near: the LSOA
            assert name.startswith("City of London 0"), name
            continue
        assert borough == "City of London", name
        street = place.rpartition(" near ")[2].removeprefix("near ")
        assert street in located or street.replace("'s", "'S") in located, name
    assert (
        sum(not n.startswith(("near ", "City of London 0")) and " near " not in n for n in names.values())
        > 100
    )


@pytest.mark.realdata
def test_city_lsoa_units_carry_lsoa_names(city: Path) -> None:
    con = duckdb.connect(str(city / "safestreets.duckdb"), read_only=True)
    rows = con.execute("SELECT f.unit_id, f.name, a.name FROM forecasts f JOIN areas a ON a.code = f.unit_id "
                       "AND a.kind = 'lsoa21' WHERE f.run_id = 2").fetchall()  # fmt: skip
    con.close()
    assert len(rows) >= 6 and all(name == loaded for _, name, loaded in rows)
    assert {name for _, name, _ in rows} >= {"City of London 001A", "City of London 001F"}


@pytest.mark.realdata
def test_city_forecast_table_and_exports_show_places(city: Path) -> None:
    r = run("forecast", "--target", "violence", "--model", "kde", "--cell-size", "100", "--study-area",
            "borough:E09000001", "--top", "3", "--format", "csv", workspace=city)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(r.stdout.splitlines()))
    assert rows[0]["place"] == "Bishopsgate, City of London" and rows[0]["unit_id"]
    geo = json.loads(next((city / "outputs").glob("forecast-violence-grid100m-*-run1.geojson")).read_text())
    assert any(f["properties"]["name"] == "Bishopsgate, City of London" for f in geo["features"])


@pytest.mark.realdata
def test_city_plan_by_bcu_name_cards_and_visits(city: Path) -> None:
    teams = city / "teams.csv"
    teams.write_text("bcu,shift,teams\nCentral East,early,1\ncentral-east,late,1\n", "utf-8")
    r = run("plan", "--forecast-run", "3", "--resources", str(teams), "--seed", "3", workspace=city)
    assert r.returncode == 0, r.stderr
    assert "Central East" in r.stdout
    con = duckdb.connect(str(city / "safestreets.duckdb"), read_only=True)
    plan_id, week = con.execute(
        "SELECT plan_id, week_start FROM plan_runs ORDER BY plan_id DESC LIMIT 1"
    ).fetchall()[0]
    spots = dict(con.execute("SELECT DISTINCT h.unit_id, f.name FROM plan_hotspots h JOIN forecasts f "
                             "ON f.run_id = 3 AND f.unit_id = h.unit_id WHERE h.plan_id = ?", [plan_id]).fetchall())  # fmt: skip
    con.close()
    assert spots and all(spots.values())
    cards = (city / "outputs" / f"patrol-cards-{week}.html").read_text("utf-8")
    assert "Central East" in cards and "BCU central-east" not in cards
    for unit, name in spots.items():
        assert unit in cards and name.rpartition(", ")[0].replace("'", "&#39;") in cards
    with (city / "outputs" / f"plan-{week}-visits.csv").open(newline="") as fh:
        visits = list(csv.DictReader(fh))
    assert visits and all(row["name"] == spots[row["unit_id"]] for row in visits)
    # A borough is not this forecast's command unit (the Met's BCU is): refused, by name and code.
    teams.write_text("bcu,shift,teams\nTower Hamlets,early,1\n", "utf-8")
    r = run("plan", "--forecast-run", "3", "--resources", str(teams), "--no-cards", workspace=city)
    assert r.returncode == 1 and "Tower Hamlets (E09000030)" in r.stderr and "Central East" in r.stderr
    teams.write_text("bcu,shift,teams\nCentrall East,early,1\n", "utf-8")
    r = run("plan", "--forecast-run", "3", "--resources", str(teams), "--no-cards", workspace=city)
    assert r.returncode == 1 and "did you mean 'Central East'" in r.stderr


@pytest.mark.realdata
def test_city_brief_lists_places(city: Path) -> None:
    r = run("plan", "--forecast-run", "1", "--teams", "1", "--seed", "2", "--no-cards", workspace=city)
    assert r.returncode == 0, r.stderr
    r = run("brief", "--forecast-run", "1", "--no-pdf", workspace=city)
    assert r.returncode == 0, r.stderr
    html = next((city / "outputs").glob("tactical-assessment-*.html")).read_text("utf-8")
    assert "Bishopsgate, City of London" in html  # the riskiest cell
    assert "#1&nbsp;Bishopsgate, City of London" in html  # and the plan's first hot spot
