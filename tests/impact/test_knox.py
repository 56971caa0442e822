"""The Knox test finds a planted near-repeat pattern, finds none in random events, and its false-positive
rate sits near the nominal level."""

from __future__ import annotations

import numpy as np
import pytest

from safestreets.errors import NoDataError, ParameterError
from safestreets.impact.knox import knox_test, near_repeat_advice


def random_events(rng: np.random.Generator, n: int, side: float = 3000.0, days: int = 365):
    return rng.uniform(0, side, n), rng.uniform(0, side, n), rng.integers(0, days, n)


def planted(rng: np.random.Generator, n: int = 1500):
    """Background events plus, for a third of them, a follow-up within 150 m and 10 days."""
    x, y, t = random_events(rng, n)
    k = n // 3
    src = rng.choice(n, k, replace=False)
    ang = rng.uniform(0, 2 * np.pi, k)
    r = rng.uniform(20, 150, k)
    x2 = x[src] + r * np.cos(ang)
    y2 = y[src] + r * np.sin(ang)
    t2 = t[src] + rng.integers(1, 10, k)
    return np.r_[x, x2], np.r_[y, y2], np.r_[t, t2]


def test_finds_planted_near_repeats_and_advises():
    x, y, t = planted(np.random.default_rng(3))
    res = knox_test(x, y, t, permutations=199, seed=1)
    # The 1-100 m, 0-6 day cell holds many more pairs than chance and is significant.
    assert res.ratio[1, 0] > 1.4
    assert res.p_value[1, 0] <= 1 / 200 + 1e-12
    # Far and late cells are near 1.
    assert 0.7 < res.ratio[-1, -1] < 1.3
    advice = near_repeat_advice(res, crime="a burglary")
    assert advice.found
    assert advice.distance_m is not None and 100 <= advice.distance_m <= 200
    assert advice.days is not None and 7 <= advice.days <= 14
    assert "Raise patrols within" in advice.text


def test_no_pattern_in_random_events():
    x, y, t = random_events(np.random.default_rng(5), 1500)
    res = knox_test(x, y, t, permutations=199, seed=2)
    advice = near_repeat_advice(res)
    assert not advice.found
    assert "No near-repeat pattern" in advice.text
    assert res.observed.sum() <= res.pairs


def test_false_positive_rate_near_nominal():
    rng = np.random.default_rng(11)
    hits = cells = 0
    for rep in range(25):
        x, y, t = random_events(rng, 400, side=2000.0)
        res = knox_test(x, y, t, permutations=99, seed=rep, same_place=False)
        ok = res.expected >= 3
        hits += int((res.p_value[ok] <= 0.05).sum())
        cells += int(ok.sum())
    rate = hits / cells
    # One-sided Monte Carlo p-values on counts are a little conservative; 0.05 is the nominal level.
    assert 0.015 <= rate <= 0.085, rate


def test_same_answer_whatever_the_workers():
    x, y, t = planted(np.random.default_rng(1), 600)
    a = knox_test(x, y, t, permutations=99, seed=4, workers=1)
    b = knox_test(x, y, t, permutations=99, seed=4, workers=3)
    assert np.array_equal(a.observed, b.observed)
    assert np.allclose(a.expected, b.expected)
    assert np.array_equal(a.p_value, b.p_value)


def test_datetimes_and_same_place_row():
    rng = np.random.default_rng(0)
    x = np.repeat(rng.uniform(0, 1000, 50), 2)
    y = np.repeat(rng.uniform(0, 1000, 50), 2)
    t = np.datetime64("2024-01-01") + rng.integers(0, 50, 100).astype("timedelta64[D]")
    res = knox_test(x, y, t, permutations=19)
    assert res.observed[0].sum() == 50  # every repeated point is one same-place pair
    assert res.distance_labels()[0] == "same place"
    assert len(res.cells()) == res.observed.size


def test_refuses_too_little():
    with pytest.raises(NoDataError):
        knox_test([0, 1], [0, 1], [0, 1])
    x, y, t = random_events(np.random.default_rng(0), 50)
    with pytest.raises(ParameterError):
        knox_test(x, y, t, permutations=5)
    with pytest.raises(ParameterError):
        knox_test(x, y, t, distance_edges=[100, 50])
