"""Synthetic control: the target's past reproduced as a weighted mix of donor areas.

Every series is indexed to its own mean before the start (so donors of any size can mix), and the
weights are non-negative and sum to one (constrained least squares, scipy's ``nnls``). The effect is the
target over its synthetic twin after the start. Significance is by placebos in space (Abadie, Diamond and
Hainmueller 2010): each donor in turn is treated as if it were the target, and the target's ratio is
ranked among theirs (the rank of its post- to pre-start misfit is kept in the detail too). The interval divides the target's ratio by the spread
of the placebos' ratios, so it is as wide as the donors are noisy.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from safestreets.impact.common import LEVEL, Effect, cannot_say, check_level
from safestreets.impact.panel import Intervention, Panel

MIN_DONORS = 10
MIN_PRE = 12
MAX_DONORS = 40
MAX_PRE_MISFIT = 0.35  # root mean square misfit before the start, as a share of the pre-start mean
ASSUMPTIONS = (
    "a weighted mix of donor areas that tracked the target before the start would have kept tracking it",
    "the donors were not affected by the intervention (the buffer is left out of them)",
    "series are indexed to their pre-start mean, so the mix matches shape, not size",
)


def synth_weights(target: np.ndarray, donors: np.ndarray) -> np.ndarray:
    """Weights ``w >= 0``, ``sum(w) == 1`` minimising ``|target - w @ donors|^2`` over the given periods.

    Non-negative least squares (scipy's ``nnls``) with the sum-to-one constraint as a heavily weighted
    extra row, which holds it to within about 1e-6; the last step renormalises exactly. Far faster than a
    general optimiser, which matters because every placebo refits.
    """
    j = donors.shape[0]
    if j == 1:
        return np.ones(1)
    penalty = 1e3 * max(float(np.abs(donors).max()), 1.0)
    a = np.vstack([donors.T, np.full((1, j), penalty)])
    b = np.concatenate([target, [penalty]])
    w, _ = nnls(a, b, maxiter=50 * j)
    if w.sum() <= 0:
        return np.full(j, 1.0 / j)
    return w / w.sum()


def _fit_one(
    series: np.ndarray, donors: np.ndarray, start: int, end: int
) -> tuple[np.ndarray, float, float, float]:
    w = synth_weights(series[:start], donors[:, :start])
    synth = w @ donors
    pre = np.sqrt(np.mean((series[:start] - synth[:start]) ** 2))
    post = np.sqrt(np.mean((series[start:end] - synth[start:end]) ** 2))
    ratio = float(series[start:end].mean() / max(synth[start:end].mean(), 1e-9))
    return w, float(pre), float(post), ratio


def synthetic_control(
    panel: Panel, iv: Intervention, *, level: float = LEVEL, min_donors: int = MIN_DONORS
) -> Effect:
    """Synthetic control of the target's total from comparable units with crime in every pre-start year."""
    level = check_level(level)
    iv.check(panel)
    method = "synthetic control"
    if iv.start < MIN_PRE:
        return cannot_say(
            method, f"{iv.start} periods before the start; needs at least {MIN_PRE}", ASSUMPTIONS
        )
    y = panel.values[iv.target].sum(axis=0)
    pre_mean = y[: iv.start].mean()
    if pre_mean <= 0:
        return cannot_say(method, "no crime in the target area before the start", ASSUMPTIONS)
    pool = np.flatnonzero(iv.comparable)
    pool_pre = panel.values[pool, : iv.start].mean(axis=1)
    # Donors need enough crime that their index is not mostly noise: at least one a period on average.
    pool = pool[pool_pre >= 1.0]
    if len(pool) < min_donors:
        return cannot_say(
            method,
            f"{len(pool)} donor areas with at least one crime a period before the start; needs {min_donors} "
            f"(a placebo p-value cannot go below 1/(donors+1))",
            ASSUMPTIONS,
            donors=len(pool),
        )
    target_idx = y / pre_mean
    donor_vals = panel.values[pool]
    donor_idx = donor_vals / donor_vals[:, : iv.start].mean(axis=1, keepdims=True)
    # Keep the donors whose indexed past is closest to the target's: the optimiser stays fast and the
    # placebos are donors that could plausibly stand in.
    if len(pool) > MAX_DONORS:
        misfit = np.mean((donor_idx[:, : iv.start] - target_idx[None, : iv.start]) ** 2, axis=1)
        keep = np.argsort(misfit, kind="stable")[:MAX_DONORS]
        pool, donor_idx = pool[keep], donor_idx[keep]
    w, pre, post, ratio = _fit_one(target_idx, donor_idx, iv.start, iv.end)
    ids = np.asarray(panel.ids).astype(str)
    order = np.argsort(-w)
    detail = {
        "donors": len(pool),
        "weights": {ids[pool[i]]: round(float(w[i]), 4) for i in order if w[i] >= 0.005},
        "pre_misfit": round(pre, 4),
        "measure": panel.measure,
        "synthetic": np.round(w @ donor_idx * pre_mean, 3).tolist(),
        "observed": y.tolist(),
    }
    if pre > MAX_PRE_MISFIT:
        return cannot_say(
            method,
            f"no mix of donors reproduces the target before the start (misfit {pre:.0%} of its mean, "
            f"limit {MAX_PRE_MISFIT:.0%})",
            ASSUMPTIONS,
            **detail,
        )
    placebo_ratio, placebo_score = [], []
    for j in range(len(pool)):
        others = np.delete(donor_idx, j, axis=0)
        _, p_pre, p_post, p_ratio = _fit_one(donor_idx[j], others, iv.start, iv.end)
        placebo_ratio.append(p_ratio)
        placebo_score.append(p_post / max(p_pre, 1e-9))
    score = post / max(pre, 1e-9)
    # Two placebo p-values: on the post/pre misfit (Abadie et al.) and on the ratio itself. The second
    # is reported, since the interval comes from the same placebo ratios, so the two cannot disagree.
    rmspe_p = (1 + int(np.sum(np.asarray(placebo_score) >= score))) / (1 + len(pool))
    logs = np.abs(np.log(np.maximum(placebo_ratio, 1e-9)))
    p_value = (1 + int(np.sum(logs >= abs(np.log(max(ratio, 1e-9)))))) / (1 + len(pool))
    alpha = (1 - level) / 2
    q_lo, q_hi = np.quantile(placebo_ratio, [alpha, 1 - alpha])
    lo, hi = ratio / max(q_hi, 1e-9), ratio / max(q_lo, 1e-9)
    observed = float(y[iv.start : iv.end].sum())
    detail["placebo_ratios"] = np.round(placebo_ratio, 4).tolist()
    detail["rmspe_ratio_p"] = rmspe_p
    return Effect(
        method=method,
        answerable=True,
        ratio=ratio,
        ratio_low=float(lo),
        ratio_high=float(hi),
        change=observed - observed / ratio if ratio > 0 else None,
        change_low=observed - observed / lo if lo > 0 else None,
        change_high=observed - observed / hi if hi > 0 else None,
        p_value=float(p_value),
        level=level,
        assumptions=ASSUMPTIONS,
        detail=detail,
    )
