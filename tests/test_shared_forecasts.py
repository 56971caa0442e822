"""Forecasts shared between fits and worker processes (safestreets.forecast.shared)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from forecast_helpers import toy_history, toy_units
from safestreets.evaluate.backtest import backtest
from safestreets.forecast import make_model, shared
from safestreets.forecast.ensemble import Ensemble
from safestreets.forecast.history import History, as_time
from safestreets.forecast.shared import Job, forecast, forecast_many


@pytest.fixture()
def history() -> History:
    return toy_history(months=18, per_month=200, seed=5)


def direct(name: str, history: History, until: str, start: str, end: str, **params: object) -> np.ndarray:
    return make_model(name, **params).fit(history, until).predict(toy_units(), start, end)


def test_forecast_is_the_fitted_models_and_is_memoised(history: History) -> None:
    units = toy_units()
    job = Job(make_model("kde"), as_time("2022-03"), as_time("2022-03"), as_time("2022-04"))
    first = forecast_many([job], history, units)[0]
    again = forecast_many([job], history, units)[0]
    expected = make_model("kde").fit(history, "2022-03").predict(units, "2022-03", "2022-04")
    np.testing.assert_array_equal(first.prediction, expected)
    np.testing.assert_array_equal(again.prediction, expected)
    assert not first.cached and again.cached
    again.prediction[:] = -1.0  # a caller writing to its copy does not change the memo
    np.testing.assert_array_equal(forecast_many([job], history, units)[0].prediction, expected)


def test_prefixes_share_the_memo_but_never_each_others_data(history: History) -> None:
    units = toy_units()
    model = make_model("last-period")
    whole = forecast(model, history, "2022-03", units, "2022-03", "2022-04")
    prefix = history.before("2022-02")
    assert prefix.root is history and prefix.shared_cache is history.cache
    # Fitted on the prefix at a later cut-off the model sees less than the whole history at that
    # cut-off: a different forecast, never the memoised one.
    short = forecast(model, prefix, "2022-03", units, "2022-03", "2022-04")
    assert not np.array_equal(short, whole)
    np.testing.assert_array_equal(
        short, make_model("last-period").fit(prefix, "2022-03").predict(units, "2022-03", "2022-04")
    )
    # A prefix cut at the same cut-off as the whole history's fit finds that fit.
    cut = history.before("2022-05")
    hit = forecast_many([Job(model, as_time("2022-03"), as_time("2022-03"), as_time("2022-04"))], cut, units)[
        0
    ]
    assert hit.cached and np.array_equal(hit.prediction, whole)


def test_parameters_and_other_histories_are_not_confused(history: History) -> None:
    units = toy_units()
    a = forecast(make_model("kde", bandwidth=200.0), history, "2022-03", units, "2022-03", "2022-04")
    b = forecast(make_model("kde", bandwidth=600.0), history, "2022-03", units, "2022-03", "2022-04")
    assert not np.allclose(a, b)
    other = toy_history(months=18, per_month=200, seed=6)
    c = forecast(make_model("kde", bandwidth=200.0), other, "2022-03", units, "2022-03", "2022-04")
    np.testing.assert_array_equal(c, direct("kde", other, "2022-03", "2022-03", "2022-04", bandwidth=200.0))


def test_pickled_prefix_carries_no_later_events_or_memo(history: History) -> None:
    prefix = history.before("2022-01")
    prefix.shared_cache["something"] = 1
    back = pickle.loads(pickle.dumps(prefix))
    assert back.root is None and back.cache == {}
    assert len(back) == len(prefix) and back.t.max() < as_time("2022-01")


def test_workers_share_through_a_directory(history: History, tmp_path: Path) -> None:
    units = toy_units()
    job = Job(make_model("ewma"), as_time("2022-03"), as_time("2022-03"), as_time("2022-04"))
    with shared.sharing_dir(tmp_path):
        made = forecast_many([job], history, units)[0]
        # Another process: its own copy of the data and units, no memory of the first.
        other_history, other_units = pickle.loads(pickle.dumps((history, units)))
        found = forecast_many([job], other_history, other_units)[0]
    assert not made.cached and found.cached
    np.testing.assert_array_equal(found.prediction, made.prediction)
    assert list(tmp_path.glob("*.lock")) == []


def test_a_shared_forecast_reports_what_it_cost_to_make(history: History, tmp_path: Path) -> None:
    """Found in the memo or in another worker's file, a forecast is not free: it keeps its making's time,
    and a forecast that reuses others (an ensemble) counts them at that cost."""
    units = toy_units()
    job = Job(make_model("kde"), as_time("2022-03"), as_time("2022-03"), as_time("2022-04"))
    with shared.sharing_dir(tmp_path):
        made = forecast_many([job], history, units)[0]
        again = forecast_many([job], history, units)[0]
        other_history, other_units = pickle.loads(pickle.dumps((history, units)))
        found = forecast_many([job], other_history, other_units)[0]
    cost = made.fit_seconds + made.predict_seconds
    assert not made.cached and cost > 0
    for hit in (again, found):
        assert hit.cached and (hit.fit_seconds, hit.predict_seconds) == (
            made.fit_seconds,
            made.predict_seconds,
        )
    cut, end = as_time("2022-05"), as_time("2022-06")
    members = [Job(make_model(m), cut, cut, end) for m in ("last-period", "kde")]
    first = forecast_many(members, history, units)  # made before the ensemble asks for them
    ens = Job(Ensemble(models=("last-period", "kde"), origins=1, candidates=5), cut, cut, end)
    blended = forecast_many([ens], history, units)[0]
    assert not blended.cached
    assert blended.fit_seconds + blended.predict_seconds >= sum(
        t.fit_seconds + t.predict_seconds for t in first
    )


def test_a_dead_workers_lock_is_broken(history: History, tmp_path: Path) -> None:
    units = toy_units()
    job = Job(make_model("last-period"), as_time("2022-03"), as_time("2022-03"), as_time("2022-04"))
    with shared.sharing_dir(tmp_path):
        key = shared._key(job, history, units)
        lock = shared._path(key, history).with_suffix(".lock")
        dead = os.fork()
        if dead == 0:  # a child that exits at once: its pid is then free
            os._exit(0)
        os.waitpid(dead, 0)
        lock.write_text(str(dead))
        out = forecast_many([job], history, units)[0]
    assert not out.cached
    np.testing.assert_array_equal(out.prediction, direct("last-period", history, "2022-03", "2022-03", "2022-04"))


def test_ensemble_reuses_its_members_forecasts(history: History) -> None:
    units = toy_units()
    ens = Ensemble(models=("last-period", "kde"), origins=3, candidates=20)
    ens.fit(history, "2022-05").predict(units, "2022-05", "2022-06")
    memo = history.shared_cache["forecasts"]
    # Members at the cut-off and at the three replayed origins, each once.
    assert len(memo) == 2 * 4
    # The ensemble one period later needs only its members' forecasts at the new cut-off.
    Ensemble(models=("last-period", "kde"), origins=3, candidates=20).fit(history, "2022-06").predict(
        units, "2022-06", "2022-07"
    )
    assert len(memo) == 2 * 5


def test_ensemble_backtest_is_the_same_with_workers(history: History) -> None:
    units = toy_units()
    models = {
        "kde": make_model("kde"),
        "ensemble": Ensemble(models=("last-period", "kde"), origins=2, candidates=20),
    }
    one = backtest(models, history, units, origins=3, n_jobs=1, by_bcu=False)
    two = backtest(
        models, toy_history(months=18, per_month=200, seed=5), units, origins=3, n_jobs=2, by_bcu=False
    )
    for col in ("model", "origin", "coverage"):
        assert one.metrics[col].to_pylist() == two.metrics[col].to_pylist()
    for col in ("hit_rate", "pei", "predicted_total"):
        np.testing.assert_array_equal(one.metrics[col].to_numpy(), two.metrics[col].to_numpy())


@pytest.mark.parametrize("seed", range(6))
def test_fast_candidate_scores_match_the_capture_curve(seed: int) -> None:
    from safestreets.evaluate.metrics import capture_curve
    from safestreets.forecast.ensemble import mean_hit_rates

    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    area = np.where(rng.random(n) < 0.1, rng.uniform(0.1, 1.0, n), 1.0) * 62500.0  # clipped edge cells
    actual = rng.poisson(0.5, n).astype(float)
    scores = rng.gamma(0.5, 1.0, (8, n))
    scores[0] = 0.0  # all tied
    scores[1] = np.round(scores[1], 1)  # many ties
    scores[2, rng.random(n) < 0.9] = 0.0  # mostly zero: the head runs out
    cov = np.array([0.01, 0.05])
    expected = [capture_curve(s, actual, area, cov).mean() for s in scores]
    np.testing.assert_allclose(mean_hit_rates(scores, actual, area, cov), expected, rtol=1e-9, atol=1e-12)


def test_units_copied_with_new_covariates_are_not_confused(history: History) -> None:
    import dataclasses

    units = toy_units()
    rng = np.random.default_rng(2)
    other = dataclasses.replace(
        units, covariates={"dist_station_m": rng.uniform(0, 2000, len(units))}, cache={}
    )
    assert other.key == units.key  # replace keeps the key, so the memo must tell them apart
    assert shared.units_token(other) != shared.units_token(units)
    plain = forecast(make_model("gbm"), history, "2022-05", units, "2022-05", "2022-06")
    with_cov = forecast(make_model("gbm"), history, "2022-05", other, "2022-05", "2022-06")
    expected = make_model("gbm").fit(history, "2022-05").predict(other, "2022-05", "2022-06")
    np.testing.assert_array_equal(with_cov, expected)
    assert not np.array_equal(plain, with_cov)


def test_auto_can_be_backtested_with_workers(history: History) -> None:
    from safestreets.evaluate.auto import Auto

    units = toy_units()
    models = {"kde": make_model("kde"), "auto": Auto(candidates=("last-period", "kde"), origins=2)}
    result = backtest(models, history, units, origins=3, n_jobs=2, by_bcu=False)
    # A worker runs auto's own backtest inside a task: the worker's state survives it for the next task.
    assert result.metrics.num_rows == 2 * 3 * 3
    assert np.isfinite(result.metrics["hit_rate"].to_numpy()).all()
