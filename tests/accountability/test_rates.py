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


def test_trends_recover_a_known_change() -> None:
    """Monthly counts falling 10% a year and a positive rate with odds falling 20% a year (overdispersed):
    the fitted changes per year, with intervals that hold the truth and are wider than a plain binomial's."""
    import pyarrow as pa

    from safestreets.accountability.searches import monthly_trends

    rng = np.random.default_rng(4)
    months = [f"{2019 + i // 12}-{i % 12 + 1:02d}" for i in range(60)]
    t = np.arange(60) / 12
    n = rng.poisson(10_000 * 0.9**t)
    logit = -0.8 + np.log(0.8) * t + rng.normal(0, 0.05, 60)  # month-to-month noise beyond the binomial
    k = rng.binomial(n, 1 / (1 + np.exp(-logit)))
    rows = [{"dimension": "month", "value": m, "searches": int(a), "positive": int(b), "linked_recorded": 0,
             "linked": 0, "arrests": int(b) // 2} for m, a, b in zip(months, n, k, strict=True)]  # fmt: skip
    got = {r["measure"]: r for r in monthly_trends(pa.Table.from_pylist(rows)).to_pylist()}
    assert got["searches"]["lo"] < 0.9 < got["searches"]["hi"]
    assert got["positive_rate"]["lo"] < 0.8 < got["positive_rate"]["hi"]
    assert got["positive_rate"]["hi"] - got["positive_rate"]["lo"] > 0.01  # quasi-binomial, not n-shrunk
    assert "linked_rate" not in got  # nothing recorded: no trend
