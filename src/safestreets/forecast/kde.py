"""KDE: retrospective kernel density hotspot mapping.

The classic analyst's hotspot map (Chainey, Tompson & Uhlig 2008, "The utility of hotspot mapping for
predicting spatial patterns of crime", *Security Journal* 21: 4-28; Chainey 2013, "Examining the
influence of cell size and bandwidth size on kernel density estimation crime hotspot maps", *Bulletin of
the Geographical Society of Liege* 60): every event of a recent window weighs the same, a kernel spreads
each one over its surroundings, and the densest places are the hotspots of the next period.

Here the kernel is a Gaussian with standard deviation ``bandwidth`` metres, applied to the events binned
on the units' raster (``scipy.ndimage.gaussian_filter``). The surface is summed back to units and scaled
so that its total is the mean number of events per period that fell in the units during the lookback:
the map says where, the recent level says how many.

This module also holds the small window arithmetic the counting models share (:func:`data_start`,
:func:`recent_span`).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from scipy import ndimage

from safestreets.errors import ParameterError
from safestreets.forecast.base import Forecaster, period_of
from safestreets.forecast.history import History, Horizon
from safestreets.geo.units import Units

#: Mean days in a calendar month, to compare month and day spans.
MONTH_DAYS = 365.2425 / 12
#: The kernel's standard deviation for polygon units, in metres.
DEFAULT_BANDWIDTH = 250.0


class KDE(Forecaster):
    """Gaussian kernel density of the events in a recent window, all weighted alike.

    Parameters
    ----------
    bandwidth:
        Standard deviation of the Gaussian kernel, in metres; ``None`` (the default) is the side of the
        grid units' cells, or 250 m for polygon units. One cell spreads an event over roughly its own cell
        and the ring around it, at any cell size (a fixed 250 m on 100 m cells blurred the City of London's
        hot spots: hit rate at 1% 4.8% against 10.0%); a quartic kernel with the same spread has a search
        radius of 2.83 x sigma.
    lookback:
        The window of events used: a number of forecast periods (``12`` means twelve months for a
        monthly forecast, twelve weeks for a weekly one) or a fixed duration such as ``"3m"`` or ``"8w"``.
    fine_cell:
        Raster cell in metres for polygon units (grid units use their own cells).
    """

    name = "kde"
    summary = "kernel density of recent events"
    baseline = True

    def __init__(
        self, bandwidth: float | None = None, lookback: int | str = 12, fine_cell: float = 100.0
    ) -> None:
        self.bandwidth = bandwidth
        self.lookback = lookback
        self.fine_cell = fine_cell

    def _fit(self, history: History) -> None:
        if self.bandwidth is not None and not self.bandwidth > 0:
            raise ParameterError(f"bandwidth must be positive metres, not {self.bandwidth}")
        if not self.fine_cell > 0:
            raise ParameterError(f"fine_cell must be positive metres, not {self.fine_cell}")
        if isinstance(self.lookback, bool) or not isinstance(self.lookback, Integral | str | Horizon):
            raise ParameterError(
                f"lookback must be a number of periods or a duration such as '3m', not {self.lookback!r}"
            )
        if isinstance(self.lookback, Integral) and self.lookback < 1:
            raise ParameterError(f"lookback must be at least 1 period, not {self.lookback}")
        if not isinstance(self.lookback, Integral):
            Horizon.parse(self.lookback)  # fail at fit, not at the first forecast

    def bandwidth_for(self, units: Units) -> float:
        """The kernel's standard deviation in metres for these units."""
        if self.bandwidth is not None:
            return float(self.bandwidth)
        return float(units.grid.cell) if units.grid is not None else DEFAULT_BANDWIDTH

    def span(self, horizon: Horizon) -> Horizon:
        """The lookback as a duration, for forecasts of ``horizon``."""
        if isinstance(self.lookback, Integral):
            return Horizon(horizon.n * int(self.lookback), horizon.unit)
        return Horizon.parse(self.lookback)

    def _predict(self, units: Units, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        horizon = period_of(self.history_, start, end)
        # The surface depends on the units and the horizon only: every window of that length shares it.
        return self._memo(units, ("kde", horizon), lambda: self._surface(units, horizon))

    def _surface(self, units: Units, horizon: Horizon) -> np.ndarray:
        history = self.history_
        since, periods = recent_span(history, self.until_, self.span(horizon), horizon)
        recent = history.t >= since
        spec = units.raster(float(self.fine_cell))
        grid = spec.bin(history.x[recent], history.y[recent])
        # mode="constant": mass near the edge leaks out of the area rather than folding back onto the
        # edge cells, which would invent hotspots along the boundary.
        smooth = ndimage.gaussian_filter(grid, sigma=self.bandwidth_for(units) / spec.cell, mode="constant")
        mass = units.from_raster(spec, smooth)
        inside = int(np.count_nonzero(units.locate_history(history)[recent] >= 0))
        total = float(mass.sum())
        if total <= 0 or inside == 0:
            return np.zeros(len(units))
        return mass * (inside / periods / total)


# --- window arithmetic shared by the counting models ---------------------------------------------------


def data_start(history: History) -> np.datetime64 | None:
    """The first instant the data cover: the first event's month, or its day for timestamped data.

    Windows reaching further back are cut here, so a short history is not read as a quiet one.
    """
    if not len(history):
        return None
    unit = "datetime64[M]" if history.resolution == "month" else "datetime64[D]"
    return history.t[0].astype(unit).astype("datetime64[s]")


def _on_month(t: np.datetime64) -> bool:
    return bool(t.astype("datetime64[M]").astype("datetime64[s]") == t)


def lookback_start(history: History, until: np.datetime64, span: Horizon) -> np.datetime64:
    """The start of the window of length ``span`` that ends at ``until``.

    Month-only data can only be cut at month boundaries, so a span in days is rounded to whole months
    there (eight weeks become two months). A span in months ending inside a month (timestamped data)
    goes back by the mean month length.
    """
    if history.resolution == "month" and span.unit == "D":
        span = Horizon(max(1, round(span.n / MONTH_DAYS)), "M")
    if span.unit == "M" and not _on_month(until):
        return until - np.timedelta64(round(span.n * MONTH_DAYS * 86400), "s")
    return span.add(until, -1)


def span_periods(a: np.datetime64, b: np.datetime64, horizon: Horizon) -> float:
    """The length of ``[a, b)`` in periods of ``horizon`` (whole months count exactly)."""
    if horizon.unit == "M" and _on_month(a) and _on_month(b):
        months = int((b.astype("datetime64[M]") - a.astype("datetime64[M]")).astype(int))
        return months / horizon.n
    days = float((b - a) / np.timedelta64(1, "D"))
    return days / (horizon.n * (MONTH_DAYS if horizon.unit == "M" else 1.0))


def recent_span(
    history: History, until: np.datetime64, span: Horizon, horizon: Horizon
) -> tuple[np.datetime64, float]:
    """The start of the recent window and its length in forecast periods, cut at the start of the data."""
    since = lookback_start(history, until, span)
    first = data_start(history)
    if first is not None and first > since:
        since = first
    return since, max(span_periods(since, until, horizon), 1e-9)
