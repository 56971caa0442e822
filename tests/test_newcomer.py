"""What an analyst meets in the first hour, on the real City of London files: each problem a newcomer
saw, as the command that showed it."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from test_cli import run

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def city_ws(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The City of London's files with every London borough, the Met's BCUs and the tube stations loaded,
    as the README's 'Using it' section does."""
    ws = tmp_path_factory.mktemp("city") / "ws"
    assert run("init", workspace=ws).returncode == 0
    steps = [
        ("ingest", str(shared_data / "police_uk" / "city_of_london")),
        ("areas", "load", str(shared_data / "boundaries" / "london_boroughs_lad22_gen20.geojson")),
        ("areas", "load", str(shared_data / "london" / "borough_to_met_bcu_lookup.csv")),
        ("places", "load", str(shared_data / "transport" / "tube_stations.csv"), "--kind", "station"),
        ("forecast", "--model", "kde", "--top", "3"),
    ]
    for args in steps:
        r = run(*args, workspace=ws)
        assert r.returncode == 0, (args, r.stderr)
    return ws


def _copy(ws: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(ws, target)
    return target


def test_study_area_is_where_the_data_is_not_all_of_london(city_ws: Path) -> None:
    con = duckdb.connect(str(city_ws / "safestreets.duckdb"), read_only=True)
    try:
        units, prov = con.execute("SELECT count(*), any_value(provenance) FROM forecasts JOIN forecast_runs "
                                  "USING (run_id) WHERE run_id = 1").fetchall()[0]  # fmt: skip
        bcus = {r[0] for r in con.execute("SELECT DISTINCT bcu FROM forecasts WHERE run_id = 1").fetchall()}
    finally:
        con.close()
    assert units < 200  # the City is about 3 km²: some 60 cells of 250 m, not 25,722 cells of London
    meta = json.loads(prov)["units"]
    assert meta["study"] == "borough:E09000001"
    assert "spill-over" in meta["study_area"]  # says loudly what was left out
    # no phantom command units from neighbouring boroughs' slivers
    assert len(bcus) == 1


def test_hotspots_use_the_forecast_study_area(city_ws: Path, tmp_path: Path) -> None:
    ws = _copy(city_ws, tmp_path)
    r = run("hotspots", "--forecast-run", "1", "--periods", "6", "--format", "json", workspace=ws)
    assert r.returncode == 0, r.stderr
    r = run("hotspots", "--forecast-run", "1", "--periods", "6", workspace=ws)
    units = int(re.search(r"on ([\d,]+) grid units", r.stdout)[1].replace(",", ""))  # type: ignore[index]
    assert units < 200


def test_status_lists_the_gap(city_ws: Path) -> None:
    r = run("status", "--no-by-month", workspace=city_ws)
    assert r.returncode == 0, r.stderr
    assert "2020-12 .. 2022-06 (19 months)" in r.stdout
    assert "events per month" not in r.stdout  # --no-by-month turns the matrix off


def test_bad_time_zone_is_refused_and_init_repairs_a_broken_one(city_ws: Path, tmp_path: Path) -> None:
    ws = _copy(city_ws, tmp_path)
    r = run("init", "--timezone", "Europe/Londn", workspace=ws)
    assert r.returncode == 1 and "did you mean 'Europe/London'" in r.stderr
    con = duckdb.connect(str(ws / "safestreets.duckdb"))
    con.execute("UPDATE settings SET value = 'Europe/Londn' WHERE key = 'timezone'")  # an older store
    con.close()
    r = run("status", workspace=ws)
    assert r.returncode == 1 and "init --timezone" in r.stderr and "Traceback" not in r.stderr
    assert run("init", "--timezone", "Europe/London", workspace=ws).returncode == 0
    assert run("status", workspace=ws).returncode == 0


def test_silent_no_ops_are_refused(city_ws: Path, shared_data: Path, tmp_path: Path) -> None:
    ws = _copy(city_ws, tmp_path)
    r = run("ingest", str(shared_data / "police_uk" / "city_of_london"), "--months", "2030-01", workspace=ws)
    assert r.returncode == 1 and "nothing loaded" in r.stderr
    r = run("ingest", str(shared_data / "police_uk" / "city_of_london"), "--force", "cityoflondon", workspace=ws)
    assert r.returncode == 1 and "did you mean --force city-of-london?" in r.stderr
    r = run("export", str(tmp_path / "e.csv"), "--months", "2021-01", workspace=ws)
    assert r.returncode == 1 and "no events rows match" in r.stderr and not (tmp_path / "e.csv").exists()
    r = run("plan", "--week", "2025-01-06", "--no-cards", workspace=ws)
    assert r.returncode == 1 and "outside forecast run" in r.stderr
    r = run("plan", "--week", "2024-01-02", "--no-cards", workspace=ws)
    assert r.returncode == 1 and "Tuesday" in r.stderr
    r = run("brief", "--week", "2030-01-07", "--no-pdf", workspace=ws)
    assert r.returncode == 1 and "outside forecast run" in r.stderr


def test_a_forecast_past_the_data_is_refused(city_ws: Path, tmp_path: Path) -> None:
    ws = _copy(city_ws, tmp_path)
    r = run("forecast", "--model", "kde", "--until", "2024-06", workspace=ws)
    assert r.returncode == 1 and "the data end 2024-01-01" in r.stderr
    r = run("forecast", "--model", "kde", "--until", "2024-02", "--top", "0", workspace=ws)
    assert r.returncode == 0 and "31 days before the forecast starts" in r.stdout


def test_typos_do_not_create_workspaces(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "SAFESTREETS_WORKSPACE"}
    for args in (["ingest", str(tmp_path / "no-such-folder")], ["status"]):
        r = subprocess.run([sys.executable, "-m", "safestreets", *args], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=120)  # fmt: skip
        assert r.returncode == 1, r.stderr
        assert not (tmp_path / "safestreets-workspace").exists()


def test_outputs_do_not_overwrite_each_other(city_ws: Path, tmp_path: Path) -> None:
    ws = _copy(city_ws, tmp_path)
    assert (
        run("forecast", "--model", "kde", "--target", "burglary", "--top", "0", workspace=ws).returncode == 0
    )
    r = run("forecast", "--model", "naive", "--target", "burglary", "--top", "0", workspace=ws)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in (ws / "outputs").glob("forecast-burglary-*.gpkg"))
    assert len(names) == 2, names


