"""The density ranking every coverage measure reads: units densest first, equal densities in blocks.

:mod:`safestreets.evaluate.metrics` defines the measures (hit rate, PAI, PEI, harm captured, flagged
units) on this ranking; models that score candidate forecasts themselves (the ensemble) read it here, so
the forecast layer never reaches up into evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# Relative slack when comparing cumulative areas with the budget, so 3 x 0.1 m² fits in 30 % of 1 m².
AREA_RTOL = 1e-12


@dataclass(frozen=True)
class Ranking:
    """Units in density order with the cumulative area at each unit and at each tie block's end."""

    order: NDArray[np.intp]  # unit indices, densest first, ties by index
    block_ends: NDArray[np.intp]  # position (in ranked order) of each tie block's last unit
    unit_area: FloatArray  # cumulative area after each ranked unit
    block_area: FloatArray  # 0, then cumulative area after each block: the x of the capture curve

    @classmethod
    def of(cls, scores: FloatArray, area: FloatArray) -> Ranking:
        density = scores / area
        # Stable sort of the negated density: highest first, equal densities in unit-index order.
        order = np.argsort(-density, kind="stable")
        ranked = density[order]
        block_ends = np.append(np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1)
        unit_area = np.cumsum(area[order])
        return cls(order, block_ends, unit_area, np.concatenate(([0.0], unit_area[block_ends])))

    def capture(self, values: FloatArray, coverages: FloatArray) -> FloatArray:
        """Share of ``values`` captured at each coverage; nan when ``values`` total 0."""
        captured = np.concatenate(([0.0], np.cumsum(values[self.order])[self.block_ends]))
        total = captured[-1]  # the same sum the curve ends on, so coverage 1 captures exactly 1
        if total <= 0:
            return np.full(len(coverages), np.nan)
        # Linear interpolation between block ends is the tie and fractional-boundary rule.
        share = np.interp(coverages * self.block_area[-1], self.block_area, captured) / total
        return np.clip(share, 0.0, 1.0)  # only rounding can step outside

    def n_flagged(self, coverages: FloatArray) -> NDArray[np.intp]:
        """Number of whole units flagged at each coverage (the ranked prefix that fits the budget)."""
        budget = coverages * self.unit_area[-1] * (1 + AREA_RTOL)
        return np.searchsorted(self.unit_area, budget, side="right")


def capture(scores: FloatArray, values: FloatArray, area: FloatArray, coverages: FloatArray) -> FloatArray:
    """Share of ``values`` captured at each coverage when units are ranked by ``scores / area``.

    The inputs are taken as valid (``evaluate.metrics.capture_curve`` checks them first); nan when
    ``values`` total 0.
    """
    return Ranking.of(scores, area).capture(values, coverages)
