"""Forecasting models and the registry that names them.

A new model is one module in this folder and one line in ``MODELS`` (``name -> "module:Class"``). Every
model keeps the contract in :mod:`safestreets.forecast.base`; ``tests/test_model_contract.py`` checks it.
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import Any

from safestreets.errors import unknown
from safestreets.forecast.base import Forecaster, NotFittedError, clone
from safestreets.forecast.history import History, Horizon

MODELS: dict[str, str] = {
    "histavg": "safestreets.forecast.histavg:HistAvg",
    "last-period": "safestreets.forecast.naive:LastPeriod",
    "ewma": "safestreets.forecast.ewma:EWMA",
    "kde": "safestreets.forecast.kde:KDE",
    "prospective": "safestreets.forecast.prospective:Prospective",
    "etas": "safestreets.forecast.etas:ETAS",
    "gbm": "safestreets.forecast.gbm:GBM",
    "ensemble": "safestreets.forecast.ensemble:Ensemble",
}
#: Old names that still work, with a warning: ``naive`` was last period's count, which is not what the
#: literature's naive predictor is (a long-run count), so it is named for what it is.
ALIASES: dict[str, str] = {"naive": "last-period"}
#: The published methods every forecast is compared against; the historical average first, as every
#: ratio is quoted against it.
BASELINES = ("histavg", "last-period", "kde", "prospective")
#: The baseline every ratio is quoted against.
REFERENCE = "histavg"


def canonical(name: str) -> str:
    """The registry name of ``name``, with a FutureWarning for a deprecated alias."""
    if name in ALIASES:
        new = ALIASES[name]
        warnings.warn(f"model {name!r} is deprecated: it is {new!r} (last period's count); use {new!r}",
                      FutureWarning, stacklevel=3)  # fmt: skip
        return new
    return name


def model_class(name: str) -> type[Forecaster]:
    name = canonical(name)
    try:
        target = MODELS[name]
    except KeyError:
        raise unknown("model", name, MODELS) from None
    module, _, cls = target.partition(":")
    return getattr(import_module(module), cls)


def make_model(name: str, **params: Any) -> Forecaster:
    return model_class(name)(**params)


__all__ = [
    "ALIASES",
    "BASELINES",
    "MODELS",
    "REFERENCE",
    "Forecaster",
    "History",
    "Horizon",
    "NotFittedError",
    "canonical",
    "clone",
    "make_model",
    "model_class",
]
