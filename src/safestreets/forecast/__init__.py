"""Forecasting models and the registry that names them.

A new model is one module in this folder and one line in ``MODELS`` (``name -> "module:Class"``). Every
model keeps the contract in :mod:`safestreets.forecast.base`; ``tests/test_model_contract.py`` checks it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from safestreets.errors import unknown
from safestreets.forecast.base import Forecaster, NotFittedError, clone
from safestreets.forecast.history import History, Horizon

MODELS: dict[str, str] = {
    "naive": "safestreets.forecast.naive:Naive",
    "ewma": "safestreets.forecast.ewma:EWMA",
    "kde": "safestreets.forecast.kde:KDE",
    "prospective": "safestreets.forecast.prospective:Prospective",
    "etas": "safestreets.forecast.etas:ETAS",
    "gbm": "safestreets.forecast.gbm:GBM",
    "ensemble": "safestreets.forecast.ensemble:Ensemble",
}
#: The published methods every forecast is compared against.
BASELINES = ("naive", "kde", "prospective")


def model_class(name: str) -> type[Forecaster]:
    try:
        target = MODELS[name]
    except KeyError:
        raise unknown("model", name, MODELS) from None
    module, _, cls = target.partition(":")
    return getattr(import_module(module), cls)


def make_model(name: str, **params: Any) -> Forecaster:
    return model_class(name)(**params)


__all__ = [
    "BASELINES",
    "MODELS",
    "Forecaster",
    "History",
    "Horizon",
    "NotFittedError",
    "clone",
    "make_model",
    "model_class",
]