def test_stale_force_records_hint_is_gone() -> None:
    src = Path(__file__).resolve().parents[1] / "src"
    text = "\n".join(p.read_text("utf-8") for p in src.rglob("*.py"))
    assert "--kind force-records" not in text


def test_piped_tables_keep_ids_and_scripts_get_csv(city_ws: Path) -> None:
    r = run("areas", "list", "--format", "csv", workspace=city_ws)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {row["kind"] for row in rows} == {"borough", "bcu"}
    r = run("hotspots", "--forecast-run", "1", "--periods", "6", "--top", "5", workspace=city_ws)
    ids = re.findall(r"E\d{6}N\d{6}", r.stdout)
    assert all(len(i) == 14 for i in ids)  # never cut with an ellipsis at 80 columns


def test_case_and_did_you_mean(city_ws: Path, tmp_path: Path) -> None:
    ws = _copy(city_ws, tmp_path)
    r = run("forecast", "--model", "KDE", "--top", "0", workspace=ws)
    assert r.returncode == 0, r.stderr
    r = run("forecast", "--model", "kdee", workspace=ws)
    assert r.returncode == 2 and "did you mean 'kde'" in r.stderr
    r = run("forecast", "--target", "burglery", workspace=ws)
    assert r.returncode == 1 and "did you mean 'burglary'" in r.stderr
    res = tmp_path / "teams.csv"
    res.write_text("bcu,shift,teams\nall,Late,2\n", "utf-8")
    r = run("plan", "--resources", str(res), "--no-cards", workspace=ws)
    assert r.returncode == 0, r.stderr


def test_plan_output_has_no_solver_banner(city_ws: Path, tmp_path: Path) -> None:
    ws = _copy(city_ws, tmp_path)
    r = run("plan", "--solver", "milp", "--no-cards", workspace=ws)
    assert r.returncode == 0, r.stderr
    assert "HiGHS" not in r.stdout


