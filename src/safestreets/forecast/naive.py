"""Last period: the next period looks like the last one (registered as ``last-period``).

The count in each unit over the period of the same length just before the cut-off, scaled to the length
of the forecast period. It used to be registered as ``naive``, which still works with a warning; it is a
weak baseline (one period's count is mostly noise at fine scales): the one every ratio is quoted
against is the historical average (:mod:`safestreets.forecast.histavg`).
"""

from __future__ import annotations

import numpy as np

from safestreets.errors import ParameterError
from safestreets.forecast.base import Forecaster, period_of
from safestreets.forecast.history import History
from safestreets.geo.units import Units


class LastPeriod(Forecaster):
    name = "last-period"
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


#: The old name of the class, kept for code that imports it.
Naive = LastPeriod
