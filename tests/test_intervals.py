"""Predictive intervals: the dispersion is recovered, coverage matches the level, totals are consistent."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from forecast_helpers import toy_history, toy_units
from safestreets.forecast import make_model
from safestreets.forecast.history import Horizon
from safestreets.forecast.intervals import (
    Dispersion,
    calibrate,
    fit_dispersion,
    fit_from_pairs,
    intervals,
    model_coverage,
    nb_interval,
)


def draw_nb(rng: np.random.Generator, mu: np.ndarray, k: float) -> np.ndarray:
    return stats.nbinom(k, k / (k + mu)).rvs(random_state=rng)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [0.5, 2.0, 20.0])
def test_coverage_on_known_negative_binomial(seed: int, k: float):
    rng = np.random.default_rng(seed)
    mu_fit = rng.gamma(0.8, 2.0, 4000)
    k_hat = fit_dispersion(mu_fit, draw_nb(rng, mu_fit, k))
    assert 0.75 * k < k_hat < 1.33 * k
    mu = rng.gamma(0.8, 2.0, 4000)
    y = draw_nb(rng, mu, k)
    for level in (0.8, 0.95):
        lo, hi = nb_interval(mu, k_hat, level)
        observed = float(((y >= lo) & (y <= hi)).mean())
        expected = float(model_coverage(mu, k_hat, lo, hi).mean())
        assert expected >= level - 0.01  # whole counts: never below the level
        assert abs(observed - expected) < 0.025


def test_large_means_cover_about_the_level():
    rng = np.random.default_rng(7)
    mu = rng.uniform(50, 200, 5000)
    y = draw_nb(rng, mu, 8.0)
    lo, hi = nb_interval(mu, fit_dispersion(mu, y), 0.8)
    assert abs(float(((y >= lo) & (y <= hi)).mean()) - 0.8) < 0.03


def test_poisson_data_gives_a_large_k():
    rng = np.random.default_rng(8)
    mu = rng.uniform(0.5, 5, 5000)
    assert fit_dispersion(mu, rng.poisson(mu)) > 50


def test_totals_are_consistent():
    rng = np.random.default_rng(9)
    mu = rng.gamma(0.5, 1.0, 400)
    groups = np.array(["a"] * 150 + ["b"] * 250, dtype=object)
    pairs = []
    for _ in range(6):  # common shocks: a whole period runs hot or cold
        shock = rng.gamma(20, 1 / 20)
        pairs.append((mu, draw_nb(rng, mu * shock, 1.0)))
    disp = fit_from_pairs(pairs, groups)
    assert disp.total is not None and disp.total_pairs == 18
    iv = intervals(mu, groups, disp, 0.8)
    city = iv.totals["city"]
    assert city["lower"] <= mu.sum() <= city["upper"]
    assert city["expected"] == pytest.approx(iv.totals["a"]["expected"] + iv.totals["b"]["expected"])
    for g in ("a", "b"):
        t = iv.totals[g]
        assert t["lower"] <= t["expected"] <= t["upper"]
        assert city["upper"] - city["lower"] >= t["upper"] - t["lower"]
    # the city interval holds the sum of the units' central values, and is wider than any unit's
    assert city["upper"] - city["lower"] >= (iv.upper - iv.lower).max()
    # too few pairs for the totals' own dispersion: independent units, narrower but still consistent
    alone = intervals(mu, groups, Dispersion(1.0, None, 400, 0), 0.8)
    assert alone.totals["city"]["lower"] <= mu.sum() <= alone.totals["city"]["upper"]


def test_calibrate_uses_past_forecasts_only():
    hist = toy_history("month", months=24, per_month=300)
    units = toy_units(500.0)
    until = np.datetime64("2022-07-01", "s")
    disp = calibrate(make_model("last-period"), hist, units, until, Horizon.parse("1m"), origins=4)
    assert disp.origins == ["2022-03-01", "2022-04-01", "2022-05-01", "2022-06-01"]
    assert disp.unit_pairs == 4 * len(units)
    # the same with later events changed: the fit must not see them
    later = hist.before(until)
    again = calibrate(make_model("last-period"), later, units, until, Horizon.parse("1m"), origins=4)
    assert again.unit == pytest.approx(disp.unit)


def test_calibration_skips_periods_the_data_do_not_reach():
    hist = toy_history("month", months=24, per_month=300)  # 2021-01..2022-12
    disp = calibrate(make_model("last-period"), hist, toy_units(500.0), np.datetime64("2023-02-01", "s"),
                     Horizon.parse("1m"), origins=4)  # fmt: skip
    assert disp.origins == ["2022-10-01", "2022-11-01", "2022-12-01"]
