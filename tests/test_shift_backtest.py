"""Backtests of risk by shift and of interval coverage, on synthetic data with a known answer."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from forecast_helpers import toy_history, toy_units
from safestreets.errors import NoDataError
from safestreets.evaluate.shifts import (
    backtest_intervals,
    backtest_shifts,
    summarise_intervals,
    summarise_shifts,
)
from safestreets.forecast import make_model
from test_timeofweek import day_profile, history_of, night_profile, planted


def _hr(summary, shift: str, profile: str, coverage: float = 0.05) -> float:
    d = summary.filter(pc.and_(pc.equal(summary["shift"], shift), pc.and_(
        pc.equal(summary["profile"], profile), pc.equal(summary["coverage"], coverage)))).to_pylist()
    return d[0]["hit_rate"]


def test_unit_profiles_beat_the_city_profile_where_places_differ_by_shift():
    rng = np.random.default_rng(5)
    # Night-time economy in the west, daytime shops in the east: same totals, opposite hours
    hist = history_of([planted(rng, 9000, night_profile(), 1200, 2500, 250),
                       planted(rng, 9000, day_profile(), 3800, 2500, 250),
                       planted(rng, 3000, np.full(168, 1 / 168), 2500, 2500, 2000)])
    units = toy_units(250.0)
    rows = backtest_shifts(make_model("naive"), hist, units, origins=4, horizon="1w", coverages=(0.05,))
    assert set(rows["profile"].to_pylist()) == {"unit", "raw", "city"}
    summary = summarise_shifts(rows)
    for shift in ("early", "night", "all"):
        assert _hr(summary, shift, "unit") > _hr(summary, shift, "city")


def test_shift_backtest_needs_times():
    with pytest.raises(NoDataError):
        backtest_shifts(make_model("naive"), toy_history("month", months=12), toy_units(500.0), origins=2,
                        horizon="1m")


def test_interval_backtest_reports_coverage_columns():
    hist = toy_history("month", months=30, per_month=300)
    units = toy_units(500.0)
    rows = backtest_intervals(make_model("ewma"), hist, units, origins=4, horizon="1m", calibration=4)
    assert set(rows["scope"].to_pylist()) == {"unit", "bcu", "city"}
    summary = summarise_intervals(rows).to_pylist()
    unit = next(r for r in summary if r["scope"] == "unit")
    # whole-count intervals hold at least about the level; the model's own expectation is close to what held
    assert unit["coverage_80"] >= 0.75 and unit["coverage_95"] >= unit["coverage_80"]
    assert abs(unit["coverage_80"] - unit["expected_80"]) < 0.1
    assert all(0 <= r["coverage_80"] <= 1 for r in summary)
