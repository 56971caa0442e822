"""Behaviour of the simple forecasters on cases small enough to check by hand."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import shapely

from forecast_helpers import toy_history, toy_polygons, toy_units
from safestreets.forecast.ewma import EWMA
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.forecast.kde import KDE, lookback_start, recent_span, span_periods
from safestreets.forecast.naive import Naive
from safestreets.forecast.prospective import Prospective
from safestreets.geo.units import Units, make_grid

Event = tuple[float, float, str]


def events(rows: Sequence[Event], resolution: str | None = None) -> History:
    x, y, t = zip(*rows, strict=True)
    return History.from_arrays(x, y, [as_time(v) for v in t], resolution=resolution)  # type: ignore[arg-type]


def grid(cell: float = 250.0, side: float = 2000.0) -> Units:
    return make_grid(shapely.box(0, 0, side, side), cell)


def at(units: Units, x: float, y: float) -> int:
    return int(units.locate(np.array([x]), np.array([y]))[0])


# --- naive -----------------------------------------------------------------------------------------------


def test_naive_repeats_the_last_month() -> None:
    u = grid()
    h = events(
        [
            (100, 100, "2022-06"),
            (100, 100, "2022-06"),
            (100, 100, "2022-06"),
            (100, 100, "2022-05"),
            (900, 900, "2022-05"),
        ]
    )
    p = Naive().fit(h, "2022-07").predict(u, "2022-07", "2022-08")
    assert p[at(u, 100, 100)] == 3 and p.sum() == 3
    p2 = Naive(periods=2).fit(h, "2022-07").predict(u, "2022-07", "2022-08")
    assert p2[at(u, 100, 100)] == 2 and p2[at(u, 900, 900)] == 0.5
    # A two-month window is one two-month period: May and June together.
    p3 = Naive().fit(h, "2022-07").predict(u, "2022-07", "2022-09")
    assert p3[at(u, 100, 100)] == 4 and p3.sum() == 5


def test_naive_weekly_on_timestamped_data() -> None:
    u = grid()
    h = events(
        [(100, 100, "2022-07-10T12:00"), (100, 100, "2022-07-06T23:59"), (100, 100, "2022-07-05T08:00")]
    )
    p = Naive().fit(h, "2022-07-13").predict(u, "2022-07-13", "2022-07-20")
    assert p[at(u, 100, 100)] == 2  # 6 July 23:59 is inside the seven days before 13 July 00:00
    with pytest.raises(ValueError, match="month-only"):
        Naive().fit(events([(100, 100, "2022-06")]), "2022-07").predict(u, "2022-07-01", "2022-07-08")


# --- EWMA ------------------------------------------------------------------------------------------------


def test_ewma_weights_halve_every_halflife() -> None:
    h = toy_history("month", months=12, per_month=20)
    model = EWMA(halflife=1.0, periods=3).fit(h, "2021-12")
    edges = np.array([as_time(m) for m in ("2021-09", "2021-10", "2021-11", "2021-12")])
    np.testing.assert_allclose(model.weights(edges), np.array([0.25, 0.5, 1.0]) / 1.75)


def test_ewma_forecast_is_the_weighted_mean_count() -> None:
    u = grid()
    h = events([(100, 100, "2022-04"), (100, 100, "2022-06"), (100, 100, "2022-06"), (900, 900, "2022-05")])
    p = EWMA(halflife=1.0, periods=3).fit(h, "2022-07").predict(u, "2022-07", "2022-08")
    # April, May, June weigh 1/4, 1/2, 1 (over 1.75).
    assert p[at(u, 100, 100)] == pytest.approx((0.25 * 1 + 1.0 * 2) / 1.75)
    assert p[at(u, 900, 900)] == pytest.approx(0.5 / 1.75)
    # A very short halflife is the naive forecast; a very long one the plain mean.
    short = EWMA(halflife=1e-3, periods=3).fit(h, "2022-07").predict(u, "2022-07", "2022-08")
    np.testing.assert_allclose(short, Naive().fit(h, "2022-07").predict(u, "2022-07", "2022-08"), atol=1e-12)
    long = EWMA(halflife=1e6, periods=3).fit(h, "2022-07").predict(u, "2022-07", "2022-08")
    np.testing.assert_allclose(
        long, Naive(periods=3).fit(h, "2022-07").predict(u, "2022-07", "2022-08"), rtol=1e-5
    )


def test_ewma_ignores_periods_before_the_data() -> None:
    u = grid()
    h = events([(900, 900, "2022-05"), (100, 100, "2022-06"), (100, 100, "2022-06")])
    p = EWMA(halflife=1.0, periods=24).fit(h, "2022-07").predict(u, "2022-07", "2022-08")
    # Only May and June are data: weights 1/2 and 1, not twenty-two empty months as well.
    assert p[at(u, 100, 100)] == pytest.approx(2 / 1.5)
    assert p.sum() == pytest.approx((0.5 * 1 + 1.0 * 2) / 1.5)


def test_ewma_weekly_windows() -> None:
    u = grid()
    h = events(
        [(100, 100, "2022-06-01T10:00"), (100, 100, "2022-07-10T10:00"), (100, 100, "2022-07-03T10:00")]
    )
    p = EWMA(halflife=1.0, periods=2).fit(h, "2022-07-13").predict(u, "2022-07-13", "2022-07-20")
    # Weeks 6-13 July (one event, weight 1) and 29 June-6 July (one event, weight 1/2).
    assert p[at(u, 100, 100)] == pytest.approx(1.5 / 1.5)


# --- KDE -------------------------------------------------------------------------------------------------


def test_kde_conserves_mass_with_a_small_bandwidth() -> None:
    u = grid(250.0, 5000.0)
    h = toy_history("month", months=12, per_month=100, seed=3)
    p = KDE(bandwidth=1.0, lookback=3).fit(h, "2021-10").predict(u, "2021-10", "2021-11")
    counts = u.counts(h, np.array([as_time(m) for m in ("2021-07", "2021-10")]))[:, 0]
    np.testing.assert_allclose(p, counts / 3)


def test_kde_smooths_to_neighbours_symmetrically() -> None:
    u = grid(250.0, 2250.0)  # 9 x 9 cells, the event in the middle one
    h = events([(1125, 1125, "2022-06")])
    p = KDE(bandwidth=250.0, lookback=1).fit(h, "2022-07").predict(u, "2022-07", "2022-08")
    centre = p[at(u, 1125, 1125)]
    sides = [p[at(u, 1125 + dx, 1125 + dy)] for dx, dy in ((250, 0), (-250, 0), (0, 250), (0, -250))]
    corners = [p[at(u, 1125 + dx, 1125 + dy)] for dx, dy in ((250, 250), (-250, -250))]
    assert centre == p.max()
    np.testing.assert_allclose(sides, sides[0])
    assert centre > sides[0] > corners[0] > 0
    assert p.sum() == pytest.approx(1.0)  # one event a month in the lookback


def test_kde_lets_mass_leak_at_the_edge() -> None:
    u = grid(250.0, 2500.0)
    h = events([(125, 125, "2022-06"), (1375, 1375, "2022-06")])
    p = KDE(bandwidth=250.0, lookback=1).fit(h, "2022-07").predict(u, "2022-07", "2022-08")
    # Reflecting at the edge would pile the corner event's spill back onto the corner cell.
    assert p[at(u, 125, 125)] == pytest.approx(p[at(u, 1375, 1375)])


def test_kde_is_retrospective() -> None:
    u = grid(250.0, 5000.0)
    old = events([(1000, 1000, "2022-01"), (4000, 4000, "2022-06"), (2500, 2500, "2021-01")])
    p = KDE(bandwidth=100.0, lookback=6).fit(old, "2022-07").predict(u, "2022-07", "2022-08")
    # January and June weigh the same; a year and a half ago is outside the lookback.
    assert p[at(u, 1000, 1000)] == pytest.approx(p[at(u, 4000, 4000)])
    assert p[at(u, 2500, 2500)] == 0
    assert p.sum() == pytest.approx(2 / 6)


def test_kde_lookback_as_periods_or_duration() -> None:
    u = toy_polygons()
    h = toy_history("timestamp", months=12, per_month=100, seed=4)
    week = ("2021-10-06", "2021-10-13")
    by_periods = KDE(lookback=12).fit(h, week[0]).predict(u, *week)
    by_duration = KDE(lookback="12w").fit(h, week[0]).predict(u, *week)
    np.testing.assert_allclose(by_periods, by_duration)
    inside = (h.t >= as_time("2021-07-14")) & (h.t < as_time(week[0]))
    assert by_periods.sum() == pytest.approx(inside.sum() / 12)
    month = KDE(lookback=3).fit(h, "2021-10").predict(u, "2021-10", "2021-11")
    assert month.sum() == pytest.approx(((h.t >= as_time("2021-07")) & (h.t < as_time("2021-10"))).sum() / 3)


# --- prospective -----------------------------------------------------------------------------------------


def test_prospective_kernel_follows_the_paper() -> None:
    k = Prospective().kernel(50.0)
    assert k.shape == (17, 17)  # 400 m either side on 50 m cells
    assert k[8, 8] == 1.0 and k[8, 9] == 0.5 and k[8, 16] == pytest.approx(1 / 9)
    assert k[9, 9] == pytest.approx(1 / (1 + np.sqrt(2)))
    assert k[0, 0] == 0.0  # the corner of the square is 566 m away


def test_prospective_weights_recent_nearby_events_more() -> None:
    u = grid(50.0, 3000.0)  # the paper's 50 m cells
    h = events(
        [
            (525, 525, "2022-07-10T12:00"),  # 2 days before the cut-off: 0 whole weeks
            (2025, 2025, "2022-07-01T12:00"),  # 11 days: 1 week
            (2525, 525, "2022-05-01T12:00"),  # 73 days: outside eight weeks
        ]
    )
    model = Prospective().fit(h, "2022-07-13")
    risk = model.risk(u)
    assert risk[at(u, 525, 525)] == pytest.approx(1.0)
    assert risk[at(u, 575, 525)] == pytest.approx(0.5)  # the next cell
    assert risk[at(u, 525 + 400, 525)] == pytest.approx(1 / 9)  # 400 m: still inside the bandwidth
    assert risk[at(u, 525 + 450, 525)] == 0.0
    assert risk[at(u, 2025, 2025)] == pytest.approx(0.5)  # a week old
    assert risk[at(u, 2525, 525)] == 0.0
    p = model.predict(u, "2022-07-13", "2022-07-20")
    # Two events in the last eight weeks: a quarter of an event a week, shared in proportion to risk.
    assert p.sum() == pytest.approx(2 / 8)
    assert np.argmax(p) == at(u, 525, 525)


def test_prospective_on_monthly_data_counts_months() -> None:
    u = grid(50.0, 3000.0)
    h = events([(525, 525, "2022-06"), (2025, 2025, "2022-05"), (2525, 525, "2022-04")])
    model = Prospective().fit(h, "2022-07")
    risk = model.risk(u)
    assert risk[at(u, 525, 525)] == pytest.approx(1.0)  # last month
    assert risk[at(u, 2025, 2025)] == pytest.approx(0.5)  # the month before
    assert risk[at(u, 2525, 525)] == 0.0  # eight weeks are two whole months
    np.testing.assert_allclose(Prospective(time_window="2m").fit(h, "2022-07").risk(u), risk)
    assert model.predict(u, "2022-07", "2022-08").sum() == pytest.approx(2 / 2)


def test_prospective_ranks_a_fresh_cluster_above_an_old_one() -> None:
    u = grid(250.0, 5000.0)
    rng = np.random.default_rng(0)
    fresh = [(1000 + dx, 1000 + dy, "2022-07-08") for dx, dy in rng.normal(0, 60, (5, 2))]
    stale = [(4000 + dx, 4000 + dy, "2022-05-25") for dx, dy in rng.normal(0, 60, (5, 2))]
    p = Prospective().fit(events(fresh + stale), "2022-07-13").predict(u, "2022-07-13", "2022-07-20")
    assert p[at(u, 1000, 1000)] > 2 * p[at(u, 4000, 4000)] > 0
    assert p.sum() == pytest.approx(10 / 7)  # the data begin on 25 May, seven weeks before the cut-off


# --- window arithmetic -----------------------------------------------------------------------------------


def test_window_arithmetic() -> None:
    monthly = events([(0, 0, "2021-01")])
    timestamped = events([(0, 0, "2021-01-05T10:00")])
    assert lookback_start(monthly, as_time("2022-07"), Horizon(56, "D")) == as_time("2022-05")
    assert lookback_start(timestamped, as_time("2022-07-13"), Horizon(8, "D")) == as_time("2022-07-05")
    assert span_periods(as_time("2022-01"), as_time("2022-07"), Horizon(1, "M")) == 6
    assert span_periods(as_time("2022-06-01"), as_time("2022-07-13"), Horizon(7, "D")) == 6
    # Cut at the start of the data: a year's lookback over six months of data is six months long.
    since, periods = recent_span(monthly, as_time("2021-07"), Horizon(12, "M"), Horizon(1, "M"))
    assert since == as_time("2021-01") and periods == 6
    since, periods = recent_span(timestamped, as_time("2021-01-19"), Horizon(28, "D"), Horizon(7, "D"))
    assert since == as_time("2021-01-05") and periods == 2


@pytest.mark.parametrize(
    "model",
    [
        EWMA(halflife=0),
        EWMA(periods=0),
        KDE(bandwidth=0),
        KDE(lookback=0),
        KDE(lookback="soon"),
        Prospective(bandwidth=-1),
        Prospective(time_window="2 fortnights"),
        Prospective(cell=0),
    ],
    ids=repr,
)
def test_bad_parameters_fail_at_fit(model: EWMA | KDE | Prospective) -> None:
    with pytest.raises(ValueError):
        model.fit(events([(0, 0, "2022-06")]), "2022-07")


def test_kde_bandwidth_follows_the_unit_grid_by_default() -> None:
    history = toy_history(months=12)
    fine = toy_units(100.0)
    model = KDE().fit(history, "2021-12")
    assert model.bandwidth_for(fine) == 100.0 and model.bandwidth_for(toy_units()) == 250.0
    assert model.bandwidth_for(toy_polygons()) == 250.0
    explicit = KDE(bandwidth=100.0).fit(history, "2021-12").predict(fine, "2021-12", "2022-01")
    np.testing.assert_array_equal(model.predict(fine, "2021-12", "2022-01"), explicit)
