"""The Weighted Displacement Quotient: the formula, areas, intervals and the no-answer cases."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from safestreets.impact.wdq import count_in, wdq, wdq_areas


def test_known_values():
    # Target falls from 100 to 60, buffer from 50 to 40, control flat at 1000.
    r = wdq(100, 60, 50, 40, 1000, 1000)
    assert r.answerable
    assert np.isclose(r.wdq, (40 / 1000 - 50 / 1000) / (60 / 1000 - 100 / 1000))  # 0.25: diffusion
    assert r.low < r.wdq < r.high
    # Buffer rises by as much as the target fell: displacement cancels the gain.
    r = wdq(100, 60, 50, 90, 1000, 1000)
    assert np.isclose(r.wdq, -1.0)


def test_no_gain_means_cannot_say():
    r = wdq(100, 110, 50, 40, 1000, 1000)
    assert not r.answerable and "did not improve" in r.reason
    assert "cannot say" in r.verdict()
    assert not wdq(0, 0, 5, 5, 100, 100).answerable
    assert not wdq(10, 5, 5, 5, 0, 100).answerable


def test_interval_coverage_over_draws():
    rng = np.random.default_rng(7)
    mu = {"rb": 400, "ra": 240, "db": 300, "da": 330, "cb": 4000, "ca": 4000}
    true = (mu["da"] / mu["ca"] - mu["db"] / mu["cb"]) / (mu["ra"] / mu["ca"] - mu["rb"] / mu["cb"])
    inside = 0
    draws = 150
    for k in range(draws):
        c = {key: float(rng.poisson(v)) for key, v in mu.items()}
        r = wdq(**c, draws=1500, seed=k)
        inside += r.answerable and r.low <= true <= r.high
    assert inside / draws >= 0.88


def test_none_where_there_is_none():
    rng = np.random.default_rng(8)
    zero_inside = 0
    for k in range(60):
        c = {"rb": 400, "ra": 240, "db": 300, "da": 300, "cb": 4000, "ca": 4000}
        c = {key: float(rng.poisson(v)) for key, v in c.items()}
        r = wdq(**c, draws=1500, seed=k)
        zero_inside += r.low <= 0 <= r.high
        assert "no displacement or diffusion" in r.verdict() or r.low > 0 or r.high < 0
    assert zero_inside / 60 >= 0.88


def test_areas_chosen_and_shown():
    target = shapely.box(0, 0, 500, 500)
    areas = wdq_areas(target, 200)
    assert areas.control_chosen
    assert not areas.control.intersects(target.buffer(199))
    assert abs(areas.control.area - 4 * target.buffer(200).area) / areas.control.area < 0.01
    d = areas.describe()
    assert d["control_wkt"].startswith("POLYGON") and d["buffer_km2"] > 0
    given_ctl = wdq_areas(target, 200, control=shapely.box(2000, 2000, 3000, 3000))
    assert not given_ctl.control_chosen and given_ctl.control.area == 1e6
    assert count_in(target, np.array([10.0, 900.0]), np.array([10.0, 10.0])).tolist() == [True, False]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 500),
    st.integers(0, 500),
    st.integers(0, 500),
    st.integers(0, 500),
    st.integers(1, 5000),
    st.integers(1, 5000),
)
def test_formula_property(rb, ra, db, da, cb, ca):
    r = wdq(rb, ra, db, da, cb, ca, draws=200)
    success = ra / ca - rb / cb
    if success >= 0:
        assert not r.answerable
    elif r.answerable:
        assert np.isclose(r.wdq, (da / ca - db / cb) / success)
        assert r.low <= r.high
