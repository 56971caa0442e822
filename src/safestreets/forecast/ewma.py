"""EWMA: an exponentially weighted average of each unit's recent counts.

Counts per unit in periods as long as the forecast window, ending at the cut-off, are averaged with weight
``0.5 ** (k / halflife)`` for the period ``k`` periods back (``k = 0`` is the last one). The result is a
rate per period, which is the forecast for a window of one period. It sits between the last-period forecast
(``halflife`` near zero) and a long-run mean (``halflife`` large), so it follows slow drifts without
chasing one unusual period.
"""

from __future__ import annotations

import numpy as np

from safestreets.errors import ParameterError
from safestreets.forecast.base import Forecaster, period_of
from safestreets.forecast.history import History
from safestreets.forecast.kde import data_start
from safestreets.geo.units import Units


class EWMA(Forecaster):
    """Exponentially weighted mean count per period, per unit.

    Parameters
    ----------
    halflife:
        Periods after which a period's weight halves.
    periods:
        Number of past periods used (older ones are ignored).
    """

    name = "ewma"
    summary = "exponentially weighted recent counts"
    baseline = False

    def __init__(self, halflife: float = 3.0, periods: int = 24) -> None:
        self.halflife = halflife
        self.periods = periods

    def _fit(self, history: History) -> None:
        if not self.halflife > 0:
            raise ParameterError(f"halflife must be positive, not {self.halflife}")
        if int(self.periods) != self.periods or self.periods < 1:
            raise ParameterError(f"periods must be a whole number of at least 1, not {self.periods}")

    def weights(self, edges: np.ndarray) -> np.ndarray:
        """Normalised weights of the periods between ``edges`` (oldest first).

        Periods that start before the data do are left out rather than counted as zeros, which would
        pull every forecast down when the history is shorter than ``periods``.
        """
        count = len(edges) - 1
        back = np.arange(count - 1, -1, -1, dtype="float64")  # periods back: the newest is 0
        w = 0.5 ** (back / float(self.halflife))
        first = data_start(self.history_)
        if first is not None:
            covered = edges[:-1] >= first
            covered[-1] = True  # always keep the newest period, as the last-period forecast would
            w = np.where(covered, w, 0.0)
        return w / w.sum()

    def _predict(self, units: Units, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        horizon = period_of(self.history_, start, end)
        edges = horizon.edges_before(self.until_, int(self.periods))
        counts = units.counts(self.history_, edges)
        # One window is one period, so the weighted rate per period is the forecast.
        return counts @ self.weights(edges)
