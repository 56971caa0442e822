"""The contract every registered forecaster keeps (see :mod:`safestreets.forecast.base`).

Each check runs for every name in ``MODELS``, on grid and polygon units, for month-only data with a
one-month window and timestamped data with a seven-day window. A registry entry whose module does not
exist yet is skipped, not failed, so a model can be registered before it is written.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pytest

from forecast_helpers import SIDE, toy_history, toy_polygons, toy_units
from safestreets.forecast import BASELINES, MODELS, Forecaster, NotFittedError, clone, model_class
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.geo.units import Units

NAMES = list(MODELS)


@dataclass(frozen=True)
class Scenario:
    units: str  # "grid" or "polygons"
    resolution: str  # "month" or "timestamp"

    @property
    def horizon(self) -> Horizon:
        return Horizon(1, "M") if self.resolution == "month" else Horizon(7, "D")

    @property
    def until(self) -> np.datetime64:
        # Timestamped data are cut mid-month and mid-week, where no period boundary helps a model.
        return as_time("2022-07-01" if self.resolution == "month" else "2022-07-13")

    def window(self, k: int = 0) -> tuple[np.datetime64, np.datetime64]:
        """The forecast window ``k`` periods after the cut-off."""
        return self.horizon.add(self.until, k), self.horizon.add(self.until, k + 1)

    def __str__(self) -> str:
        return f"{self.units}-{self.resolution}"


SCENARIOS = [Scenario(u, r) for u in ("grid", "polygons") for r in ("month", "timestamp")]


# --- shared, built once ---------------------------------------------------------------------------------


def model_cls(name: str) -> type[Forecaster]:
    """The registered class, or a skip when its module is not written yet."""
    module = MODELS[name].partition(":")[0]
    try:
        return model_class(name)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            pytest.skip(f"model {name!r} is registered but {module} does not exist yet")
        raise


@cache
def history(resolution: str) -> History:
    # Smaller than the helper's default: the contract runs for every model and must stay fast.
    return toy_history(resolution, months=24, per_month=200, seed=7)


@cache
def units(kind: str) -> Units:
    return toy_units() if kind == "grid" else toy_polygons()


@cache
def fitted(name: str, scenario: Scenario) -> Forecaster:
    """One fitted model per name and scenario, shared by the checks that only predict."""
    model = model_cls(name)()
    assert model.fit(history(scenario.resolution), scenario.until) is model, "fit returns the model"
    return model


@cache
def reference(name: str, scenario: Scenario) -> np.ndarray:
    start, end = scenario.window()
    return fitted(name, scenario).predict(units(scenario.units), start, end)


def comparable(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters without sub-model objects (their own parameters stay, under ``name__param``)."""
    return {k: v for k, v in params.items() if not isinstance(v, Forecaster)}


