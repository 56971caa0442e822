"""Historical average: each unit's mean count per period over a long window.

The honest baseline every ratio is quoted against. At fine scales most of what a hotspot forecast can
know is where crime has long been, and a plain long-run mean per unit (what open_cp calls its naive
predictor) already captures it: a model that cannot beat this does not add anything a user could not
get from a count.

The window is chosen by an inner backtest on the fitted history only (so on data before the cut-off):
for each of the ``inner_origins`` periods just before the cut-off, each candidate window's mean, taken
over the periods before that inner origin, ranks the units, and the window with the highest mean hit
rate at ``coverages`` wins (ties go to the longer window, the steadier forecast). Candidate windows are
durations in months (6, 12, 18, 24, 36) or ``None`` for all the data; for a horizon in days they become
the nearest whole number of periods of that length (12 months at a 7-day horizon: 52 periods).

Periods that start before the data do are left out of the mean, not counted as zeros, so a history
shorter than the window is not read as a quiet one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from safestreets.errors import ParameterError
from safestreets.forecast.base import Forecaster, period_of
from safestreets.forecast.history import History, Horizon
from safestreets.forecast.kde import data_start
from safestreets.forecast.ranking import capture
from safestreets.geo.units import Units

#: Days in a mean month, to turn a window in months into periods of a horizon in days.
MONTH_DAYS = 365.25 / 12
DEFAULT_WINDOWS: tuple[int | None, ...] = (6, 12, 18, 24, 36, None)


def window_periods(months: int | None, horizon: Horizon, available: int) -> int:
    """How many periods of ``horizon`` a window of ``months`` spans (all ``available`` for ``None``)."""
    if months is None:
        return max(available, 1)
    n = months / horizon.n if horizon.unit == "M" else months * MONTH_DAYS / horizon.n
    return int(min(max(round(n), 1), max(available, 1)))


def window_label(months: int | None) -> str:
    return "all" if months is None else f"{months}m"


class HistAvg(Forecaster):
    """Mean count per period per unit over a window chosen by an inner backtest.

    Parameters
    ----------
    window:
        A fixed window in months, or ``None`` to choose among ``windows`` by the inner backtest.
    windows:
        Candidate windows in months; ``None`` in the list means all the data before the cut-off.
    inner_origins:
        Periods just before the cut-off the inner backtest scores each candidate on.
    coverages:
        Shares of the area whose mean hit rate the inner backtest compares.
    """

    name = "histavg"
    summary = "historical average: mean count per period over a long window"
    baseline = True

    def __init__(
        self,
        window: int | None = None,
        windows: Sequence[int | None] = DEFAULT_WINDOWS,
        inner_origins: int = 6,
        coverages: Sequence[float] = (0.01, 0.05),
    ) -> None:
        self.window = window
        self.windows = windows
        self.inner_origins = inner_origins
        self.coverages = coverages

    def _fit(self, history: History) -> None:
        for w in (self.window, *self.windows):
            if w is not None and (int(w) != w or w < 1):
                raise ParameterError(f"a window is a whole number of months (at least 1) or None, not {w}")
        if not self.windows and self.window is None:
            raise ParameterError("windows is empty: give candidate windows or a fixed window")
        if int(self.inner_origins) != self.inner_origins or self.inner_origins < 1:
            raise ParameterError(f"inner_origins must be a whole number of at least 1, not {self.inner_origins}")

    def period_counts(self, units: Units, horizon: Horizon) -> np.ndarray:
        """Counts per unit in every period of ``horizon`` from the first one the data cover to the cut-off
        (units x periods, oldest first)."""
        first = data_start(self.history_)
        if first is None:
            return np.zeros((len(units), 0))
        n = 0
        while horizon.add(self.until_, -(n + 1)) >= first:
            n += 1
        # A period that starts before the data is left out (as in EWMA): it would read as a quiet one.
        edges = horizon.edges_before(self.until_, max(n, 1))
        return units.counts(self.history_, edges)

    def choose_window(self, counts: np.ndarray, area: np.ndarray, horizon: Horizon) -> tuple[int | None, dict]:
        """The candidate window with the best mean hit rate over the inner origins, and every score.

        ``counts`` holds only periods before the cut-off, and each inner origin's forecast reads only the
        periods before that origin: the choice never sees the period it is scored on, nor anything later.
        """
        if self.window is not None:
            return int(self.window), {}
        periods = counts.shape[1]
        inner = min(int(self.inner_origins), periods - 1)
        candidates = list(self.windows)
        if inner < 1:  # too little data to compare: the longest window, which is all there is
            return None if None in candidates else max(w for w in candidates if w is not None), {}
        covs = np.asarray(self.coverages, dtype="float64")
        scores: dict[str, float] = {}
        best: tuple[float, float, int | None] | None = None
        for w in candidates:
            rates = []
            for k in range(inner, 0, -1):
                cut = periods - k  # the inner origin: periods [0, cut) are known, period cut is scored
                n = window_periods(w, horizon, cut)
                forecast = counts[:, cut - n : cut].mean(axis=1)
                hr = capture(forecast, counts[:, cut].astype("float64"), area, covs)
                if np.isfinite(hr).all():
                    rates.append(float(hr.mean()))
            score = float(np.mean(rates)) if rates else float("nan")
            scores[window_label(w)] = score
            length = float("inf") if w is None else float(w)
            key = (score if np.isfinite(score) else -1.0, length, w)
            if best is None or key[:2] > best[:2]:
                best = key
        assert best is not None
        return best[2], scores

    def _predict(self, units: Units, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        horizon = period_of(self.history_, start, end)

        def build() -> tuple[np.ndarray, int | None, dict]:
            counts = self.period_counts(units, horizon)
            if counts.shape[1] == 0:
                return np.zeros(len(units)), None, {}
            w, scores = self.choose_window(counts, np.asarray(units.area, dtype="float64"), horizon)
            n = window_periods(w, horizon, counts.shape[1])
            return counts[:, -n:].mean(axis=1), w, scores

        mean, w, scores = self._memo(units, ("histavg", str(horizon)), build)
        self.window_ = w
        self.window_scores_ = scores
        return mean
