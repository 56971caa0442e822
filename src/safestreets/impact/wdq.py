"""Displacement and diffusion: the Weighted Displacement Quotient (Bowers and Johnson 2003).

    WDQ = (Da/Ca - Db/Cb) / (Ra/Ca - Rb/Cb)

R is the target area, D a buffer around it, C a control area, b before and a after. Above 0: the buffer
improved too (diffusion of benefits); between 0 and -1: some crime moved into the buffer but less than the
target gained; below -1: displacement outweighed the gain. The quotient is only meaningful when the target
improved relative to the control, so otherwise the answer is "cannot say". Its interval comes from a
parametric bootstrap of the six counts as Poisson.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from safestreets.errors import ParameterError
from safestreets.impact.common import LEVEL, check_level, plain


@dataclass(frozen=True)
class WDQAreas:
    target: Any  # shapely geometry
    buffer: Any
    control: Any
    control_chosen: bool  # true when the control was chosen here, not given

    def describe(self) -> dict[str, Any]:
        return {
            "target_km2": round(self.target.area / 1e6, 4),
            "buffer_km2": round(self.buffer.area / 1e6, 4),
            "control_km2": round(self.control.area / 1e6, 4),
            "control_chosen": self.control_chosen,
            "control_wkt": shapely.to_wkt(self.control, rounding_precision=1),
            "buffer_wkt": shapely.to_wkt(self.buffer, rounding_precision=1),
        }


def wdq_areas(
    target: Any,
    buffer_m: float,
    *,
    control: Any = None,
    study_area: Any = None,
    control_gap_m: float | None = None,
    control_scale: float = 4.0,
) -> WDQAreas:
    """The buffer ring around ``target`` and a control area.

    Without a given ``control``, the control is a ring beyond a gap (the buffer's width again, so
    displaced crime is unlikely to reach it) whose area is ``control_scale`` times the target and buffer
    together, clipped to ``study_area`` when given.
    """
    if buffer_m <= 0:
        raise ParameterError(f"buffer width must be positive, not {buffer_m} m")
    if target is None or target.is_empty or target.area <= 0:
        raise ParameterError("the target area is empty")
    inner = target.buffer(buffer_m)
    ring = inner.difference(target)
    if control is not None:
        ctl = control.difference(inner)
        chosen = False
    else:
        gap = buffer_m if control_gap_m is None else control_gap_m
        start = inner.buffer(gap)
        want = control_scale * inner.area
        # Grow the outer edge until the ring holds the wanted area (area grows smoothly with distance).
        lo, hi = 0.0, max(1000.0, 10 * np.sqrt(want))
        for _ in range(40):
            mid = (lo + hi) / 2
            area = start.buffer(mid).difference(start).area
            lo, hi = (mid, hi) if area < want else (lo, mid)
        ctl = start.buffer(hi).difference(start)
        chosen = True
    if study_area is not None:
        ctl = ctl.intersection(study_area)
        ring = ring.intersection(study_area)
    if ctl.is_empty or ctl.area <= 0:
        raise ParameterError("the control area is empty (inside the buffer or outside the study area)")
    return WDQAreas(target, ring, ctl, chosen)


def count_in(geom: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which points lie in ``geom`` (boundary included)."""
    shapely.prepare(geom)
    return np.asarray(shapely.intersects_xy(geom, np.asarray(x, "float64"), np.asarray(y, "float64")))


@dataclass(frozen=True)
class WDQResult:
    answerable: bool
    reason: str
    counts: dict[str, float]  # Rb, Ra, Db, Da, Cb, Ca
    wdq: float | None
    low: float | None
    high: float | None
    success: float | None  # Ra/Ca - Rb/Cb: negative when the target improved against the control
    buffer_change: float | None  # Da/Ca - Db/Cb
    level: float = LEVEL
    areas: dict[str, Any] = field(default_factory=dict)

    def verdict(self) -> str:
        if not self.answerable:
            return f"WDQ: cannot say ({self.reason})"
        w = self.wdq or 0.0
        if self.low is not None and self.low > 0:
            kind = "diffusion of benefits into the buffer"
        elif self.high is not None and self.high < -1:
            kind = "displacement outweighed the gain"
        elif self.high is not None and self.high < 0:
            kind = "some displacement into the buffer, less than the gain"
        else:
            kind = "no displacement or diffusion distinguishable from chance"
        return f"WDQ {w:+.2f} ({int(self.level * 100)}% interval {self.low:+.2f} to {self.high:+.2f}): {kind}"

    def to_dict(self) -> dict[str, Any]:
        return plain({**self.__dict__, "verdict": self.verdict()})


def wdq(
    rb: float,
    ra: float,
    db: float,
    da: float,
    cb: float,
    ca: float,
    *,
    level: float = LEVEL,
    draws: int = 4000,
    seed: int = 0,
    areas: dict[str, Any] | None = None,
) -> WDQResult:
    """The WDQ from six counts (target R, buffer D, control C; before b, after a) with a bootstrap
    interval. Before and after periods must be the same length."""
    level = check_level(level)
    counts = {"Rb": rb, "Ra": ra, "Db": db, "Da": da, "Cb": cb, "Ca": ca}
    if any(v < 0 for v in counts.values()):
        raise ParameterError(f"counts cannot be negative: {counts}")
    extra = {"counts": counts, "areas": dict(areas or {}), "level": level}

    def none(reason: str, success: float | None = None, change: float | None = None) -> WDQResult:
        return WDQResult(
            False, reason, wdq=None, low=None, high=None, success=success, buffer_change=change, **extra
        )

    if cb <= 0 or ca <= 0:
        return none("the control area has no crime before or after, so there is nothing to compare against")
    if rb <= 0:
        return none("the target area had no crime before the intervention")
    success = ra / ca - rb / cb
    change = da / ca - db / cb
    if success >= 0:
        return none(
            "the target area did not improve relative to the control, so there is no gain to displace",
            success,
            change,
        )
    value = change / success
    rng = np.random.default_rng(seed)
    sim = {k: rng.poisson(v, draws).astype("float64") for k, v in counts.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        s = sim["Ra"] / sim["Ca"] - sim["Rb"] / sim["Cb"]
        c = sim["Da"] / sim["Ca"] - sim["Db"] / sim["Cb"]
        q = c / s
    good = np.isfinite(q) & (s < 0)
    if good.mean() < level:
        return WDQResult(
            False,
            f"in {100 * (1 - good.mean()):.0f}% of resamples the target did not improve: too few crimes to "
            "say whether anything moved",
            wdq=None,
            low=None,
            high=None,
            success=success,
            buffer_change=change,
            **extra,
        )
    # Resamples where the target did not improve count as the least favourable end of the interval.
    q = np.where(good, q, -np.inf)
    alpha = (1 - level) / 2
    low, high = np.quantile(q, [alpha, 1 - alpha], method="inverted_cdf")
    return WDQResult(
        True,
        "",
        wdq=float(value),
        low=float(low),
        high=float(high),
        success=success,
        buffer_change=change,
        **extra,
    )
