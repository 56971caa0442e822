"""Interrupted time series on the target area's own series, with seasonality.

A Poisson GLM of the target's counts on a linear trend, calendar seasonality (two Fourier pairs, when two
years of data before the start allow it) and level shifts during and after the intervention. Errors are
heteroscedasticity- and autocorrelation-consistent (HAC), which covers overdispersion and months that
follow each other, or quasi-Poisson errors when those are wider (HAC is too narrow on short series).
"""

from __future__ import annotations

import numpy as np
import statsmodels.api as sm

from safestreets.impact.common import LEVEL, Effect, cannot_say, check_level, one_thread
from safestreets.impact.panel import Intervention, Panel

MIN_PRE = 12
SEASONAL_PRE = 24
ASSUMPTIONS = (
    "the trend and seasonality before the start would have continued without the intervention",
    "nothing else changed at the same time in the target area (no other event, no change in recording)",
    "the intervention shifts the level of crime; it does not change the trend",
)


def its(panel: Panel, iv: Intervention, *, level: float = LEVEL, maxlags: int = 3) -> Effect:
    """Interrupted time series of the target's total."""
    level = check_level(level)
    iv.check(panel)
    method = "interrupted time series"
    y = panel.values[iv.target].sum(axis=0)
    n = len(y)
    if iv.start < MIN_PRE:
        return cannot_say(
            method, f"{iv.start} periods before the start; a trend needs at least {MIN_PRE}", ASSUMPTIONS
        )
    if y[: iv.start].sum() <= 0:
        return cannot_say(method, "no crime in the target area before the start", ASSUMPTIONS)
    t = np.arange(n, dtype="float64")
    cols = [np.ones(n), (t - iv.start) / 12.0]
    seasonal = iv.start >= SEASONAL_PRE
    assumptions = ASSUMPTIONS
    if seasonal:
        month = panel.months.astype("float64")
        for k in (1, 2):
            cols += [np.sin(2 * np.pi * k * month / 12), np.cos(2 * np.pi * k * month / 12)]
    else:
        assumptions = (
            *ASSUMPTIONS,
            f"no seasonality modelled: fewer than {SEASONAL_PRE} periods before the start",
        )
    during = ((t >= iv.start) & (t < iv.end)).astype("float64")
    after = (t >= iv.end).astype("float64")
    i_during = len(cols)
    cols.append(during)
    if after.any():
        cols.append(after)
    X = np.column_stack(cols)
    try:
        with one_thread():
            model = sm.GLM(y, X, family=sm.families.Poisson())
            # Two error models; the wider wins. HAC covers months that follow each other but under-covers on
            # a few dozen periods; quasi-Poisson covers overdispersion and is exact-ish for independent months.
            hac = model.fit(cov_type="HAC", cov_kwds={"maxlags": maxlags, "use_correction": True}, use_t=True)
            quasi = model.fit(scale="X2", use_t=True)
    except (ValueError, np.linalg.LinAlgError):
        return cannot_say(method, "the model could not be fitted", assumptions)
    fit = hac if hac.bse[i_during] >= quasi.bse[i_during] else quasi
    ci = fit.conf_int(alpha=1 - level)
    r, lo, hi = (float(np.exp(v)) for v in (fit.params[i_during], ci[i_during, 0], ci[i_during, 1]))
    observed = float(y[iv.start : iv.end].sum())
    detail = {
        "seasonal": seasonal,
        "errors": "HAC" if fit is hac else "quasi-Poisson",
        "pre_periods": iv.start,
        "trend_per_year": float(np.exp(fit.params[1]) - 1),
        "measure": panel.measure,
        "fitted": np.round(fit.fittedvalues, 3).tolist(),
        "observed": y.tolist(),
    }
    if after.any():
        j = i_during + 1
        detail["after"] = {
            "ratio": float(np.exp(fit.params[j])),
            "ratio_low": float(np.exp(ci[j, 0])),
            "ratio_high": float(np.exp(ci[j, 1])),
            "p_value": float(fit.pvalues[j]),
            "periods": int(after.sum()),
        }
    return Effect(
        method=method,
        answerable=True,
        ratio=r,
        ratio_low=lo,
        ratio_high=hi,
        change=observed - observed / r if r > 0 else None,
        change_low=observed - observed / lo if lo > 0 else None,
        change_high=observed - observed / hi if hi > 0 else None,
        p_value=float(fit.pvalues[i_during]),
        level=level,
        assumptions=assumptions,
        detail=detail,
    )
