"""GBM: the gradient-boosted Poisson model on the toy town."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import spearmanr

from forecast_helpers import toy_history, toy_polygons, toy_units
from safestreets.forecast.base import clone
from safestreets.forecast.gbm import GBM, build_features
from safestreets.forecast.history import History, as_time
from safestreets.forecast.naive import Naive
from safestreets.geo.units import Units


def month_after(t: str) -> np.datetime64:
    return (np.datetime64(t, "M") + 1).astype("datetime64[s]")


@pytest.fixture(scope="module")
def monthly() -> History:
    return toy_history()


@pytest.fixture(scope="module")
def stamped() -> History:
    return toy_history("timestamp")


def with_covariates(units: Units) -> Units:
    rng = np.random.default_rng(3)
    covariates = {
        "dist_station_m": rng.uniform(0, 2000, len(units)),
        "population_density": rng.gamma(2.0, 2000.0, len(units)),
    }
    return dataclasses.replace(units, covariates=covariates, cache={})


def check(pred: np.ndarray, units: Units) -> None:
    assert pred.shape == (len(units),)
    assert np.isfinite(pred).all() and (pred >= 0).all()
    assert pred.sum() > 0


def test_monthly_grid(monthly: History) -> None:
    units = toy_units()
    model = GBM().fit(monthly, "2023-06")
    pred = model.predict(units, as_time("2023-06"), month_after("2023-06"))
    check(pred, units)
    names = model.feature_names_
    for name in (
        "mean_1p",
        "mean_12p",
        "mean_24p",
        "periods_since_last",
        "near_1p_small",
        "near_12p_large",
        "context_1p",
        "month_sin",
        "log_area",
    ):
        assert name in names
    assert "dist_station_m" not in names


def test_timestamped_weekly(stamped: History) -> None:
    units = toy_units()
    start = as_time("2023-06-01")
    model = GBM().fit(stamped, start)
    pred = model.predict(units, start, start + np.timedelta64(7, "D"))
    check(pred, units)
    # A week is about a quarter of a month: the forecast total follows the weekly rate, not the monthly.
    recent = units.counts(stamped, np.array([as_time("2023-03-01"), start])).sum() / 13.0
    assert pred.sum() == pytest.approx(recent, rel=0.3)


def test_polygons(monthly: History) -> None:
    units = toy_polygons()
    model = GBM().fit(monthly, "2023-06")
    pred = model.predict(units, as_time("2023-06"), month_after("2023-06"))
    check(pred, units)
    actual = units.counts(monthly, np.array([as_time("2023-06"), month_after("2023-06")]))[:, 0]
    assert spearmanr(pred, actual)[0] > 0.5


def test_total_close_to_recent(monthly: History) -> None:
    units = toy_units()
    for until in ("2022-09", "2023-06"):
        pred = GBM().fit(monthly, until).predict(units, as_time(until), month_after(until))
        edges = np.array([(np.datetime64(until, "M") - 3).astype("datetime64[s]"), as_time(until)])
        recent = units.counts(monthly, edges).sum() / 3.0
        assert pred.sum() == pytest.approx(recent, rel=0.3)


def test_better_than_naive_out_of_sample(monthly: History) -> None:
    """Over several origins the model beats last month's counts on Poisson deviance (the proper score for
    expected counts), on correlation with next month's counts and on the share of next month's events in
    its top tenth of cells. It ranks about as well by Spearman, which on a sparse next month is decided
    by how ties fall (naive's many tied zeros): breaking naive's ties by the model's forecast lowers it."""
    units = toy_units()

    def deviance(pred: np.ndarray, actual: np.ndarray) -> float:
        pred = np.maximum(pred, 1e-3)  # naive's zeros would otherwise score infinitely badly
        return float(np.mean(pred - actual * np.log(pred)))

    def hit_rate(pred: np.ndarray, actual: np.ndarray) -> float:
        top = np.argsort(-pred, kind="stable")[: len(pred) // 10]
        return float(actual[top].sum() / actual.sum())

    scores: dict[str, list[tuple[float, float, float, float]]] = {"gbm": [], "naive": []}
    for until in ("2022-07", "2023-01", "2023-04", "2023-10"):
        start, end = as_time(until), month_after(until)
        actual = units.counts(monthly, np.array([start, end]))[:, 0]
        for name, model in (("gbm", GBM()), ("naive", Naive())):
            pred = model.fit(monthly, until).predict(units, start, end)
            scores[name].append(
                (
                    deviance(pred, actual),
                    hit_rate(pred, actual),
                    float(np.corrcoef(pred, actual)[0, 1]),
                    float(spearmanr(pred, actual)[0]),
                )
            )
    gbm, naive = np.mean(scores["gbm"], axis=0), np.mean(scores["naive"], axis=0)
    assert gbm[0] < naive[0] - 0.5
    assert gbm[1] > naive[1]
    assert gbm[2] > naive[2] + 0.02
    assert gbm[3] > naive[3] - 0.1


def test_deterministic(monthly: History) -> None:
    units, polys = toy_units(), toy_polygons()
    start, end = as_time("2023-03"), month_after("2023-03")
    model = GBM(zero_fraction=0.5)
    a = model.fit(monthly, start).predict(units, start, end)
    again = model.predict(units, start, end)
    b = clone(model).fit(monthly, start).predict(toy_units(), start, end)
    np.testing.assert_array_equal(a, again)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        model.predict(polys, start, end), clone(model).fit(monthly, start).predict(polys, start, end)
    )


def test_refit_retrains(monthly: History) -> None:
    units = toy_units()
    start, end = as_time("2023-03"), month_after("2023-03")
    model = GBM(max_iter=50).fit(monthly, "2022-06")
    model.predict(units, as_time("2022-06"), month_after("2022-06"))
    again = model.fit(monthly, start).predict(units, start, end)
    np.testing.assert_array_equal(again, GBM(max_iter=50).fit(monthly, start).predict(units, start, end))


def wild_future(history: History, origin: np.datetime64, seed: int = 9) -> History:
    """``history`` before ``origin`` and, after it, ten times the events piled into one corner (context too)."""
    rng = np.random.default_rng(seed)

    def mangle(h: History) -> History:
        past = h.before(origin)
        k = 10 * len(h.between(origin, h.end))
        x = np.r_[past.x, rng.uniform(0, 600, k)]
        y = np.r_[past.y, rng.uniform(0, 600, k)]
        step = np.timedelta64(60, "D") if h.resolution == "timestamp" else np.timedelta64(0, "s")
        t = np.r_[past.t, np.full(k, origin) + (rng.integers(0, 2, k) * step).astype("timedelta64[s]")]
        types = np.r_[past.crime_type, np.full(k, "Burglary", dtype=object)]
        return History.from_arrays(x, y, t, types, resolution=h.resolution)

    context = None if history.context is None else mangle(history.context)
    out = mangle(history)
    return dataclasses.replace(out, context=context, cache={})


@pytest.mark.parametrize(
    ("resolution", "origin", "horizon"), [("month", "2022-06", "1m"), ("timestamp", "2022-06-08", "7d")]
)
def test_features_never_see_the_origin_or_later(
    resolution: str, origin: str, horizon: str, monthly: History, stamped: History
) -> None:
    history = monthly if resolution == "month" else stamped
    cut = as_time(origin)
    changed = wild_future(history, cut)
    assert len(changed.between(cut, changed.end)) > 5 * len(history.between(cut, history.end))
    for units in (toy_units(), with_covariates(toy_polygons())):
        a, names = build_features(units, history, cut, horizon)
        b, names_b = build_features(units, changed, cut, horizon)
        assert names == names_b
        np.testing.assert_array_equal(a, b)
        # ... while the same builder one horizon later does see the change.
        later = as_time("2022-07") if horizon == "1m" else cut + np.timedelta64(7, "D")
        assert not np.array_equal(
            build_features(units, history, later, horizon)[0],
            build_features(units, changed, later, horizon)[0],
        )


def test_model_ignores_the_future(monthly: History) -> None:
    units = toy_units()
    cut = as_time("2022-06")
    a = GBM().fit(monthly, cut).predict(units, cut, month_after("2022-06"))
    b = GBM().fit(wild_future(monthly, cut), cut).predict(units, cut, month_after("2022-06"))
    np.testing.assert_array_equal(a, b)


def test_short_history_falls_back_to_recent_mean() -> None:
    history = toy_history(months=2)
    units = toy_units()
    model = GBM().fit(history, "2021-03")
    pred = model.predict(units, as_time("2021-03"), month_after("2021-03"))
    expected = units.counts(history, np.array([as_time("2021-01"), as_time("2021-03")]))[:, 0] / 2.0
    np.testing.assert_allclose(pred, expected)
    assert model.feature_names_ == []


def test_empty_history_predicts_zero() -> None:
    history = toy_history(months=2).before("2000-01")
    units = toy_units()
    pred = GBM().fit(history, "2021-03").predict(units, as_time("2021-03"), month_after("2021-03"))
    np.testing.assert_array_equal(pred, np.zeros(len(units)))


def test_uses_covariates_and_works_without_context(monthly: History) -> None:
    units = with_covariates(toy_units())
    bare = dataclasses.replace(monthly, context=None, cache={})
    model = GBM(max_iter=50).fit(bare, "2023-06")
    pred = model.predict(units, as_time("2023-06"), month_after("2023-06"))
    check(pred, units)
    names = model.feature_names_
    assert "dist_station_m" in names and "population_density" in names
    assert not any(name.startswith("context") for name in names)


def test_forecast_after_a_gap_uses_the_target_month(monthly: History) -> None:
    units = toy_units()
    model = GBM(max_iter=50).fit(monthly, "2023-01")
    jan = model.predict(units, as_time("2023-01"), month_after("2023-01"))
    jul = model.predict(units, as_time("2023-07"), month_after("2023-07"))
    check(jul, units)
    assert not np.array_equal(jan, jul)  # same features at the cut-off, a different season


def test_bad_parameters() -> None:
    history = toy_history(months=3)
    with pytest.raises(ValueError, match="origins"):
        GBM(origins=0).fit(history, "2021-03")
    with pytest.raises(ValueError, match="zero_fraction"):
        GBM(zero_fraction=0.0).fit(history, "2021-03")


def test_quantised_features_keep_their_order() -> None:
    from safestreets.forecast.gbm import MAX_BINS, _bin_edges, _quantise

    rng = np.random.default_rng(1)
    X = np.column_stack([rng.gamma(1.0, 1.0, 5000), rng.integers(0, 5, 5000), np.zeros(5000)])
    weight = np.where(rng.random(5000) < 0.5, 5.0, 1.0)
    edges = _bin_edges(X, weight)
    assert edges[0] is not None and edges[1] is None and edges[2] is None  # few distinct values: as they are
    Q = _quantise(X, edges)
    assert len(np.unique(Q[:, 0])) <= MAX_BINS
    np.testing.assert_array_equal(Q[:, 1:], X[:, 1:])
    order = np.argsort(X[:, 0])
    assert np.all(np.diff(Q[order, 0]) >= 0)  # monotone: the trees split the same ranking


def test_large_training_sets_are_sampled_and_boosted_faster(monthly: History) -> None:
    units = toy_units(100.0)  # 2,500 cells x 12 origins: 30,000 rows before sampling
    small = GBM(max_rows=5000, max_row_rounds=500_000).fit(monthly, "2023-06")
    pred = small.predict(units, as_time("2023-06"), month_after("2023-06"))
    trained = next(v for v in small.memo_.values() if hasattr(v, "booster"))
    assert 4000 < trained.rows < 6000
    # Fewer rounds at a higher rate, learning rate x rounds kept at 0.05 x 200.
    assert trained.booster.max_iter == 500_000 // trained.rows < 200
    assert trained.booster.learning_rate * trained.booster.max_iter == pytest.approx(10.0)
    full = GBM(max_rows=None, max_row_rounds=None).fit(monthly, "2023-06")
    reference = full.predict(units, as_time("2023-06"), month_after("2023-06"))
    assert np.corrcoef(pred, reference)[0, 1] > 0.9 and pred.sum() == pytest.approx(reference.sum(), rel=0.1)


def test_training_blocks_are_shared_by_later_cut_offs() -> None:
    monthly = toy_history()  # its own: the module's history already holds other tests' blocks
    units = toy_units()
    first = GBM().fit(monthly, "2023-05").predict(units, as_time("2023-05"), month_after("2023-05"))
    blocks = {k for k in monthly.shared_cache if k[0] == "gbm-block"}
    GBM().fit(monthly, "2023-06").predict(units, as_time("2023-06"), month_after("2023-06"))
    added = {k for k in monthly.shared_cache if k[0] == "gbm-block"} - blocks
    assert len(blocks) == 12 and len(added) == 1  # one new training origin, the rest reused
    # Sharing changes nothing: a fresh copy of the data (no shared cache) gives the same forecast.
    fresh = History.from_arrays(
        monthly.x,
        monthly.y,
        monthly.t,
        monthly.crime_type,
        monthly.harm,
        resolution=monthly.resolution,
        context=monthly.context,
    )
    again = GBM().fit(fresh, "2023-05").predict(units, as_time("2023-05"), month_after("2023-05"))
    np.testing.assert_array_equal(first, again)


def test_short_horizons_train_on_a_year_of_origins() -> None:
    from safestreets.forecast.history import Horizon

    model = GBM()
    assert model.training_origins(Horizon(1, "M")) == 12
    assert model.training_origins(Horizon(7, "D")) == 52
    assert model.training_origins(Horizon(28, "D")) == 13
    assert model.training_origins(Horizon(1, "D")) == 52
    assert GBM(origins=5).training_origins(Horizon(7, "D")) == 5
