"""The historical average (the reference baseline) and the last-period baseline's old name."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shapely

from forecast_helpers import toy_history, toy_units
from safestreets.forecast import BASELINES, MODELS, REFERENCE, make_model, model_class
from safestreets.forecast.histavg import HistAvg, window_periods
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.forecast.naive import LastPeriod
from safestreets.geo.units import Units, make_grid


def grid() -> Units:
    return make_grid(shapely.box(0, 0, 2000, 2000), 250.0)


def at(units: Units, x: float, y: float) -> int:
    return int(units.locate(np.array([x]), np.array([y]))[0])


def events(rows: list[tuple[float, float, str]]) -> History:
    x, y, t = zip(*rows, strict=True)
    return History.from_arrays(x, y, [as_time(v) for v in t])  # type: ignore[arg-type]


def test_mean_count_equals_a_hand_count() -> None:
    # Jan..Jun 2022: cell A has 3, 0, 1, 2, 0, 0 events; cell B 1 in March only. Six months of data.
    rows = [(100, 100, "2022-01")] * 3 + [(100, 100, "2022-03"), (100, 100, "2022-04"), (100, 100, "2022-04")]
    rows += [(900, 900, "2022-03")]
    u = grid()
    h = events(rows)
    p = HistAvg(window=6).fit(h, "2022-07").predict(u, "2022-07", "2022-08")
    assert p[at(u, 100, 100)] == pytest.approx(6 / 6) and p[at(u, 900, 900)] == pytest.approx(1 / 6)
    assert p.sum() == pytest.approx(7 / 6)
    # A three-month window: April..June only.
    p3 = HistAvg(window=3).fit(h, "2022-07").predict(u, "2022-07", "2022-08")
    assert p3[at(u, 100, 100)] == pytest.approx(2 / 3) and p3[at(u, 900, 900)] == 0
    # A twelve-month window over six months of data averages the six that exist, not twelve with zeros.
    p12 = HistAvg(window=12).fit(h, "2022-07").predict(u, "2022-07", "2022-08")
    np.testing.assert_allclose(p12, p)


def test_window_in_periods_of_the_horizon() -> None:
    assert window_periods(12, Horizon(1, "M"), 100) == 12
    assert window_periods(12, Horizon(3, "M"), 100) == 4
    assert window_periods(12, Horizon(7, "D"), 1000) == 52
    assert window_periods(36, Horizon(7, "D"), 20) == 20  # capped at what the data hold
    assert window_periods(None, Horizon(7, "D"), 20) == 20


def test_the_window_choice_follows_the_data() -> None:
    u = grid()
    # Hot spot moved from A to B a year before the cut-off: a short window wins.
    moved = [(100, 100, f"{y}-{m:02d}") for y in (2019, 2020) for m in range(1, 13) for _ in range(4)]
    moved += [(1900, 1900, f"2021-{m:02d}") for m in range(1, 13) for _ in range(4)]
    model = HistAvg().fit(events(moved), "2022-01")
    p = model.predict(u, "2022-01", "2022-02")
    assert model.window_ in (6, 12) and p[at(u, 1900, 1900)] > p[at(u, 100, 100)]
    # A stable pattern: every window ties, and ties go to the longest (all the data).
    steady = [(100, 100, f"{y}-{m:02d}") for y in (2019, 2020, 2021) for m in range(1, 13)]
    model = HistAvg().fit(events(steady), "2022-01")
    model.predict(u, "2022-01", "2022-02")
    assert model.window_ is None and set(model.window_scores_) == {"6m", "12m", "18m", "24m", "36m", "all"}


def test_window_choice_sees_only_data_before_the_cut_off() -> None:
    """Anything at or after the cut-off, however loud, changes neither the window nor the forecast."""
    h = toy_history("month", months=30, per_month=150, seed=3)
    u = toy_units()
    cut = as_time("2022-01")
    ref = HistAvg().fit(h, cut)
    p = ref.predict(u, cut, "2022-02")
    t = h.t[h.t < cut]
    x, y = h.x[h.t < cut], h.y[h.t < cut]
    # The future: a new hot spot, moved on top of the coldest corner, many times over.
    extra = 5000
    fx = np.r_[x, np.full(extra, u.x[np.argmin(p)])]
    fy = np.r_[y, np.full(extra, u.y[np.argmin(p)])]
    ft = np.r_[t, np.full(extra, cut), np.full(extra, as_time("2022-02"))]
    fx, fy = np.r_[fx, fx[-extra:]], np.r_[fy, fy[-extra:]]
    order = np.argsort(ft, kind="stable")
    future = History.from_arrays(fx[order], fy[order], ft[order], resolution="month")
    other = HistAvg().fit(future, cut)
    np.testing.assert_array_equal(other.predict(u, cut, "2022-02"), p)
    assert other.window_ == ref.window_ and other.window_scores_ == ref.window_scores_


def test_registry_and_the_old_name() -> None:
    assert REFERENCE == "histavg" and BASELINES[0] == "histavg" and "last-period" in BASELINES
    assert "naive" not in MODELS  # not a candidate twice
    with pytest.warns(FutureWarning, match="last-period"):
        old = make_model("naive")
    assert isinstance(old, LastPeriod) and old.name == "last-period"
    with pytest.warns(FutureWarning):
        assert model_class("naive") is LastPeriod
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_model("last-period")
        make_model("histavg")
