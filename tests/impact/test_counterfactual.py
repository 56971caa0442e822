"""The forecast counterfactual on constructed events: no effect where none was planted (interval coverage
over draws), a planted cut found, and "cannot say" without enough history."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from safestreets.forecast.history import History
from safestreets.geo.units import make_grid
from safestreets.impact.counterfactual import forecast_counterfactual
from safestreets.impact.knox import knox_test

UNITS = make_grid(shapely.box(0, 0, 2000, 2000), 500.0)
TARGET = np.isin(np.arange(len(UNITS)), [5, 6, 9, 10])
MONTHS = np.arange(np.datetime64("2022-01"), np.datetime64("2025-01"))  # 36 months


def history(rng: np.random.Generator, effect: float, rate: float = 12.0) -> History:
    """``rate`` events a month in every 500 m cell; the target cells cut by ``effect`` in 2024-07..2024-10."""
    xs, ys, ts = [], [], []
    for m in MONTHS:
        for u in range(len(UNITS)):
            lam = rate * (
                effect if TARGET[u] and np.datetime64("2024-07") <= m < np.datetime64("2024-11") else 1.0
            )
            n = rng.poisson(lam)
            b = shapely.bounds(UNITS.geometry[u])
            xs.append(rng.uniform(b[0], b[2], n))
            ys.append(rng.uniform(b[1], b[3], n))
            ts.append(np.full(n, m.astype("datetime64[s]")))
    return History.from_arrays(np.concatenate(xs), np.concatenate(ys), np.concatenate(ts), resolution="month")


@pytest.mark.slow
def test_no_effect_coverage_and_planted_cut() -> None:
    rng = np.random.default_rng(4)
    inside = 0
    draws = 25
    for _ in range(draws):
        e = forecast_counterfactual(history(rng, 1.0), UNITS, TARGET, "2024-07", "2024-11")
        assert e.answerable, e.reason
        inside += e.ratio_low <= 1.0 <= e.ratio_high
    assert inside / draws >= 0.84
    e = forecast_counterfactual(history(rng, 0.5), UNITS, TARGET, "2024-07", "2024-11")
    assert e.answerable and e.ratio_high < 1.0 and 0.35 < e.ratio < 0.7, e.verdict()
    assert len(e.detail["backtests"]) >= 3


def test_cannot_say_without_history() -> None:
    e = forecast_counterfactual(history(np.random.default_rng(1), 1.0), UNITS, TARGET, "2022-10", "2023-01")
    assert not e.answerable and "months of data before the start" in e.reason


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_knox_does_not_depend_on_event_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 60
    x, y, t = rng.uniform(0, 800, n), rng.uniform(0, 800, n), rng.integers(0, 60, n)
    order = rng.permutation(n)
    a = knox_test(x, y, t, permutations=19, seed=1)
    b = knox_test(x[order], y[order], t[order], permutations=19, seed=1)
    assert np.array_equal(a.observed, b.observed)
    assert a.pairs == b.pairs
    # Shuffling times over places keeps every gap's multiset per permutation only on average: expected
    # counts are non-negative and sum to at most the pairs found.
    assert a.expected.min() >= 0 and a.expected.sum() <= a.pairs + 1e-9
