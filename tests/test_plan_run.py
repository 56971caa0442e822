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
    risk = {f"{stem}-shift-risk.csv"} if result.shift_risk is not None else set()  # the demo has times
    assert names == {f"{stem}-hotspots.csv", f"{stem}-visits.csv", f"{stem}-hotspots.geojson", *risk}
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
            "INSERT INTO forecasts (run_id, unit_id, bcu, rank, expected_count, expected_harm, area_m2, x, y, "
            "geometry) VALUES (1, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
            [f"u{i}", i + 1, 1.0, 100.0 / (i + 1), box.area, x + 125, y + 125, shapely.to_wkb(box)],
        )
    surface = read_surface(con)
    assert set(surface.bcu) == {WHOLE_AREA}
    rules = Rules()
    run = run_plan(con, Resources.uniform([WHOLE_AREA], rules.shifts, 1), rules, seed=1)
    assert run.plan.teams and {run.plan.areas[t.area].bcu for t in run.plan.teams} == {WHOLE_AREA}
    con.close()


def test_one_hot_spot_numbering_everywhere(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hot spot has one number in a plan: the stored plan, the hot spots CSV and GeoJSON, the visits CSV,
    every patrol card (its list, its visit times and its map, which shows only that team's hot spots) and
    the briefing's BCU maps and lists all use it."""
    import base64
    import re

    import safestreets.report.brief as brief
    import safestreets.report.cards as cards
    from safestreets.report.brief import write_brief
    from safestreets.report.cards import write_cards

    drawn: dict[str, list[tuple[float, float, str]]] = {}

    def spy(real: Any) -> Any:
        def surface_map(out_png: Any, *args: Any, **kwargs: Any) -> Path:
            drawn[Path(out_png).name] = list(kwargs.get("markers") or [])
            return real(out_png, *args, **kwargs)  # type: ignore[no-any-return]

        return surface_map

    monkeypatch.setattr(cards, "surface_map", spy(cards.surface_map))
    monkeypatch.setattr(brief, "surface_map", spy(brief.surface_map))
    rules = Rules()
    bcus = sorted(set(read_surface(con).bcu) - {""})
    run = run_plan(con, Resources.uniform(bcus, rules.shifts, 2), rules, seed=4)
    plan, ids = run.plan, run.plan.input.ids
    out = tmp_path / "out"
    export_plan(run, out, crs_of(con))
    stem = f"plan-{run.week_start}"

    # The stored plan: one number per hot spot, 1..n, the most expected harm first.
    stored = con.execute(
        "SELECT DISTINCT unit_id, hotspot, harm_week FROM plan_hotspots WHERE plan_id = ?", [run.plan_id]
    ).fetchall()
    number = {u: n for u, n, _ in stored}
    assert len(number) == len(stored) == len({u for t in plan.teams for u, _ in t.hotspots})
    assert sorted(number.values()) == list(range(1, len(number) + 1))
    by_number = sorted(stored, key=lambda r: r[1])
    assert [r[2] for r in by_number] == sorted((r[2] for r in stored), reverse=True)

    # The exports.
    with (out / f"{stem}-hotspots.csv").open(newline="") as fh:
        assert all(number[r["unit_id"]] == int(r["hotspot"]) for r in csv.DictReader(fh))
    with (out / f"{stem}-visits.csv").open(newline="") as fh:
        visits = list(csv.DictReader(fh))
    assert visits and all(number[r["unit_id"]] == int(r["hotspot"]) for r in visits)
    geo = json.loads((out / f"{stem}-hotspots.geojson").read_text())
    assert all(number[f["properties"]["unit_id"]] == f["properties"]["hotspot"] for f in geo["features"])

    # The patrol cards: the list, the times and the map of each team show its hot spots by those numbers.
    html = write_cards(run, out, pdf=False)[0].read_text("utf-8")
    images = {base64.b64encode(p.read_bytes()).decode("ascii"): p.name
              for p in (out / f"patrol-cards-{run.week_start}-maps").glob("*.png")}  # fmt: skip
    card_html = html.split('<div class="card">')[1:]
    assert len(card_html) == len(plan.teams)
    for team, text in zip(plan.teams, card_html, strict=True):
        assert f"<h1>{team.team_id} " in text
        mine = {str(ids[u]): number[str(ids[u])] for u, _ in team.hotspots}
        # Each hot spot by its place name, its unit code in small print beneath.
        listed = re.findall(
            r'<tr><td>(\d+)</td><td><b>([^<]*)</b>(?:<br><span class="code">([^<]+)</span>)?</td>', text
        )
        assert {code or name: int(n) for n, name, code in listed} == mine
        assert {int(n) for n in re.findall(r"\d\d:\d\d #(\d+)", text)} == set(mine.values())
        image = re.search(r'src="data:image/png;base64,([^"]+)"', text)
        assert image is not None
        markers = drawn[images[image.group(1)]]
        assert sorted(int(label) for _, _, label in markers) == sorted(mine.values())
        for x, y, label in markers:
            u = next(u for u, _ in team.hotspots if number[str(ids[u])] == int(label))
            assert (x, y) == (plan.input.x[u], plan.input.y[u])

    # The briefing: each BCU map's markers and the list beside it.
    result = write_brief(con, tmp_path / "brief", plan_id=run.plan_id, pdf=False)
    page = result.html.read_text("utf-8")
    at = {(round(float(x)), round(float(y))): number[u]
          for u, x, y in con.execute("SELECT DISTINCT unit_id, x, y FROM plan_hotspots WHERE plan_id = ?",
                                     [run.plan_id]).fetchall()}  # fmt: skip
    marked = 0
    for b in bcus:
        for x, y, label in drawn[f"forecast-{b}.png"]:
            assert at[(round(x), round(y))] == int(label)
            marked += 1
    assert marked
    listed = re.findall(r'<td>#(\d+)&nbsp;[^<]*<span class="code">([^<]+)</span></td><td class="n">', page)
    assert listed and all(number[u] == int(n) for n, u in listed)
    name = dict(con.execute("SELECT DISTINCT h.hotspot, f.name FROM plan_hotspots h JOIN forecasts f ON "
                            "f.run_id = ? AND f.unit_id = h.unit_id WHERE h.plan_id = ?",
                            [run.surface.run_id, run.plan_id]).fetchall())  # fmt: skip
    for t in result.context["plan"]["teams_list"]:
        stops = re.findall(r"#(\d+) ([^;]+)(?:; |$)", t["units"])
        assert stops and all(name[int(n)] == place for n, place in stops)


def test_visits_csv_times_are_random(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """The briefing says visits come at random times: in the exported week no team keeps one cycle (equal
    gaps between visits) or repeats a day's gaps with only the start moved."""
    from collections import defaultdict
    from datetime import datetime
    from itertools import pairwise

    rules = Rules()
    run = run_plan(con, resources_for(con, rules), rules, seed=8)
    export_plan(run, tmp_path, crs_of(con))
    starts: dict[str, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    with (tmp_path / f"plan-{run.week_start}-visits.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            starts[r["team_id"]][r["day"]].append(datetime.strptime(r["start"], "%Y-%m-%d %H:%M"))
    busy = 0
    for team, days in starts.items():
        gaps = {day: tuple(b - a for a, b in pairwise(sorted(s))) for day, s in days.items()}
        if not any(gaps.values()):
            continue  # one visit a day: no gaps to compare
        busy += 1
        assert len({g for day in gaps.values() for g in day}) > 1, (team, gaps)
        assert len(set(gaps.values())) > 1, (team, gaps)
    assert busy
