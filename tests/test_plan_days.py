"""Visits by day (plan/days.py): each hot spot's weekly visits follow its risk over the days, within each
team's capacity per shift, totals unchanged; a planted Friday-and-Saturday pattern in timestamped events
puts a hot spot's visits on those days; without timestamps every day repeats one pattern, as before."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from safestreets.config import Workspace
from safestreets.forecast.store import read_surface
from safestreets.plan.days import spread_days, spread_team, steps
from safestreets.plan.patrol import PatrolInput, PatrolPlan, Team, packed_minutes, plan_patrols
from safestreets.plan.resources import Resources, Rules, Shift
from safestreets.plan.run import run_plan
from safestreets.plan.schedule import schedule
from safestreets.report.cards import write_cards
from safestreets.store import open_store

SHIFTS = (Shift("day", 8, 8), Shift("night", 20, 8))
FRI, SAT = 4, 5
WEEK = date(2024, 1, 1)  # a Monday


def street_plan() -> PatrolPlan:
    """Twelve bars on one street, the same weekly harm, one team per shift."""
    n = 12
    inp = PatrolInput(ids=np.array([f"u{i}" for i in range(n)], dtype=object), x=np.arange(n) * 40.0,
                      y=np.zeros(n), bcu=np.array(["A"] * n, dtype=object), harm_week=np.full(n, 10.0),
                      shift_share=np.array([0.3, 0.7]))  # fmt: skip
    rules = Rules(shifts=SHIFTS, cap_share=1.0, patrol_radius_m=500.0)
    return plan_patrols(inp, Resources({("A", "day"): 1, ("A", "night"): 1}), rules, solver="milp")


def flat_risk(plan: PatrolPlan) -> np.ndarray:
    """(n_units, 7, n_shifts): each unit's harm in each shift spread evenly over the days."""
    inp = plan.input
    return np.repeat((inp.harm_week[:, None] * inp.shares() / 7.0)[:, None, :], 7, axis=1)


def per_day(plan: PatrolPlan, by_day: Any) -> dict[str, np.ndarray]:
    """Each team's visits per (unit, day) from a day plan."""
    out = {}
    for t in plan.teams:
        m = np.zeros((len(plan.input.ids), 7), dtype=int)
        for d, load in enumerate(by_day.loads[t.team_id]):
            for u, v in load:
                m[u, d] += v
        out[t.team_id] = m
    return out


def test_a_weekend_hot_spot_gets_its_visits_at_the_weekend() -> None:
    plan = street_plan()
    risk = flat_risk(plan)
    night = plan.rules.shifts.index(plan.rules.shift("night"))
    team = next(t for t in plan.teams if t.shift == "night")
    planted = min(team.hotspots, key=lambda h: (h[1], h[0]))[0]  # one visit a shift: 7 fit in two days
    week = risk[planted, :, night].sum()
    risk[planted, :, night] = 0.0
    risk[planted, [FRI, SAT], night] = week / 2  # all its night harm on Friday and Saturday nights
    by_day = spread_days(plan, risk)
    assert not by_day.kept
    got = per_day(plan, by_day)[team.team_id]
    daily = dict(team.hotspots)
    cap = max(int(plan.areas[team.area].capacity[night]), sum(daily.values()))
    kmax = plan.rules.max_visits(plan.rules.shifts[night])
    # totals per hot spot unchanged; each day within the team's capacity and the gap rule; each day timeable
    assert {u: int(got[u].sum()) for u in daily} == {u: 7 * v for u, v in daily.items()}
    assert got.sum(axis=0).max() <= cap and got.max() <= kmax
    assert all(packed_minutes(load, plan.rules) <= plan.rules.shifts[night].minutes
               for load in by_day.loads[team.team_id])  # fmt: skip
    # the planted hot spot: as many of its visits on Friday and Saturday as the gap rule lets in
    assert 7 * daily[planted] <= 2 * kmax
    assert got[planted, [FRI, SAT]].sum() == 7 * daily[planted] and got[planted, [0, 1, 2, 3, 6]].sum() == 0
    assert by_day.stats["hotspot_days_without_visits"] >= 5 and by_day.stats["visit_harm_ratio"] > 1.0
    assert by_day.stats["prevented_week"] > by_day.stats["prevented_week_same_every_day"]
    # the timetable follows the day plan: the planted hot spot is visited on Friday and Saturday only
    visits = schedule(plan, WEEK, seed=3, by_day=by_day)
    days = Counter(v.day.weekday() for v in visits if v.unit == planted and v.team_id == team.team_id)
    assert set(days) == {FRI, SAT}
    assert sum(days.values()) == 7 * daily[planted]
    for t in plan.teams:
        mine = Counter((v.unit, (v.day - WEEK).days) for v in visits if v.team_id == t.team_id)
        m = per_day(plan, by_day)[t.team_id]
        assert mine == Counter({(u, d): int(m[u, d]) for u in range(len(m)) for d in range(7) if m[u, d]})


