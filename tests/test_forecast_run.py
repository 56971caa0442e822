"""run_forecast's own work: the native threads it runs under, and auto's final forecast reusing what its
backtest made (timings belong in bench/forecast.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from forecast_helpers import toy_history, toy_units
from safestreets.evaluate import forecast_run
from safestreets.evaluate.auto import origins_before
from safestreets.evaluate.backtest import default_origins
from safestreets.evaluate.forecast_run import run_forecast
from safestreets.forecast import gbm, make_model
from safestreets.forecast.base import Forecaster
from safestreets.forecast.history import History, Horizon
from safestreets.geo.units import Units


def toy_run(monkeypatch: pytest.MonkeyPatch, history: History, units: Units, **kwargs: Any) -> Any:
    """run_forecast on toy data: the store's loaders replaced, nothing saved."""
    monkeypatch.setattr(forecast_run, "load_history", lambda con, tgt, **kw: history)
    monkeypatch.setattr(forecast_run, "load_units", lambda con, kind, **kw: units)
    return run_forecast(None, save=False, **kwargs)  # type: ignore[arg-type]


def threads_now() -> dict[str, int]:
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    out = {lib["internal_api"]: lib["num_threads"] for lib in threadpool_info()}
    out["sklearn"] = _openmp_effective_n_threads()  # what HistGradientBoosting would use
    return out


@pytest.fixture()
def seen_in_fit(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, int]]:
    """The threads each native library may use inside every gradient-boosting fit."""
    seen: list[dict[str, int]] = []
    fit = gbm.HistGradientBoostingRegressor.fit

    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(threads_now())
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(gbm.HistGradientBoostingRegressor, "fit", patched)
    return seen


@pytest.mark.parametrize("threads", [1, 2])
def test_the_final_fit_runs_with_the_threads_asked_for(
    monkeypatch: pytest.MonkeyPatch, seen_in_fit: list[dict[str, int]], threads: int
) -> None:
    if threads > (os.cpu_count() or 1):
        pytest.skip("scikit-learn uses no more threads than there are cores")
    # gbm limits itself to one thread only below 50,000 training rows; above, it takes what it is given.
    monkeypatch.setattr(gbm, "SERIAL_ROWS", 0)
    before = threads_now()
    run = toy_run(
        monkeypatch, toy_history(months=18, per_month=200), toy_units(), model="gbm", threads=threads
    )
    assert run.model == "gbm" and np.isfinite(run.surface.expected_count).all()
    assert seen_in_fit, "gbm trained no booster"
    for seen in seen_in_fit:
        assert seen["openmp"] == threads and seen["sklearn"] == threads
        assert all(n == threads for api, n in seen.items() if api == "blas")
    assert threads_now() == before  # the limit ends with the forecast


def test_auto_chooses_under_the_limit_too(
    monkeypatch: pytest.MonkeyPatch, seen_in_fit: list[dict[str, int]]
) -> None:
    """With n_jobs=1 the choice's backtest runs in this process: it keeps to the limit as well."""
    monkeypatch.setattr(gbm, "SERIAL_ROWS", 0)
    monkeypatch.setattr(forecast_run, "MODELS", {"last-period": "", "gbm": ""})  # loaded before the limit
    real_choose = forecast_run.choose

    def small_choose(*args: Any, **kwargs: Any) -> Any:
        return real_choose(*args, candidates=("last-period", "gbm"), **kwargs)

    monkeypatch.setattr(forecast_run, "choose", small_choose)
    toy_run(monkeypatch, toy_history(months=18, per_month=200), toy_units(), model="auto", auto_origins=2)
    assert len(seen_in_fit) >= 2  # the backtest's fits and the final one
    assert all(seen["openmp"] == 1 and seen["sklearn"] == 1 for seen in seen_in_fit)


def test_threads_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="threads"):
        toy_run(monkeypatch, toy_history(months=6, per_month=50), toy_units(), model="last-period", threads=0)