def test_version_alone_and_exit_codes(tmp_path: Path) -> None:
    r = run("--version", workspace=tmp_path / "none")
    assert r.returncode == 0 and r.stdout.startswith("safestreets ")
    r = run("forecast", "--no-such-option", workspace=tmp_path / "none")
    assert r.returncode == 2
    r = run("status", workspace=tmp_path / "none")
    assert r.returncode == 1 and "no workspace" in r.stderr


def test_a_gap_in_the_data_is_not_read_as_months_without_crime(city_ws: Path, tmp_path: Path) -> None:
    """The City published nothing from 2020-12 to 2022-06. A model averaging 36 months read those 19 as
    months without crime and forecast half the usual violence, with no warning."""
    ws = _copy(city_ws, tmp_path)
    r = run("forecast", "--target", "violence", "--model", "histavg", "--top", "0", workspace=ws)
    assert r.returncode == 0, r.stderr
    assert "no data for 19 months (2020-12 to 2022-06): the forecast learns from 2022-07 on only" in r.stdout
    expected = float(re.search(r"expected ([\d,]+) violence crimes", r.stdout)[1].replace(",", ""))  # type: ignore[index]
    con = duckdb.connect(str(ws / "safestreets.duckdb"), read_only=True)
    try:
        prov = json.loads(con.execute("SELECT provenance FROM forecast_runs ORDER BY run_id DESC LIMIT 1").fetchone()[0])  # type: ignore[index]
        (recent,) = con.execute(  # located violence a month, over the last year of data
            "SELECT count(*) / 12 FROM events WHERE crime_type = 'Violence and sexual offences' "
            "AND x IS NOT NULL AND month >= DATE '2023-01-01'"
        ).fetchone()  # type: ignore[misc]
    finally:
        con.close()
    assert prov["data"]["first_month"] == "2022-07" and prov["data"]["gap"]["kept"] is False
    assert 0.7 * recent < expected < 1.3 * recent  # about the recent level, not half of it


def test_too_little_after_a_gap_keeps_the_months_before_and_says_so(city_ws: Path) -> None:
    from safestreets.forecast.data import gap_warnings, load_history
    from safestreets.forecast.targets import parse_target

    con = duckdb.connect(str(city_ws / "safestreets.duckdb"), read_only=True)
    try:
        short = load_history(con, parse_target("violence"), until="2022-12-01", with_context=False)
        whole = load_history(con, parse_target("violence"), until="2020-12-01", with_context=False)
    finally:
        con.close()
    gap = short.meta["gap"]
    assert (gap["first"], gap["last"], gap["months"], gap["kept"]) == ("2020-12", "2022-06", 19, True)
    assert short.meta["first_month"] < "2020-12"  # five months after the gap are too few to learn from
    assert "likely too low" in gap_warnings(short.meta)[0]
    assert "gap" not in whole.meta and gap_warnings(whole.meta) == []


def test_near_repeats_on_month_only_data_suggest_nothing_that_does_not_apply(city_ws: Path) -> None:
    r = run("evaluate", "near-repeat", "--target", "burglary", workspace=city_ws)
    assert r.returncode == 1
    assert "each event's day" in r.stderr and "--horizon" not in r.stderr
    r = run("forecast", "--horizon", "7d", workspace=city_ws)
    assert r.returncode == 1 and "--horizon 1m" in r.stderr


def test_the_city_s_search_rates_use_the_city_s_residents_not_london_s(
    city_ws: Path, shared_data: Path, tmp_path: Path
) -> None:
    """With the Met's command units loaded (as the README does), the City of London Police's searches were
    set against the 32 Met boroughs' 8.8 million people."""
    ws = _copy(city_ws, tmp_path)
    census = shared_data / "census2021" / "ts021_ethnic_group_lad_ew.csv.gz"
    assert run("stopsearch", "population", str(census), workspace=ws).returncode == 0
    r = run("stopsearch", "report", "--months", "2019-04:2020-03", workspace=ws)
    assert r.returncode == 0, r.stderr
    report = (ws / "outputs" / "stopsearch" / "stopsearch-report.md").read_text("utf-8")
    assert "populations of City of London;" in report
    assert "Populations of 1 borough: where the searches are placed" in report
    with (ws / "outputs" / "stopsearch" / "stopsearch-disproportionality.csv").open() as f:
        everyone = next(row for row in csv.DictReader(f) if row["ethnic_group"] == "All")
    assert 8_000 < int(everyone["population"]) < 9_000  # the City's residents (8,583 in 2021)
    # Far more searches than residents a year: every output says what that does to the rates.
    assert "most people searched here do not live here" in r.stdout