def test_flat_risk_keeps_the_models_daily_pattern() -> None:
    plan = street_plan()
    by_day = spread_days(plan, flat_risk(plan))
    for t in plan.teams:
        for load in by_day.loads[t.team_id]:
            assert sorted(load) == sorted((u, v) for u, v in t.hotspots if v > 0)
    assert by_day.stats["hotspot_days_without_visits"] == 0
    assert by_day.stats["visit_harm_ratio"] == pytest.approx(1.0)
    # and then the timetable is the one made without a day plan, draw for draw
    assert schedule(plan, WEEK, seed=5, by_day=by_day) == schedule(plan, WEEK, seed=5)


def test_a_hot_spot_shared_by_two_teams_keeps_its_daily_visits() -> None:
    plan = street_plan()
    night = next(t for t in plan.teams if t.shift == "night")
    half = len(night.hotspots) // 2
    shared = night.hotspots[0][0]
    one = Team(f"{night.team_id}a", night.home, "night", night.area, night.hotspots[:half])
    two = Team(f"{night.team_id}b", night.home, "night", night.area, [(shared, 1), *night.hotspots[half:]])
    plan = replace(plan, teams=[*(t for t in plan.teams if t.shift != "night"), one, two])
    s = plan.rules.shifts.index(plan.rules.shift("night"))
    risk = flat_risk(plan)
    risk[:, :, s] *= np.array([0.2, 0.2, 0.2, 0.2, 3.0, 3.0, 0.2])  # every hot spot busy on Fri and Sat nights
    by_day = spread_days(plan, risk)
    assert not by_day.kept and {one.team_id, two.team_id} <= set(by_day.loads)
    got = per_day(plan, by_day)
    for t in (one, two):  # the shared hot spot keeps its daily visits in both teams; the others move
        assert (got[t.team_id][shared] == dict(t.hotspots)[shared]).all()
        assert {u: int(got[t.team_id][u].sum()) for u, _ in t.hotspots} == {u: 7 * v for u, v in t.hotspots}
    assert by_day.stats["visit_harm_ratio"] > 1.0
    schedule(plan, WEEK, seed=2, by_day=by_day)  # timed together without breaking the gap


def test_spread_team_is_exact_and_within_capacity() -> None:
    rules = Rules(shifts=SHIFTS)
    step = steps(rules, 1)
    rng = np.random.default_rng(0)
    harm = rng.gamma(0.5, 1.0, size=(5, 7))
    weekly = {0: 14, 1: 7, 2: 7, 3: 21, 4: 0}
    got = spread_team(weekly, {u: w // 7 for u, w in weekly.items()}, harm, step, np.full(7, 8))
    assert got is not None and 4 not in got
    assert {u: int(v.sum()) for u, v in got.items()} == {u: w for u, w in weekly.items() if w}
    total = np.sum(list(got.values()), axis=0)
    assert total.max() <= 8 and min(v.min() for v in got.values()) >= 0
    # no single visit moved to another day would prevent more (the solution is optimal, one swap at a time)
    cum = np.concatenate([[0.0], np.cumsum(step)])

    def value(g: dict[int, np.ndarray]) -> float:
        return sum(float((harm[u] * cum[np.minimum(v, len(step))]).sum()) for u, v in g.items())

    best = value(got)
    for u, v in got.items():
        for a in range(7):
            for b in range(7):
                if a == b or v[a] == 0 or v[b] >= len(step) or total[b] >= 8:
                    continue
                moved = {k: w.copy() for k, w in got.items()}
                moved[u][a] -= 1
                moved[u][b] += 1
                assert value(moved) <= best + 1e-9


@pytest.fixture
def con(demo_city: Path, tmp_path: Path) -> Any:
    copy = tmp_path / "ws"
    copy.mkdir()
    (copy / "safestreets.duckdb").write_bytes((demo_city / "safestreets.duckdb").read_bytes())
    c = open_store(Workspace(copy))
    yield c
    c.close()


def _resources(con: Any, rules: Rules) -> Resources:
    bcus = sorted(set(read_surface(con, 1).bcu) - {""})
    return Resources({(b, s.name): 1 for b in bcus for s in rules.shifts})


def test_plan_follows_a_planted_friday_and_saturday_pattern(con: Any) -> None:
    rules = Rules()
    base = run_plan(con, _resources(con, rules), rules, forecast_run=1, seed=1, save=False)
    night = next(t for t in base.plan.teams if t.shift == "night")
    unit = min(night.hotspots, key=lambda h: (h[1], h[0]))[0]  # room to move its visits between days
    # Many events at this hot spot, all on Fridays and Saturdays (at every hour, so its shifts keep their
    # shares) in the months before the forecast: enough for its own profile to outweigh the shrinkage
    # towards its BCU's and the city's.
    x, y = float(base.plan.input.x[unit]), float(base.plan.input.y[unit])
    types = read_surface(con, 1).provenance["data"]["target"]["types"]
    key = con.execute(f"SELECT event_key FROM events WHERE occurred_at IS NOT NULL AND crime_type IN "
                      f"({', '.join('?' for _ in types)}) LIMIT 1", list(types)).fetchone()[0]  # fmt: skip
    cols = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'events' "
                                      "AND column_name <> 'event_id' ORDER BY column_index").fetchall()]  # fmt: skip
    # 25 weeks from Friday 7 July 2023, events every hour from Friday 07:30 to Sunday 05:30 (UTC; the same
    # shifts in British summer time): the early, late and night shifts that start on Friday and Saturday
    when = ("TIMESTAMPTZ '2023-07-07 07:30:00+00' + to_days(CAST(w * 7 AS INTEGER)) "
            "+ to_hours(CAST(i AS BIGINT)) + to_minutes(CAST(j AS BIGINT))")
    over = {"event_key": "'planted-' || w || '-' || i || '-' || j", "crime_id": "NULL", "occurred_at": when,
            "month": f"CAST(date_trunc('month', {when}) AS DATE)", "x": f"{x!r}", "y": f"{y!r}"}  # fmt: skip
    con.execute(f"INSERT INTO events ({', '.join(cols)}) SELECT {', '.join(over.get(c, c) for c in cols)} "
                f"FROM (SELECT * FROM events WHERE event_key = ?), range(25) w(w), range(47) i(i), range(2) j(j)",
                [key])  # fmt: skip
    run = run_plan(con, _resources(con, rules), rules, forecast_run=1, seed=1, save=False)
    assert run.by_day is not None and run.shift_risk is not None
    s = [sh.name for sh in rules.shifts].index("night")
    risk = run.shift_risk.by_slot[unit, :, s]
    assert risk[[FRI, SAT]].sum() > 0.5 * risk.sum()  # the planted pattern (2/7 without), through the shrinkage
    team = next(t for t in run.plan.teams if t.shift == "night" and unit in dict(t.hotspots))
    weekly = 7 * dict(team.hotspots)[unit]
    kmax = rules.max_visits(rules.shift("night"))
    days = Counter(v.day.weekday() for v in run.visits if v.unit == unit and v.team_id == team.team_id)
    assert sum(days.values()) == weekly and weekly < 7 * kmax
    others = [days[d] for d in range(7) if d not in (FRI, SAT)]
    # its Friday and Saturday nights are as full as the gap rule allows before any other night gets a visit
    assert days[FRI] + days[SAT] == min(weekly, 2 * kmax)
    assert min(days[FRI], days[SAT]) >= max(others) and (weekly > 2 * kmax or sum(others) == 0)


