"""Prospective hotspotting: recent nearby crime raises risk, and the more so the nearer and newer it is.

Bowers, Johnson & Pease (2004), "Prospective hot-spotting: the future of crime mapping?", *British
Journal of Criminology* 44(5): 641-658. Burglary risk spreads to nearby homes for a few weeks after a
burglary (the near-repeat effect), so each event within a spatial and temporal bandwidth of a cell adds

    1 / (1 + distance in cells) x 1 / (1 + elapsed time in weeks)

to that cell's risk. The paper used 50 m cells, a 400 m bandwidth and the last two months of data.

Choices where the paper leaves room (documented in ``docs/models/prospective.md``):

* Distance is the straight-line distance between the centre of the event's raster cell and the centre of
  the scored cell, in units of ``cell`` (50 m), and an event counts while that distance is at most
  ``bandwidth``. The paper counts "complete half grid widths" without saying exactly how; a Euclidean
  distance keeps the kernel round.
* Elapsed time is counted in whole weeks back from the cut-off (an event 0-6 days old is 0 weeks old).
  Month-only data (police.uk) cannot do better than months, so there it counts whole months and the time
  window is rounded to whole months (eight weeks become two months).
* Risk is computed as at the cut-off, even for a forecast that starts later: nothing newer is known.
* The raster is a ``cell`` grid (for grid units, the even subdivision of the unit cell nearest to
  ``cell``), and a unit's score is the sum over the raster cells whose centres it holds.

Because the weight is a product of a spatial and a temporal factor, weighting each event by its temporal
factor and convolving once with the spatial kernel gives exactly the sum over time-lag buckets of one
convolution each, at a fraction of the cost.

The scores are scaled so their total is the recent mean count per period in the units: the ranking is the
method's; the scale keeps count-based measures (deviance, expected hits) meaningful.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from safestreets.errors import ParameterError
from safestreets.forecast.base import Forecaster, period_of
from safestreets.forecast.history import History, Horizon
from safestreets.forecast.kde import lookback_start, recent_span
from safestreets.geo.units import GridSpec, Units

#: Rasters beyond this many cells would take minutes and gigabytes: ask for a larger cell instead.
MAX_RASTER_CELLS = 25_000_000


class Prospective(Forecaster):
    """Bowers, Johnson & Pease's prospective hotspotting.

    Parameters
    ----------
    bandwidth:
        Events further than this many metres from a cell add nothing to it.
    time_window:
        Events older than this add nothing: a duration such as ``"8w"`` or ``"2m"``; whole months for
        month-only data.
    cell:
        The distance unit of the kernel and the raster cell, in metres.
    """

    name = "prospective"
    summary = "prospective hotspotting: recent nearby events"
    baseline = True

    def __init__(self, bandwidth: float = 400.0, time_window: str = "8w", cell: float = 50.0) -> None:
        self.bandwidth = bandwidth
        self.time_window = time_window
        self.cell = cell

    def _fit(self, history: History) -> None:
        if not self.bandwidth > 0:
            raise ParameterError(f"bandwidth must be positive metres, not {self.bandwidth}")
        if not self.cell > 0:
            raise ParameterError(f"cell must be positive metres, not {self.cell}")
        self.window_ = Horizon.parse(self.time_window)

    def _predict(self, units: Units, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        horizon = period_of(self.history_, start, end)
        score = self._memo(units, "risk", lambda: self.risk(units))
        rate = self._memo(units, ("rate", horizon), lambda: self._rate(units, horizon))
        total = float(score.sum())
        if total <= 0:
            return np.zeros(len(units))
        return score * (rate / total)

    # --- the method ------------------------------------------------------------------------------------

    def time_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """The events inside the time window (a boolean mask) and the temporal factor of each of them."""
        history, until = self.history_, self.until_
        recent = history.t >= lookback_start(history, until, self.window_)
        t = history.t[recent]
        if history.resolution == "month":
            # Months since the end of the event's month, counted from the month the cut-off falls in.
            now = (until - np.timedelta64(1, "s")).astype("datetime64[M]") + 1
            lag = (now - t.astype("datetime64[M]")).astype("int64") - 1
        else:
            lag = ((until - t) // np.timedelta64(7, "D")).astype("int64")
        return recent, 1.0 / (1.0 + np.maximum(lag, 0))

    def kernel(self, raster_cell: float) -> np.ndarray:
        """The spatial factor on a raster of ``raster_cell`` metres, centred, zero beyond the bandwidth."""
        reach = int(np.floor(self.bandwidth / raster_cell + 1e-9))
        off = np.arange(-reach, reach + 1) * raster_cell
        metres = np.hypot(off[:, None], off[None, :])
        return np.where(metres <= self.bandwidth + 1e-9, 1.0 / (1.0 + metres / self.cell), 0.0)

    def raster(self, units: Units) -> GridSpec:
        """A raster of about ``cell`` metres that nests in the units' grid when they have one."""
        if units.grid is not None:
            g = units.grid
            sub = max(1, round(g.cell / self.cell))
            spec = GridSpec(g.x0, g.y0, g.cell / sub, g.nrows * sub, g.ncols * sub)
        else:
            spec = units.raster(float(self.cell))
        if spec.size > MAX_RASTER_CELLS:
            raise ParameterError(
                f"prospective hotspotting on {spec.cell:g} m cells needs {spec.size:,} cells here: "
                "use a larger cell (e.g. cell=100)"
            )
        return spec

    def feasible(self, history: History, units: Units) -> None:
        if not self.cell > 0:
            raise ParameterError(f"cell must be positive metres, not {self.cell}")
        self.raster(units)

    def risk(self, units: Units) -> np.ndarray:
        """Unscaled risk of each unit: the sum of the weights of recent nearby events."""
        history = self.history_
        recent, weight = self.time_weights()
        spec = self.raster(units)
        grid = spec.bin(history.x[recent], history.y[recent], weights=weight)
        if not grid.any():
            return np.zeros(len(units))
        surface = signal.fftconvolve(grid, self.kernel(spec.cell), mode="same")
        # FFT round-off leaves dust (~1e-16 of the peak) where the exact sum is zero.
        surface[surface < 1e-10 * surface.max()] = 0.0
        return units.from_raster(spec, surface)

    def _rate(self, units: Units, horizon: Horizon) -> float:
        """Events in the units per forecast period over the time window."""
        history = self.history_
        since, periods = recent_span(history, self.until_, self.window_, horizon)
        inside = (units.locate_history(history) >= 0) & (history.t >= since)
        return float(np.count_nonzero(inside)) / periods
