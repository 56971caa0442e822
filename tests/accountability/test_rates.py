"""Rates and intervals: properties of the Wilson interval and the relative rate interval."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from safestreets.accountability.disproportionality import rate_ratio
from safestreets.accountability.searches import wilson


@given(st.integers(0, 10_000), st.integers(1, 10_000))
def test_wilson_bounds_hold_the_rate(k: int, extra: int) -> None:
    n = max(k + extra - 1, 1)
    rate, lo, hi = wilson(np.array([k]), np.array([n]))
    assert 0 <= lo[0] <= rate[0] <= hi[0] <= 1


def test_wilson_on_no_searches_is_empty() -> None:
    rate, lo, hi = wilson(np.array([0]), np.array([0]))
    assert np.isnan(rate[0]) and np.isnan(lo[0]) and np.isnan(hi[0])


@given(st.integers(1, 10**5), st.integers(1, 10**5), st.integers(10**3, 10**7), st.integers(10**3, 10**7))
def test_relative_rate_interval_is_around_the_ratio(a: int, b: int, pa: int, pb: int) -> None:
    rr, lo, hi = rate_ratio(np.array([a], dtype=float), np.array([pa], dtype=float), float(b), float(pb))
    assert lo[0] < rr[0] < hi[0]
    assert np.isclose(
        np.log(rr[0]) - np.log(lo[0]), np.log(hi[0]) - np.log(rr[0])
    )  # symmetric on the log scale
    assert np.isclose(rr[0], (a / pa) / (b / pb))
