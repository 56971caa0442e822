"""A study area drawn around the events sets aside the few geocoded far from the rest, with a count."""

from __future__ import annotations

import duckdb
import numpy as np

from safestreets.forecast.data import core_events, load_units, resolve_study_area
from safestreets.forecast.history import History, as_time


def city(n: int = 5000, far: int = 7, seed: int = 0) -> History:
    """A 10 km square city and ``far`` records 300-600 km away (as police.uk files carry)."""
    rng = np.random.default_rng(seed)
    x = np.r_[rng.uniform(500_000, 510_000, n), rng.uniform(800_000, 1_100_000, far)]
    y = np.r_[rng.uniform(170_000, 180_000, n), rng.uniform(-400_000, -100_000, far)]
    t = np.full(len(x), as_time("2022-01"))
    return History.from_arrays(x, y, t, resolution="month")


def test_far_records_are_set_aside_with_a_count(store: duckdb.DuckDBPyConnection) -> None:
    history = city()
    keep = core_events(history.x, history.y)
    assert int((~keep).sum()) == 7 and keep[:5000].all()
    area, note, resolved = resolve_study_area(store, "auto", history, pad=125)
    assert resolved == "hull" and "7 of 5,007 events set aside" in note
    assert area.area / 1e6 < 110  # the 10 km square and its margin, not 300 km of empty land
    units = load_units(store, "grid", cell_size=250, history=history, covariates=False)
    assert units.meta["set_aside"] == 7 and "set aside" in units.meta["warnings"][0]


def test_nothing_is_set_aside_where_nothing_is_far(store: duckdb.DuckDBPyConnection) -> None:
    history = city(far=0)
    assert core_events(history.x, history.y).all()
    _, note, _ = resolve_study_area(store, "hull", history)
    assert note == "convex hull of the events"
    units = load_units(store, "grid", cell_size=250, history=history, covariates=False)
    assert "set_aside" not in units.meta and "warnings" not in units.meta
