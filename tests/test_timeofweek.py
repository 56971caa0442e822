"""Risk by shift and day: profiles recover a planted pattern, shrinkage pulls thin units to their parents."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forecast_helpers import SIDE, toy_units
from safestreets.errors import NoDataError
from safestreets.forecast.history import History
from safestreets.forecast.timeofweek import (
    DEFAULT_SHIFTS,
    HOURS,
    ShiftDef,
    fit_profiles,
    fit_strength,
    hour_of_week,
    slot_matrix,
    week_by_slot,
)

MONDAY = np.datetime64("2024-01-01T00:00:00", "s")  # a Monday


def planted(rng: np.random.Generator, n: int, profile: np.ndarray, x: float, y: float, spread: float = 100.0):
    """``n`` events around (x, y) whose hours of week follow ``profile`` over 52 weeks."""
    hours = rng.choice(HOURS, size=n, p=profile)
    weeks = rng.integers(0, 52, n)
    t = MONDAY + (weeks * 168 + hours) * np.timedelta64(3600, "s") + rng.integers(0, 3600, n).astype("timedelta64[s]")
    return (np.clip(x + rng.normal(0, spread, n), 1, SIDE - 1), np.clip(y + rng.normal(0, spread, n), 1, SIDE - 1), t)


def history_of(parts) -> History:
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    t = np.concatenate([p[2] for p in parts])
    order = np.argsort(t, kind="stable")
    n = len(x)
    return History.from_arrays(x[order], y[order], t[order], np.full(n, "Robbery", dtype=object),
                               np.ones(n), resolution="timestamp")  # fmt: skip


def night_profile() -> np.ndarray:
    p = np.ones(HOURS)
    for d in range(7):
        p[d * 24 + 22 : d * 24 + 24] = 12.0  # 22:00-23:59
        if d < 6:
            p[(d + 1) * 24 : (d + 1) * 24 + 3] = 12.0  # 00:00-02:59 the next day
    return p / p.sum()


def day_profile() -> np.ndarray:
    p = np.ones(HOURS)
    for d in range(5):  # weekday daytime
        p[d * 24 + 9 : d * 24 + 17] = 10.0
    return p / p.sum()


def test_hour_of_week_and_slots():
    t = np.array(["2024-01-01T00:30", "2024-01-07T23:59", "2024-01-03T15:00"], dtype="datetime64[s]")
    assert hour_of_week(t).tolist() == [0, 167, 2 * 24 + 15]
    m = slot_matrix(DEFAULT_SHIFTS)
    assert m.shape == (168, 21)
    assert (m.sum(axis=1) == 1).all()  # the default shifts cover every hour once
    # Tuesday 03:00 belongs to Monday's night shift; Monday 03:00 to Sunday's
    assert m[24 + 3, 0 * 3 + 2] == 1 and m[3, 6 * 3 + 2] == 1
    assert m[7, 0] == 1 and m[15, 1] == 1 and m[23, 2] == 1


def test_profiles_recover_a_planted_pattern():
    rng = np.random.default_rng(1)
    night, day = night_profile(), day_profile()
    # West half: busy night-time economy; east half: a daytime shopping street
    hist = history_of([planted(rng, 6000, night, 1200, 2500, 300), planted(rng, 6000, day, 3800, 2500, 300)])
    units = toy_units(250.0)
    tow = fit_profiles(hist, units)
    shifts = tow.shift_shares(DEFAULT_SHIFTS)  # early, late, night
    m = slot_matrix(DEFAULT_SHIFTS).reshape(168, 7, 3).sum(axis=1)
    truth_night, truth_day = night @ m, day @ m
    west = units.locate(np.array([1200.0]), np.array([2500.0]))[0]
    east = units.locate(np.array([3800.0]), np.array([2500.0]))[0]
    assert np.abs(shifts[west] - truth_night).max() < 0.05
    assert np.abs(shifts[east] - truth_day).max() < 0.05
    assert shifts[west, 2] > 0.5 and shifts[east, 2] < 0.25
    # the command units recover their own patterns too
    assert np.abs(tow.bcu["west"] @ m - truth_night).max() < 0.03
    assert np.abs(tow.bcu["east"] @ m - truth_day).max() < 0.03
    # every profile is a distribution
    assert np.allclose(tow.unit.sum(axis=1), 1.0)


def test_shrinkage_pulls_thin_units_towards_their_bcu():
    rng = np.random.default_rng(2)
    night, day = night_profile(), day_profile()
    # Many night-time events across the west; one west cell has only 4 events, all at midday Wednesday
    west = planted(rng, 8000, night, 1250, 2500, 600)
    east = planted(rng, 8000, day, 3750, 2500, 600)
    thin_t = MONDAY + np.timedelta64(2 * 24 + 12, "h") + np.arange(4) * np.timedelta64(7, "D")
    thin = (np.full(4, 125.0), np.full(4, 4875.0), thin_t.astype("datetime64[s]"))
    units = toy_units(250.0)
    # keep the rest of the west away from the thin cell's corner
    keep = ~((west[0] < 500) & (west[1] > 4500))
    west = (west[0][keep], west[1][keep], west[2][keep])
    tow = fit_profiles(history_of([west, east, thin]), units)
    cell = units.locate(np.array([125.0]), np.array([4875.0]))[0]
    assert tow.unit_events[cell] == 4
    shares = tow.shift_shares(DEFAULT_SHIFTS)
    raw = tow.shift_shares(DEFAULT_SHIFTS, level="raw")
    bcu_night = (tow.bcu["west"] @ slot_matrix(DEFAULT_SHIFTS).reshape(168, 7, 3).sum(axis=1))[2]
    assert raw[cell, 2] == 0.0  # its own events are all daytime
    # shrunk: its night share moves most of the way to the west's
    assert shares[cell, 2] > 0.5 * bcu_night
    # a unit with no events at all gets its command unit's profile exactly
    empty = np.flatnonzero((tow.unit_events == 0) & (np.asarray(units.bcu) == "west"))[0]
    assert np.allclose(tow.unit[empty], tow.bcu["west"])
    # a busy unit keeps (nearly) its own pattern
    busy = int(np.argmax(tow.unit_events))
    assert np.abs(tow.unit[busy] - tow.meta["raw"][busy]).sum() < np.abs(tow.bcu[str(units.bcu[busy])] - tow.meta["raw"][busy]).sum()


def test_strength_is_chosen_from_the_data():
    rng = np.random.default_rng(3)
    prior = night_profile()
    same = rng.multinomial(30, prior, size=200)  # children drawn from the parent itself
    a_same = fit_strength(same, prior)
    varied = np.array([rng.multinomial(30, rng.dirichlet(prior * 20)) for _ in range(200)])  # true strength 20
    a_varied = fit_strength(varied, prior)
    assert a_same > 500
    assert 8 < a_varied < 50


def test_month_only_data_is_refused():
    hist = History.from_arrays(np.array([1.0]), np.array([1.0]), np.array(["2024-01-01"], dtype="datetime64[s]"),
                               np.array(["Robbery"], dtype=object), np.ones(1), resolution="month")  # fmt: skip
    with pytest.raises(NoDataError, match="timestamped"):
        fit_profiles(hist, toy_units())


def test_week_by_slot_spreads_the_weekly_total():
    rng = np.random.default_rng(4)
    hist = history_of([planted(rng, 2000, night_profile(), 2500, 2500, 800)])
    units = toy_units(500.0)
    tow = fit_profiles(hist, units)
    weekly = rng.uniform(0, 5, len(units))
    by = week_by_slot(weekly, tow, DEFAULT_SHIFTS)
    assert by.shape == (len(units), 7, 3)
    assert np.allclose(by.sum(axis=(1, 2)), weekly)
    city = week_by_slot(weekly, tow, DEFAULT_SHIFTS, level="city")
    assert np.allclose(city.sum(axis=(1, 2)), weekly)
    # overlapping shifts: an hour in two shifts counts in both
    two = (ShiftDef("a", 8, 10), ShiftDef("b", 16, 8), ShiftDef("c", 0, 8))
    assert slot_matrix(two).sum() > 168


@given(st.integers(0, 23), st.lists(st.integers(1, 12), min_size=1, max_size=4))
def test_shifts_that_tile_the_day_put_every_hour_in_one_slot(start: int, lengths: list[int]):
    """Consecutive whole-hour shifts covering 24 hours: each hour of the week is in exactly one slot, and
    each slot holds its shift's hours."""
    lengths = [*lengths, 24 - sum(lengths)] if sum(lengths) < 24 else lengths
    if sum(lengths) != 24:
        return
    shifts, at = [], start
    for k, n in enumerate(lengths):
        shifts.append(ShiftDef(f"s{k}", at % 24, n))
        at += n
    m = slot_matrix(shifts)
    assert (m.sum(axis=1) == 1).all()
    assert m.sum(axis=0).tolist() == [float(s.hours) for _ in range(7) for s in shifts]