def init_names(cls: type[Forecaster]) -> list[str]:
    sig = inspect.signature(cls.__init__)
    return [
        p.name
        for p in sig.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def alter_future(h: History, until: np.datetime64, seed: int = 0) -> History:
    """A copy of ``h`` whose events at or after ``until`` are moved anywhere, doubled and made heavier."""
    rng = np.random.default_rng(seed)
    cut = int(np.searchsorted(h.t, until, side="left"))
    later = np.r_[np.arange(cut, len(h)), np.arange(cut, len(h))]
    n = len(later)
    context = None if h.context is None else alter_future(h.context, until, seed + 1)
    return History.from_arrays(
        np.r_[h.x[:cut], rng.uniform(0, SIDE, n)],
        np.r_[h.y[:cut], rng.uniform(0, SIDE, n)],
        np.r_[h.t[:cut], h.t[later]],
        np.r_[h.crime_type[:cut], h.crime_type[later]],
        np.r_[h.harm[:cut], h.harm[later] * 10],
        resolution=h.resolution,
        meta=dict(h.meta),
        context=context,
    )


def mean_recent_count(scenario: Scenario, periods: int = 6) -> float:
    h = history(scenario.resolution).before(scenario.until)
    edges = scenario.horizon.edges_before(scenario.until, periods)
    return float(units(scenario.units).counts(h, edges).sum()) / periods


def check_forecast(p: np.ndarray, scenario: Scenario) -> None:
    assert p.dtype == np.float64
    assert p.shape == (len(units(scenario.units)),)
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    level = mean_recent_count(scenario)
    assert 0.2 * level <= p.sum() <= 5 * level, f"total {p.sum():.1f} against a recent mean of {level:.1f}"


# --- parameters -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_registry_entry(name: str) -> None:
    cls = model_cls(name)
    assert cls.name == name
    assert cls.summary, "a one-line summary is shown in tables"
    assert cls.baseline == (name in BASELINES)


@pytest.mark.parametrize("name", NAMES)
def test_params(name: str) -> None:
    cls = model_cls(name)
    model = cls()
    params = model.get_params(deep=False)
    assert list(params) == init_names(cls)
    # Stored unchanged: the defaults read back as given.
    for p in inspect.signature(cls.__init__).parameters.values():
        if (
            p.name in params
            and p.default is not inspect.Parameter.empty
            and not isinstance(params[p.name], Forecaster)
        ):
            assert params[p.name] == p.default, f"{name}.{p.name} is stored as {params[p.name]!r}"

    copy = clone(model)
    assert type(copy) is cls and copy is not model
    assert comparable(copy.get_params()) == comparable(model.get_params())
    assert not hasattr(copy, "history_")

    assert copy.set_params(**params) is copy
    assert comparable(copy.get_params()) == comparable(model.get_params())
    marker = object()
    for key in params:  # each parameter is read back from the attribute set_params writes
        assert copy.set_params(**{key: marker}).get_params(deep=False)[key] is marker
    copy.set_params(**params)
    assert comparable(copy.get_params()) == comparable(model.get_params())
    with pytest.raises(ValueError, match=r"unknown \w+ parameter .no_such_parameter."):
        copy.set_params(no_such_parameter=1)


@pytest.mark.parametrize("name", NAMES)
def test_predict_before_fit(name: str) -> None:
    with pytest.raises(NotFittedError):
        model_cls(name)().predict(units("grid"), "2022-07", "2022-08")


# --- fit and predict ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_fit_predict(name: str, scenario: Scenario) -> None:
    model = fitted(name, scenario)
    p = reference(name, scenario)
    check_forecast(p, scenario)
    fresh = model_cls(name)()
    assert comparable(model.get_params()) == comparable(fresh.get_params()), (
        "fit must not change the parameters"
    )
    # Pure: a second call gives the same answer.
    start, end = scenario.window()
    np.testing.assert_array_equal(model.predict(units(scenario.units), start, end), p)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_clone_refits_to_the_same_forecast(name: str, scenario: Scenario) -> None:
    """A clone is unfitted; fitting it (even after an earlier fit) gives exactly the same forecast.

    The earlier fit and forecast come first so that anything a model keeps from them (memoised surfaces,
    trained sub-models) shows up as a difference: fitting again must replace everything learnt.
    """
    twin = clone(fitted(name, scenario))
    assert not hasattr(twin, "history_")
    earlier = scenario.horizon.add(scenario.until, -3)
    twin.fit(history(scenario.resolution), earlier)
    twin.predict(units(scenario.units), *scenario.window(-3))
    twin.fit(history(scenario.resolution), scenario.until)
    start, end = scenario.window()
    np.testing.assert_array_equal(twin.predict(units(scenario.units), start, end), reference(name, scenario))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_no_leakage(name: str, scenario: Scenario) -> None:
    """Whatever happens at or after the cut-off cannot change the forecast."""
    altered = alter_future(history(scenario.resolution), scenario.until)
    assert len(altered) > len(history(scenario.resolution))
    model = model_cls(name)().fit(altered, scenario.until)
    start, end = scenario.window()
    np.testing.assert_array_equal(model.predict(units(scenario.units), start, end), reference(name, scenario))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_window_after_a_gap(name: str, scenario: Scenario) -> None:
    start, end = scenario.window(1)
    p = fitted(name, scenario).predict(units(scenario.units), start, end)
    check_forecast(p, scenario)
    with pytest.raises(ValueError):
        fitted(name, scenario).predict(units(scenario.units), scenario.horizon.add(scenario.until, -1), end)


@pytest.mark.parametrize("kind", ["grid", "polygons"])
@pytest.mark.parametrize("name", NAMES)
def test_month_only_data_rejects_a_week(name: str, kind: str) -> None:
    model = fitted(name, Scenario(kind, "month"))
    start = as_time("2022-07-01")
    with pytest.raises(ValueError, match="month"):
        model.predict(units(kind), start, start + np.timedelta64(7, "D"))
