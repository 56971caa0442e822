"""Naive: the next period looks like the last one.

The count in each unit over the period of the same length just before the cut-off, scaled to the length
of the forecast period. The baseline every forecast must beat (and, at fine scales, often hard to).
"""

from __future__ import annotations

import numpy as np

from safestreets.errors import ParameterError
from safestreets.forecast.base import Forecaster, period_of
from safestreets.forecast.history import History
from safestreets.geo.units import Units


class Naive(Forecaster):
    name = "naive"
    summary = "last period's count"
    baseline = True

    def __init__(self, periods: int = 1) -> None:
        self.periods = periods

    def _fit(self, history: History) -> None:
        if self.periods < 1:
            raise ParameterError(f"periods must be at least 1, not {self.periods}")

    def _predict(self, units: Units, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        horizon = period_of(self.history_, start, end)
        edges = horizon.edges_before(self.until_, self.periods)
        counts = units.counts(self.history_, edges)
        return counts.mean(axis=1)
