"""Risk by shift in the planner: hot spots differ by shift when the risk does; a store with timestamped
events plans from each unit's profile and exports the harm by day and shift; forecasts carry intervals."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from safestreets.config import Workspace
from safestreets.errors import ParameterError
from safestreets.forecast.store import read_surface
from safestreets.plan.patrol import PatrolInput, plan_patrols
from safestreets.plan.resources import POOL, Resources, Rules, Shift
from safestreets.plan.run import crs_of, export_plan, run_plan
from safestreets.store import open_store

SHIFTS = (Shift("day", 8, 8), Shift("night", 20, 8))


def two_streets(shares: np.ndarray) -> PatrolInput:
    """Ten shops (units 0-9) and ten bars (units 10-19), 1 km apart, the same weekly harm."""
    n = 20
    x = np.where(np.arange(n) < 10, np.arange(n) * 40.0, 1000.0 + np.arange(n) * 40.0)
    return PatrolInput(ids=np.array([f"u{i}" for i in range(n)], dtype=object), x=x, y=np.zeros(n),
                       bcu=np.array(["A"] * n, dtype=object), harm_week=np.full(n, 10.0), shift_share=shares)  # fmt: skip


def test_hot_spots_differ_by_shift_when_the_risk_does():
    shops, bars = np.array([0.9, 0.1]), np.array([0.1, 0.9])
    shares = np.vstack([np.tile(shops, (10, 1)), np.tile(bars, (10, 1))])
    rules = Rules(shifts=SHIFTS, cap_share=1.0, patrol_radius_m=500.0)
    res = Resources({("A", "day"): 1, ("A", "night"): 1})
    plan = plan_patrols(two_streets(shares), res, rules, solver="milp")
    day, night = plan.visits[:, 0], plan.visits[:, 1]
    assert day[:10].sum() > 0 and day[10:].sum() == 0
    assert night[10:].sum() > 0 and night[:10].sum() == 0
    assert plan.params["shift_share_per_unit"]
    assert plan.params["shift_share"]["day"] == pytest.approx(0.5)
    # the same harm with one set of shares for all: both shifts go to the same street
    same = plan_patrols(two_streets(np.array([0.5, 0.5])), res, rules, solver="milp")
    on = same.visits > 0
    assert (on[:, 0] == on[:, 1]).all()


def test_per_unit_shares_are_checked():
    with pytest.raises(ParameterError, match="sum to 1"):
        two_streets(np.full((20, 2), 0.3))
    with pytest.raises(ParameterError, match="rows"):
        two_streets(np.full((5, 2), 0.5))


@pytest.fixture
def con(demo_city: Path, tmp_path: Path) -> Any:
    copy = tmp_path / "ws"
    copy.mkdir()
    (copy / "safestreets.duckdb").write_bytes((demo_city / "safestreets.duckdb").read_bytes())
    for extra in demo_city.iterdir():
        if extra.suffix == ".toml":
            (copy / extra.name).write_bytes(extra.read_bytes())
    c = open_store(Workspace(copy))
    yield c
    c.close()


def test_demo_forecast_has_intervals(con: Any) -> None:
    surface = read_surface(con, 1)
    assert surface.count_lower is not None and surface.count_upper is not None
    assert (surface.count_lower <= surface.count_upper).all()
    assert (surface.count_lower >= 0).all()
    iv = surface.meta["intervals"]
    city = iv["totals"]["city"]
    assert city["lower"] <= surface.expected_count.sum() <= city["upper"]
    assert city["expected"] == pytest.approx(surface.expected_count.sum())
    assert iv["level"] == 0.8 and iv["calibration_origins"]


def test_plan_uses_each_units_profile_where_events_have_times(con: Any, tmp_path: Path) -> None:
    rules = Rules()
    bcus = sorted(set(read_surface(con, 1).bcu) - {""})
    res = Resources({**{(b, s.name): 1 for b in bcus for s in rules.shifts}, (POOL, "night"): 1})
    run = run_plan(con, res, rules, forecast_run=1, seed=1, save=False)
    assert run.shift_risk is not None
    assert run.plan.input.shift_share.ndim == 2
    assert any("time-of-week profile" in n for n in run.notes)
    by_slot = run.shift_risk.by_slot
    assert np.allclose(by_slot.sum(axis=(1, 2)), run.plan.input.harm_week)
    files = export_plan(run, tmp_path / "out", crs_of(con))
    risk = next(p for p in files if p.name.endswith("-shift-risk.csv"))
    rows = list(csv.DictReader(risk.open()))
    assert {r["day"] for r in rows} == {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
    assert {r["shift"] for r in rows} == {s.name for s in rules.shifts}


def test_plan_falls_back_without_times(con: Any) -> None:
    con.execute("DELETE FROM events WHERE occurred_at IS NOT NULL")
    rules = Rules()
    bcus = sorted(set(read_surface(con, 1).bcu) - {""})
    res = Resources({(b, s.name): 1 for b in bcus for s in rules.shifts})
    run = run_plan(con, res, rules, forecast_run=1, seed=1, save=False)
    assert run.shift_risk is None
    assert run.plan.input.shift_share.ndim == 1
    assert any("no timestamped events" in n and "same shift shares" in n for n in run.notes)
