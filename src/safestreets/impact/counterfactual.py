"""The forecast counterfactual: what the project's own forecasters, trained only on data before the
start, expected in the target area during the intervention, against what was recorded.

The interval comes from how far the same model's forecasts for the same area and span of time missed in
the periods just before the start (a small backtest), never less than Poisson noise; so a model that
forecasts the area badly gives a wide interval, not a confident claim.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from safestreets.errors import NoDataError
from safestreets.forecast import History, make_model
from safestreets.geo.units import Units
from safestreets.impact.common import LEVEL, Effect, cannot_say, check_level

MIN_BACKTESTS = 3
ASSUMPTIONS = (
    "the model, trained on data before the start, forecasts what would have happened without the intervention",
    "its misses in the periods just before the start are typical of its miss during the intervention",
    "nothing but the intervention changed the area's crime at the start (recording, other operations)",
)


def _month(t: Any) -> np.datetime64:
    return np.datetime64(t, "M")


def forecast_counterfactual(
    history: History,
    units: Units,
    target: np.ndarray,
    start: Any,
    end: Any,
    *,
    model: str = "ewma",
    backtests: int = 6,
    level: float = LEVEL,
    weights: str = "count",
) -> Effect:
    """Recorded against forecast crime (``weights='count'``) or harm (``'harm'``) in the target units over
    the calendar months ``[start, end)``."""
    level = check_level(level)
    method = f"forecast counterfactual ({model})"
    s, e = _month(start), _month(end)
    span = int((e - s).astype(int))
    if span < 1:
        raise NoDataError(f"the intervention spans no whole month: {start} .. {end}")
    first = history.start
    if first is None:
        return cannot_say(method, "no events before the start", ASSUMPTIONS)
    w = history.harm if weights == "harm" else None

    def one(origin: np.datetime64) -> tuple[float, float]:
        fitted = make_model(model).fit(history, origin.astype("datetime64[s]"))
        stop = (origin + span).astype("datetime64[s]")
        pred = fitted.predict(units, origin.astype("datetime64[s]"), stop)
        if weights == "harm":
            # Forecasts are of counts; scale by the area's mean harm per crime before the origin.
            seen = history.before(origin.astype("datetime64[s]"))
            cnt = units.counts(seen, np.array([seen.t[0], origin.astype("datetime64[s]")]))[target].sum()
            hm = units.counts(seen, np.array([seen.t[0], origin.astype("datetime64[s]")]), weights=seen.harm)[
                target
            ].sum()
            pred = pred * (hm / cnt if cnt > 0 else 0.0)
        obs = units.counts(history, np.array([origin.astype("datetime64[s]"), stop]), weights=w)[
            target, 0
        ].sum()
        return float(pred[target].sum()), float(obs)

    months_before = int((s - _month(first)).astype(int))
    usable = min(backtests, (months_before - 12) // span)
    if usable < MIN_BACKTESTS:
        return cannot_say(
            method,
            f"{months_before} months of data before the start: a year to train on plus {MIN_BACKTESTS} earlier "
            f"periods of {span} months to check the model against are needed",
            ASSUMPTIONS,
        )
    expected, observed = one(s)
    past = [one(s - k * span) for k in range(1, usable + 1)]
    detail: dict[str, Any] = {
        "model": model,
        "months": span,
        "expected": round(expected, 3),
        "observed": observed,
        "backtests": [{"expected": round(p, 3), "observed": o} for p, o in past],
        "measure": weights,
    }
    if expected <= 0 or any(p <= 0 for p, _ in past):
        return cannot_say(
            method,
            "the model forecast no crime in the area, so there is no ratio to give",
            ASSUMPTIONS,
            **detail,
        )
    if observed <= 0 and all(o <= 0 for _, o in past):
        return cannot_say(method, "no crime recorded in the area before or during", ASSUMPTIONS, **detail)
    # The spread of log(observed / forecast) in the backtests, floored at Poisson noise for this size.
    logs = np.log(np.array([max(o, 0.5) / p for p, o in past]))
    bias = float(logs.mean())
    spread = float(np.sqrt(max(logs.var(ddof=1), 1.0 / expected)))
    corrected = expected * np.exp(bias)
    ratio = max(observed, 0.5) / corrected
    # t quantile: the spread is estimated from a handful of backtests.
    crit = float(stats.t.ppf(0.5 + level / 2, df=len(past) - 1))
    lo, hi = ratio * np.exp(-crit * spread), ratio * np.exp(crit * spread)
    z = np.log(ratio) / spread
    p = float(2 * stats.t.sf(abs(z), df=len(past) - 1))
    detail.update({"bias_corrected_expected": round(corrected, 3), "log_spread": round(spread, 4)})
    return Effect(
        method=method,
        answerable=True,
        ratio=float(ratio),
        ratio_low=float(lo),
        ratio_high=float(hi),
        change=observed - corrected,
        change_low=observed - observed / lo,
        change_high=observed - observed / hi,
        p_value=p,
        level=level,
        assumptions=ASSUMPTIONS,
        detail=detail,
    )
