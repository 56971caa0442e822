"""Plans from a store: stored rows match the plan, the next week's cap counts this week, exports carry
provenance and WGS84 coordinates, and a failed save leaves nothing behind."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from safestreets.config import Workspace
from safestreets.forecast.store import read_surface
from safestreets.plan.resources import POOL, Resources, Rules
from safestreets.plan.run import crs_of, export_plan, past_visits, run_plan, save_plan
from safestreets.store import open_store

PLAN_TABLES = ("plan_runs", "plan_hotspots", "plan_visits")


@pytest.fixture(scope="module")
def city(demo_city: Path) -> Path:
    return demo_city  # the session's demo run; each test works on its own copy of the store


@pytest.fixture
def con(city: Path, tmp_path: Path) -> Any:
    """A copy of the demo store per test, so tests do not see one another's plans."""
    copy = tmp_path / "ws"
    copy.mkdir()
    (copy / "safestreets.duckdb").write_bytes((city / "safestreets.duckdb").read_bytes())
    for extra in city.iterdir():
        if extra.suffix == ".toml":
            (copy / extra.name).write_bytes(extra.read_bytes())
    c = open_store(Workspace(copy))
    yield c
    c.close()


def resources_for(con: duckdb.DuckDBPyConnection, rules: Rules) -> Resources:
    bcus = sorted(set(read_surface(con).bcu) - {""})
    teams = {(b, s.name): 1 for b in bcus for s in rules.shifts}
    teams[(POOL, "late")] = 1
    return Resources(teams)


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in PLAN_TABLES}


def test_stored_rows_match_the_plan(con: duckdb.DuckDBPyConnection) -> None:
    rules = Rules(cap_share=0.25, cap_weeks=4)
    start = counts(con)["plan_runs"]  # the demo may have stored a plan already
    first = run_plan(con, resources_for(con, rules), rules, seed=11)
    plan = first.plan
    assert first.plan_id is not None and plan.teams
    row = con.execute("SELECT week_start, solver, objective, bound, gap, params FROM plan_runs "
                      "WHERE plan_id = ?", [first.plan_id]).fetchall()[0]  # fmt: skip
    assert row[0] == first.week_start and row[1] == plan.solver
    assert row[2] == pytest.approx(plan.objective) and row[3] == pytest.approx(plan.bound)
    params = json.loads(row[5])
    assert params["schedule_seed"] == 11 and params["rules"]["cap_share"] == 0.25
    hot = con.execute("SELECT team_id, unit_id, visits_per_day FROM plan_hotspots WHERE plan_id = ?",
                      [first.plan_id]).fetchall()  # fmt: skip
    ids = plan.input.ids
    expected = sorted((t.team_id, str(ids[u]), v) for t in plan.teams for u, v in t.hotspots)
    assert sorted(hot) == expected
    timed = con.execute(
        "SELECT team_id, unit_id, day FROM plan_visits WHERE plan_id = ?", [first.plan_id]
    ).fetchall()
    assert Counter(timed) == Counter((v.team_id, str(ids[v.unit]), v.day) for v in first.visits)
    assert len({d for _, _, d in timed}) == 7

    # the following week: the first week's visits count against the cap
    week2 = first.week_start + timedelta(weeks=1)
    by_nb, by_bcu = past_visits(con, week2, rules.cap_weeks)
    assert sum(by_nb.values()) == pytest.approx(7 * plan.visits.sum())
    second = run_plan(con, resources_for(con, rules), rules, week=week2, seed=12)
    assert second.plan.input.past_visits == by_nb and second.plan.input.past_bcu_visits == by_bcu
    assert second.plan.input.meta["past_visits"] == pytest.approx(7 * plan.visits.sum())
    assert not any("no stored plans" in n for n in second.notes)
    # the cap over the two weeks: no neighbourhood beyond what area_limits allowed it
    import numpy as np

    from safestreets.plan.patrol import area_limits

    nb = np.asarray(second.plan.input.area, dtype=object)
    limits = area_limits(second.plan.input, second.plan.resources, rules)
    for code, limit in limits.items():
        assert second.plan.visits[nb == code].sum() <= limit
    assert counts(con)["plan_runs"] == start + 2


def test_exports_have_provenance_and_wgs84(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rules = Rules()
    result = run_plan(con, resources_for(con, rules), rules, seed=5)
    paths = export_plan(result, tmp_path / "out", crs_of(con))
    names = {p.name for p in paths}
    stem = f"plan-{result.week_start}"
    assert names == {f"{stem}-hotspots.csv", f"{stem}-visits.csv", f"{stem}-hotspots.geojson"}
    for p in paths:
        prov = json.loads(p.with_name(p.name + ".provenance.json").read_text())
        assert prov["file"] == p.name and prov["plan_id"] == result.plan_id
        assert prov["objective"] == pytest.approx(result.plan.objective)
        assert prov["plan"]["schedule_seed"] == 5 and prov["software"].startswith("safestreets")
    geo = json.loads((tmp_path / "out" / f"{stem}-hotspots.geojson").read_text())
    feats = geo["features"]
    assert len(feats) == sum(len(t.hotspots) for t in result.plan.teams)
    for f in feats:
        lon, lat = f["geometry"]["coordinates"]
        assert -10 < lon < 5 and 45 < lat < 60
    with (tmp_path / "out" / f"{stem}-visits.csv").open(newline="") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == len(result.visits)


def test_failed_save_leaves_no_rows(con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = Rules()
    result = run_plan(con, resources_for(con, rules), rules, seed=3, save=False)
    before = counts(con)
    assert result.plan_id is None
    bad = list(result.visits)
    bad[-1] = type(bad[-1])(bad[-1].team_id, bad[-1].day, bad[-1].seq, bad[-1].unit, None, None)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - any failure inside the transaction
        save_plan(con, result.plan, result.week_start, bad, seed=3)
    assert counts(con) == before
    plan_id = save_plan(con, result.plan, result.week_start, result.visits, seed=3)
    assert counts(con)["plan_runs"] == before["plan_runs"] + 1 and plan_id


def test_forecast_without_bcus_is_planned_as_one_area(tmp_path: Path) -> None:
    """Units with no command unit (no BCU or borough boundaries loaded) plan as one area, 'all'."""
    import shapely

    from safestreets.forecast.store import WHOLE_AREA

    con = open_store(Workspace(tmp_path / "ws"))
    con.execute(
        "INSERT INTO forecast_runs (created_at, target, police_found, model, horizon, window_start, window_end, "
        "units_kind, cell_size, rank_by, provenance) VALUES (now(), 'violence', false, 'kde', '1m', "
        "'2024-01-01', '2024-02-01', 'grid', 250, 'harm', '{}')"
    )
    for i in range(12):
        x, y = 530_000 + 250 * (i % 4), 180_000 + 250 * (i // 4)
        box = shapely.box(x, y, x + 250, y + 250)
        con.execute(
            "INSERT INTO forecasts VALUES (1, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
            [f"u{i}", i + 1, 1.0, 100.0 / (i + 1), box.area, x + 125, y + 125, shapely.to_wkb(box)],
        )
    surface = read_surface(con)
    assert set(surface.bcu) == {WHOLE_AREA}
    rules = Rules()
    run = run_plan(con, Resources.uniform([WHOLE_AREA], rules.shifts, 1), rules, seed=1)
    assert run.plan.teams and {run.plan.areas[t.area].bcu for t in run.plan.teams} == {WHOLE_AREA}
    con.close()