def test_teams_for_the_city_by_name_when_the_met_s_command_units_are_loaded(city_ws: Path, tmp_path: Path) -> None:
    """The City has no command unit of the Met's lookup, so its forecast has one unit for the whole area;
    a resources file naming the City gave its teams to 'a command unit that is not in the forecast'."""
    ws = _copy(city_ws, tmp_path)
    teams = tmp_path / "teams.csv"
    teams.write_text("bcu,shift,teams\nCity of London,early,2\nCity of London,late,1\n", "utf-8")
    r = run("plan", "--resources", str(teams), "--week", "2024-01-01", "--no-cards", workspace=ws)
    assert r.returncode == 0, r.stderr
    assert "3 team-shifts" in r.stdout
    teams.write_text("bcu,shift,teams\nCamden,early,2\n", "utf-8")  # somewhere the forecast does not cover
    r = run("plan", "--resources", str(teams), "--week", "2024-01-01", "--no-cards", workspace=ws)
    assert r.returncode == 1 and "not a command unit of forecast run" in r.stderr


def test_one_station_in_two_files_gets_one_deployment(city_ws: Path, shared_data: Path, tmp_path: Path) -> None:
    """With the tube's and the rail network's stations loaded, Liverpool Street took deployments 1 and 2."""
    ws = _copy(city_ws, tmp_path)
    rail = shared_data / "transport" / "naptan_rail_stations_greater_london.csv"
    assert run("places", "load", str(rail), "--kind", "station", workspace=ws).returncode == 0
    r = run("hubs", "--budget", "5", workspace=ws)
    assert r.returncode == 0, r.stderr
    deployed = re.findall(r"^\s+\d\. (.+?) \(station\)", r.stdout, re.M)
    assert len(deployed) == 5 and sum("Liverpool Street" in d for d in deployed) == 1
    assert "London Liverpool Street Rail Station is 64 m from Liverpool Street: one place" in r.stdout


def test_another_city_s_file_is_not_loaded_as_places(city_ws: Path, shared_data: Path, tmp_path: Path) -> None:
    ws = _copy(city_ws, tmp_path)
    before = duckdb.connect(str(ws / "safestreets.duckdb"), read_only=True)
    (n,) = before.execute("SELECT count(*) FROM places").fetchone()  # type: ignore[misc]
    before.close()
    nyc = shared_data / "other_cities" / "nyc_shootings_2019.csv.gz"
    r = run("places", "load", str(nyc), "--kind", "station", workspace=ws)
    assert r.returncode == 1 and "over 20 km from every event loaded" in r.stderr and "Nothing was loaded" in r.stderr
    after = duckdb.connect(str(ws / "safestreets.duckdb"), read_only=True)
    assert after.execute("SELECT count(*) FROM places").fetchone() == (n,)
    after.close()


def test_the_trend_has_no_rows_for_records_over_the_edge(city_ws: Path) -> None:
    """City records geocoded just across the boundary fall in Met command units: the overview listed those
    units with 0-7 crimes each, as codes."""
    from safestreets.api import Workspace, catalog

    ws = Workspace(city_ws, read_only=True)
    try:
        trend = catalog.trend(ws)
    finally:
        ws.close()
    total = sum(trend.series[0].events)
    assert trend.series[0].name == "citywide"
    assert all(sum(s.events) >= 0.02 * total for s in trend.series)
    assert trend.left_out and all(not k.islower() for k in trend.left_out)  # names, not slugs
    assert sum(trend.left_out.values()) < 0.1 * total
