"""Difference-in-differences with matched comparison areas.

Each target unit is matched to its nearest comparison units on the level and the trend of its series
before the start (standardised), so the comparison shares the target's recent past. The target's total
and the matched comparison's total (each match weighted so the comparison is on the target's scale) go
into a Poisson GLM with period effects and a group effect; the target-after-start terms are the effects.
Errors are quasi-Poisson (scaled by Pearson chi-square), which widens them for overdispersed counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import statsmodels.api as sm
from scipy.spatial import cKDTree

from safestreets.errors import ParameterError
from safestreets.impact.common import LEVEL, Effect, cannot_say, check_level, one_thread
from safestreets.impact.panel import Intervention, Panel

MIN_PRE = 6
ASSUMPTIONS = (
    "parallel trends: without the intervention the target would have moved like its matched comparison",
    "no spill-over: the comparison areas were not affected (keep the buffer out of them)",
    "the comparison is matched on the level and the trend before the start",
    "counts are Poisson-like with overdispersion absorbed by a Pearson scale (quasi-Poisson)",
)


@dataclass(frozen=True)
class Matches:
    target_ids: list[str]
    comparison_ids: list[str]
    weights: np.ndarray  # weight of each comparison unit in the comparison total
    distance: np.ndarray  # standardised distance of each chosen unit to its target unit


def level_and_trend(values: np.ndarray) -> np.ndarray:
    """Per row: mean and least-squares slope per period."""
    t = np.arange(values.shape[1], dtype="float64")
    tc = t - t.mean()
    slope = (values - values.mean(axis=1, keepdims=True)) @ tc / max(float(tc @ tc), 1e-12)
    return np.column_stack([values.mean(axis=1), slope])


def match_comparisons(panel: Panel, iv: Intervention, k: int = 3) -> Matches:
    """For each target unit, the ``k`` comparable units closest in pre-start level and trend."""
    if k < 1:
        raise ParameterError(f"k must be at least 1, not {k}")
    pre = panel.values[:, : iv.start]
    feats = level_and_trend(pre)
    pool = np.flatnonzero(iv.comparable & (pre.sum(axis=1) > 0))
    targets = np.flatnonzero(iv.target)
    if len(pool) == 0:
        return Matches([], [], np.zeros(0), np.zeros(0))
    scale = feats[pool].std(axis=0)
    scale[scale == 0] = 1.0
    tree = cKDTree(feats[pool] / scale)
    kk = min(k, len(pool))
    dist, idx = tree.query(feats[targets] / scale, k=kk)
    dist = np.asarray(dist).reshape(len(targets), kk)
    idx = np.asarray(idx).reshape(len(targets), kk)
    weights = np.zeros(len(pool))
    np.add.at(weights, idx.ravel(), 1.0 / kk)
    used = weights > 0
    best = np.full(len(pool), np.inf)
    np.minimum.at(best, idx.ravel(), dist.ravel())
    ids = np.asarray(panel.ids).astype(str)
    return Matches(
        target_ids=ids[targets].tolist(),
        comparison_ids=ids[pool[used]].tolist(),
        weights=weights[used],
        distance=best[used],
    )


def did(
    panel: Panel, iv: Intervention, *, k: int = 3, level: float = LEVEL, matches: Matches | None = None
) -> Effect:
    """Difference-in-differences of the target against its matched comparison, for the periods during
    the intervention (and, when any are left, after it, in ``detail['after']``)."""
    level = check_level(level)
    iv.check(panel)
    method = "difference-in-differences"
    if iv.start < MIN_PRE:
        return cannot_say(
            method, f"{iv.start} periods before the start; matching needs at least {MIN_PRE}", ASSUMPTIONS
        )
    matches = matches or match_comparisons(panel, iv, k)
    if not matches.comparison_ids:
        return cannot_say(method, "no comparison area had any crime before the start", ASSUMPTIONS)
    ids = np.asarray(panel.ids).astype(str)
    pos = {u: i for i, u in enumerate(ids)}
    treated = panel.values[iv.target].sum(axis=0)
    comp_rows = np.array([pos[u] for u in matches.comparison_ids])
    control = (panel.values[comp_rows] * matches.weights[:, None]).sum(axis=0)
    detail: dict[str, Any] = {
        "comparison_ids": matches.comparison_ids,
        "comparison_weights": np.round(matches.weights, 4).tolist(),
        "match_distance": np.round(matches.distance, 3).tolist(),
        "target_units": len(matches.target_ids),
        "measure": panel.measure,
    }
    if treated[: iv.start].sum() <= 0 or control[: iv.start].sum() <= 0:
        return cannot_say(
            method, "no crime in the target or its comparison before the start", ASSUMPTIONS, **detail
        )
    if treated[iv.start : iv.end].sum() <= 0 and control[iv.start : iv.end].sum() <= 0:
        return cannot_say(method, "no crime anywhere during the intervention", ASSUMPTIONS, **detail)
    est = fit_did(treated, control, iv.start, iv.end, level)
    if est is None:
        return cannot_say(
            method, "the model could not be fitted (too few periods or all zeros)", ASSUMPTIONS, **detail
        )
    detail.update(est["extra"])
    observed = float(treated[iv.start : iv.end].sum())
    r, lo, hi, p = est["during"]
    return Effect(
        method=method,
        answerable=True,
        ratio=r,
        ratio_low=lo,
        ratio_high=hi,
        change=observed - observed / r,
        change_low=observed - observed / lo,
        change_high=observed - observed / hi,
        p_value=p,
        level=level,
        assumptions=ASSUMPTIONS,
        detail=detail,
    )


def fit_did(
    treated: np.ndarray, control: np.ndarray, start: int, end: int, level: float
) -> dict[str, Any] | None:
    """The GLM on two series: group + period effects + target-during (+ target-after) terms."""
    n = len(treated)
    y = np.concatenate([control, treated])
    group = np.repeat([0.0, 1.0], n)
    period = np.tile(np.arange(n), 2)
    dummies = (period[:, None] == np.arange(1, n)[None, :]).astype("float64")
    during = group * ((period >= start) & (period < end))
    after = group * (period >= end)
    cols = [np.ones(2 * n), group, dummies, during[:, None]]
    has_after = bool(after.any())
    if has_after:
        cols.append(after[:, None])
    X = np.column_stack(cols)
    if X.shape[0] - X.shape[1] < 2:
        return None
    try:
        with one_thread():
            fit = sm.GLM(y, X, family=sm.families.Poisson()).fit(scale="X2")
    except (ValueError, np.linalg.LinAlgError):
        return None
    ci = fit.conf_int(alpha=1 - level)
    i_during = 2 + dummies.shape[1]

    def at(i: int) -> tuple[float, float, float, float]:
        return (
            float(np.exp(fit.params[i])),
            float(np.exp(ci[i, 0])),
            float(np.exp(ci[i, 1])),
            float(fit.pvalues[i]),
        )

    extra: dict[str, Any] = {"pearson_scale": float(fit.scale), "periods": n, "pre_periods": start}
    if has_after:
        r, lo, hi, p = at(i_during + 1)
        extra["after"] = {"ratio": r, "ratio_low": lo, "ratio_high": hi, "p_value": p, "periods": n - end}
    return {"during": at(i_during), "extra": extra}