def test_demo_plan_spreads_visits_within_capacity(con: Any, tmp_path: Path) -> None:
    rules = Rules()
    run = run_plan(con, _resources(con, rules), rules, forecast_run=1, seed=1, save=False)
    # the patrol cards list each hot spot's visits on each day, from the timetable
    html = write_cards(run, tmp_path / "cards", pdf=False)[0].read_text("utf-8")
    assert all(f'<th class="n">{d}</th>' in html for d in ("Mon", "Fri", "Sun")) and "visits/day" not in html
    team = run.plan.teams[0]
    first = min(team.hotspots, key=lambda h: h[0])[0]
    row = [sum(1 for v in run.visits if v.team_id == team.team_id and v.unit == first and v.day == WEEK + timedelta(days=d))
           for d in range(7)]  # fmt: skip
    assert "".join(f'<td class="n">{n or "–"}</td>' for n in row) in html
    assert run.by_day is not None and not run.by_day.kept
    assert "days" in run.plan.params and run.plan.params["days"]["teams_spread"] == len(run.plan.teams)
    assert not any("one daily pattern" in n for n in run.notes)
    assert any("spread over the days" in n for n in run.notes)
    by_team_day = Counter((v.team_id, v.day) for v in run.visits)
    by_team_unit = Counter((v.team_id, v.unit) for v in run.visits)
    for t in run.plan.teams:
        s = [sh.name for sh in rules.shifts].index(t.shift)
        cap = max(int(run.plan.areas[t.area].capacity[s]), sum(v for _, v in t.hotspots))
        assert all(by_team_day[(t.team_id, WEEK + timedelta(days=d))] <= cap for d in range(7))
        assert all(by_team_unit[(t.team_id, u)] == 7 * v for u, v in t.hotspots)


def test_without_times_every_day_repeats_the_plan(con: Any) -> None:
    con.execute("DELETE FROM events WHERE occurred_at IS NOT NULL")
    rules = Rules()
    run = run_plan(con, _resources(con, rules), rules, forecast_run=1, seed=1, save=False)
    assert run.by_day is None and "days" not in run.plan.params
    assert any("one daily pattern is repeated over the week" in n for n in run.notes)
    assert run.visits == schedule(run.plan, run.week_start, seed=1)
    per_day = Counter((v.team_id, v.unit, v.day) for v in run.visits)
    for t in run.plan.teams:
        for u, v in t.hotspots:
            assert all(per_day[(t.team_id, u, run.week_start + timedelta(days=d))] == v for d in range(7))
