"""An intervention on plain data: a panel of counts (units x periods), which units are the target, and
when it started and ended.

Everything here is plain arrays so any source can feed it: the store through the API, a notebook, a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from safestreets.errors import NoDataError, ParameterError


@dataclass(frozen=True)
class Panel:
    """Counts (or harm) per unit and period. ``periods`` are the start of each period (``datetime64[M]``
    for monthly panels); ``ids`` name the units."""

    values: np.ndarray  # (units, periods) float64
    periods: np.ndarray
    ids: np.ndarray
    measure: str = "count"

    def __post_init__(self) -> None:
        v = np.asarray(self.values)
        if v.ndim != 2 or v.shape != (len(self.ids), len(self.periods)):
            raise ParameterError(
                f"panel values have shape {v.shape}, not (units={len(self.ids)}, periods={len(self.periods)})"
            )
        if np.any(~np.isfinite(v)) or np.any(v < 0):
            raise ParameterError("panel values must be finite and non-negative")

    @property
    def months(self) -> np.ndarray:
        """Calendar month (1-12) of each period, for seasonality."""
        m = np.asarray(self.periods).astype("datetime64[M]").astype("int64")
        return (m % 12) + 1


@dataclass(frozen=True)
class Intervention:
    """Where and when: ``target`` marks the units of the area; periods ``[start, end)`` are during it,
    periods from ``end`` on are after it. Indices into the panel's periods."""

    target: np.ndarray  # bool per unit
    start: int
    end: int
    exclude: np.ndarray | None = None  # bool per unit: never a comparison (e.g. the buffer)
    label: str = ""

    def check(self, panel: Panel) -> None:
        n_units, n_periods = panel.values.shape
        if self.target.shape != (n_units,) or self.target.dtype != bool:
            raise ParameterError(f"target must be a boolean mask over {n_units} units")
        if not self.target.any():
            raise NoDataError("the intervention area holds none of the units")
        if not 0 < self.start < self.end <= n_periods:
            raise ParameterError(
                f"the intervention must start after the first period and end by the last: start {self.start}, "
                f"end {self.end}, {n_periods} periods"
            )

    @property
    def comparable(self) -> np.ndarray:
        """Units that may serve as comparisons: not the target and not excluded."""
        out = ~self.target
        if self.exclude is not None:
            out &= ~self.exclude
        return out


def period_index(periods: np.ndarray, when: Any) -> int:
    """The index of the first period starting at or after ``when``."""
    p = np.asarray(periods).astype("datetime64[D]")
    w = np.datetime64(when, "D")
    return int(np.searchsorted(p, w, side="left"))


def target_mask(
    ids: np.ndarray, geometry: np.ndarray | None = None, *, area: Any = None, members: Any = None
) -> np.ndarray:
    """Units of the intervention: those named in ``members`` (ids, e.g. LSOA codes), or those whose
    representative point lies inside the ``area`` geometry."""
    ids = np.asarray(ids).astype(str)
    if members is not None:
        wanted = {str(m) for m in members}
        mask = np.isin(ids, list(wanted))
        missing = wanted - set(ids[mask].tolist())
        if missing:
            raise NoDataError(f"{len(missing)} named units are not in the panel, e.g. {sorted(missing)[:3]}")
        return mask
    if area is None or geometry is None:
        raise ParameterError("give the intervention as an area geometry or as a set of unit ids")
    pts = shapely.point_on_surface(np.asarray(geometry))
    shapely.prepare(area)
    return np.asarray(shapely.contains(area, pts) | shapely.touches(area, pts))


def ring_mask(geometry: np.ndarray, area: Any, buffer_m: float) -> np.ndarray:
    """Units whose representative point lies in the ring of width ``buffer_m`` around ``area``."""
    ring = area.buffer(buffer_m).difference(area)
    pts = shapely.point_on_surface(np.asarray(geometry))
    return np.asarray(shapely.intersects(ring, pts))


def tile_panel(
    panel: Panel, x: np.ndarray, y: np.ndarray, iv: Intervention, side: float, *, min_units: int = 1
) -> tuple[Panel, Intervention]:
    """Donor areas the target's size: comparable units grouped into square tiles of ``side`` metres
    (by each unit's point), the target's units summed into row 0. A synthetic control mixes these, so a
    large target is not matched against single small cells."""
    if side <= 0:
        raise ParameterError(f"tile side must be positive, not {side}")
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    comp = np.flatnonzero(iv.comparable)
    col = np.floor((x[comp] - x.min()) / side).astype("int64")
    row = np.floor((y[comp] - y.min()) / side).astype("int64")
    key = row * (int(col.max()) + 1 if len(col) else 1) + col
    tiles, inverse, sizes = np.unique(key, return_inverse=True, return_counts=True)
    sums = np.zeros((len(tiles), panel.values.shape[1]))
    np.add.at(sums, inverse, panel.values[comp])
    keep = sizes >= min_units
    values = np.vstack([panel.values[iv.target].sum(axis=0, keepdims=True), sums[keep]])
    ids = np.array(["target", *[f"tile-{int(t)}" for t in tiles[keep]]])
    target = np.zeros(len(ids), dtype=bool)
    target[0] = True
    return Panel(values, panel.periods, ids, panel.measure), Intervention(
        target, iv.start, iv.end, label=iv.label
    )