# --- auto's final forecast reuses what its backtest made ---------------------------------------------


@pytest.mark.parametrize(("resolution", "horizon"), [("month", "1m"), ("timestamp", "7d")])
def test_auto_ensemble_reuses_the_backtests_member_forecasts(
    monkeypatch: pytest.MonkeyPatch, resolution: str, horizon: str
) -> None:
    """The ensemble's replays at the final origin are forecasts auto's backtest (in two worker processes)
    has made: the final forecast makes only its members' forecasts at that origin, and its surface is the
    one a fresh fit gives, to the bit."""
    history = toy_history(resolution, months=14, per_month=150, seed=3)
    units = toy_units(500.0)
    predicted: list[tuple[str, np.datetime64]] = []
    real_predict = Forecaster.predict

    def counting(self: Forecaster, units: Units, start: Any, end: Any) -> np.ndarray:
        predicted.append((self.name, self.until_))  # type: ignore[attr-defined]
        return real_predict(self, units, start, end)

    real_choose = forecast_run.choose

    def ensemble_chosen(*args: Any, **kwargs: Any) -> Any:
        choice = real_choose(*args, **kwargs)
        predicted.clear()  # from here on: the final forecast (worker processes never see the patch)
        return dataclasses.replace(choice, name="ensemble", model=make_model("ensemble"))

    monkeypatch.setattr(Forecaster, "predict", counting)
    monkeypatch.setattr(forecast_run, "choose", ensemble_chosen)
    run = toy_run(monkeypatch, history, units, model="auto", horizon=horizon, n_jobs=2, rank_by="count")
    start = forecast_run.cutoff(history, Horizon.parse(horizon))
    members = make_model("ensemble").models
    assert run.model == "ensemble"
    assert sorted(predicted) == sorted([("ensemble", start), *((m, start) for m in members)])

    fresh = pickle.loads(pickle.dumps(history))  # the same events, no memo
    assert not fresh.cache
    with threadpool_limits(1):
        expected = (
            make_model("ensemble").fit(fresh, start).predict(units, start, Horizon.parse(horizon).add(start))
        )
    np.testing.assert_array_equal(run.surface.expected_count, expected)


def test_monthly_choice_backtests_the_same_origins_as_before() -> None:
    """Monthly data: the periods before the forecast are the last ones inside the data, as they were."""
    history = toy_history(months=14, per_month=50)
    h = Horizon.parse("1m")
    start = forecast_run.cutoff(history, h)
    assert origins_before(history, h, start, 6) == default_origins(history, h, 6)
    timed = toy_history("timestamp", months=14, per_month=50)
    w = Horizon.parse("7d")
    aligned = origins_before(timed, w, forecast_run.cutoff(timed, w), 6)
    # Timestamped data: the old origins ended a day short of the forecast's (the last day counted as
    # partial), so the ensemble's replays there were never among them.
    assert aligned[-1] == forecast_run.cutoff(timed, w) - np.timedelta64(7, "D")
    assert [o - np.timedelta64(1, "D") for o in aligned] == default_origins(timed, w, 6)


def test_a_backtest_worker_limits_threads_a_composite_model_loads(tmp_path: Any) -> None:
    """An ensemble makes its members inside its task: the worker's one-thread limit must reach the OpenMP
    that gbm loads then (``ThreadProbe`` loads it as the first thing it does in a fresh worker)."""
    from safestreets.evaluate.backtest import backtest
    from thread_probe import ThreadProbe

    backtest({"probe": ThreadProbe(str(tmp_path))}, toy_history(months=6, per_month=50), toy_units(1000.0),
             origins=2, n_jobs=2, by_bcu=False)  # fmt: skip
    seen = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json"))]
    assert len(seen) == 2
    assert all(s["openmp"] == [1] and s["sklearn"] == 1 for s in seen)
