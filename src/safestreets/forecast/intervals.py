"""Predictive intervals for a forecast: each unit's count, and the totals of command units and the city.

A forecast is an expected count. What will be counted is that plus noise, and the noise is larger than
Poisson: units' rates drift between periods, and whole command units have good and bad months together.
Both are modelled as negative binomial (NB2: variance ``mu + mu**2 / k``) with the dispersion ``k`` fitted
by maximum likelihood on the model's own past forecasts against what happened (calibration origins before
the forecast, so nothing is learnt from the window forecast):

* **units**: one ``k`` for every unit's count, fitted on (forecast, count) pairs of every unit at each
  calibration origin;
* **totals** (command units and the city): a separate ``k`` fitted on the totals' pairs. Summing the units'
  intervals as if they were independent would make a city interval far too narrow: a common shock (a hot
  month) moves every unit at once, which the ``mu**2 / k`` term of a total carries as a relative error of
  about ``1 / sqrt(k)``. With fewer than ``MIN_TOTAL_PAIRS`` pairs the totals use the sum of the units'
  variances (independent units), and say so.

Intervals are equal-tailed quantiles of ``scipy.stats.nbinom``. Counts are whole numbers, so an interval
holds its outcome at least as often as its level (an 80% interval around an expected 0.1 events is [0, 1]
and holds the outcome about 99.5% of the time): :func:`model_coverage` gives the coverage the model itself
expects, which is what a backtest's observed coverage should be compared with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

from safestreets.forecast import shared
from safestreets.forecast.base import Forecaster
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.geo.units import Units

#: Expected counts are floored here before a likelihood is taken: a model that forecast exactly 0 where an
#: event came would otherwise make any dispersion infinitely unlikely.
MU_FLOOR = 1e-3
#: The range searched for ``k`` (a larger k is all but Poisson).
K_RANGE = (1e-2, 1e6)
#: Totals' pairs needed to fit their own dispersion.
MIN_TOTAL_PAIRS = 4
DEFAULT_LEVEL = 0.8


def nb_loglik(actual: np.ndarray, mu: np.ndarray, k: float) -> float:
    """Log likelihood of counts ``actual`` under NB2 with means ``mu`` and dispersion ``k``."""
    y = np.asarray(actual, dtype="float64")
    m = np.maximum(np.asarray(mu, dtype="float64"), MU_FLOOR)
    return float(np.sum(
        gammaln(y + k) - gammaln(k) - gammaln(y + 1) + k * np.log(k / (k + m)) + y * np.log(m / (k + m))
    ))  # fmt: skip


def fit_dispersion(mu: np.ndarray, actual: np.ndarray) -> float:
    """The NB2 dispersion ``k`` that maximises the likelihood of ``actual`` given forecasts ``mu``."""
    mu = np.asarray(mu, dtype="float64").ravel()
    y = np.asarray(actual, dtype="float64").ravel()
    if len(y) == 0:
        return K_RANGE[1]
    lo, hi = np.log(K_RANGE[0]), np.log(K_RANGE[1])
    res = minimize_scalar(lambda z: -nb_loglik(y, mu, float(np.exp(z))), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-3})  # fmt: skip
    return float(np.exp(res.x))


def _dist(mu: np.ndarray, k: float | np.ndarray) -> Any:
    m = np.maximum(np.asarray(mu, dtype="float64"), 1e-12)
    k = np.asarray(k, dtype="float64")
    return stats.nbinom(k, k / (k + m))


def nb_interval(mu: np.ndarray, k: float | np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed ``level`` interval (lower, upper, whole counts) of NB2(mu, k) for each ``mu``."""
    tail = (1.0 - level) / 2.0
    d = _dist(mu, k)
    lower = np.asarray(d.ppf(tail), dtype="float64")
    upper = np.asarray(d.ppf(1.0 - tail), dtype="float64")
    zero = np.asarray(mu) <= 0
    return np.where(zero, 0.0, np.nan_to_num(lower)), np.where(zero, 0.0, np.nan_to_num(upper))


def model_coverage(mu: np.ndarray, k: float | np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The probability the model itself gives each interval: P(lower <= Y <= upper)."""
    d = _dist(mu, k)
    inside = d.cdf(upper) - d.cdf(np.asarray(lower) - 1)
    return np.where(np.asarray(mu) <= 0, 1.0, inside)


@dataclass
class Dispersion:
    """The fitted dispersions and what they rest on."""

    unit: float
    total: float | None  # None: totals sum the units' variances (too few pairs to fit their own)
    unit_pairs: int
    total_pairs: int
    origins: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "k_unit": round(self.unit, 4),
            "k_total": None if self.total is None else round(self.total, 4),
            "unit_pairs": self.unit_pairs,
            "total_pairs": self.total_pairs,
            "calibration_origins": self.origins,
            "method": "negative binomial (NB2), dispersion by maximum likelihood on past forecasts",
        }


def group_totals(values: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Sum of ``values`` per group label (the empty label is the whole area, "all")."""
    out: dict[str, float] = {}
    for g, v in zip(groups, values, strict=True):
        key = str(g) or "all"
        out[key] = out.get(key, 0.0) + float(v)
    return out


def fit_from_pairs(pairs: Sequence[tuple[np.ndarray, np.ndarray]], groups: np.ndarray,
                   origins: Sequence[str] = ()) -> Dispersion:  # fmt: skip
    """Fit both dispersions from (forecast, actual) per-unit arrays at several calibration origins."""
    mu = np.concatenate([p for p, _ in pairs]) if pairs else np.zeros(0)
    y = np.concatenate([a for _, a in pairs]) if pairs else np.zeros(0)
    k_unit = fit_dispersion(mu, y)
    tot_mu, tot_y = [], []
    for pred, actual in pairs:
        pg, ag = group_totals(pred, groups), group_totals(actual, groups)
        scopes = list(pg) if len(pg) > 1 else []
        tot_mu += [pg[g] for g in scopes] + [float(np.sum(pred))]
        tot_y += [ag[g] for g in scopes] + [float(np.sum(actual))]
    k_total = fit_dispersion(np.array(tot_mu), np.array(tot_y)) if len(tot_mu) >= MIN_TOTAL_PAIRS else None
    return Dispersion(k_unit, k_total, len(y), len(tot_mu), list(origins))


def total_k(mu_units: np.ndarray, disp: Dispersion) -> float:
    """The dispersion of a total of units with means ``mu_units``: the totals' own, or (too few pairs to fit
    it) the one that gives the sum of the units' NB variances."""
    if disp.total is not None:
        return disp.total
    m = np.asarray(mu_units, dtype="float64")
    extra = float(np.sum(m**2)) / disp.unit  # variance beyond Poisson, units independent
    return float(np.sum(m)) ** 2 / extra if extra > 0 else K_RANGE[1]


@dataclass
class Intervals:
    """A forecast's intervals at one ``level``: per unit, per command unit, and for the city."""

    level: float
    lower: np.ndarray
    upper: np.ndarray
    totals: dict[str, dict[str, float]]  # scope ("city" or a BCU code) -> expected, lower, upper
    dispersion: Dispersion

    def describe(self) -> dict[str, Any]:
        return {"level": self.level, **self.dispersion.describe(), "totals": self.totals}


def intervals(mu: np.ndarray, groups: np.ndarray, disp: Dispersion, level: float = DEFAULT_LEVEL) -> Intervals:
    """Intervals for each unit's count and for each group's and the city's total."""
    mu = np.asarray(mu, dtype="float64")
    lower, upper = nb_interval(mu, disp.unit, level)
    totals: dict[str, dict[str, float]] = {}
    labels = np.asarray([str(g) or "all" for g in groups], dtype=object)
    scopes = [("city", np.ones(len(mu), dtype=bool))]
    if len(set(labels.tolist())) > 1:
        scopes += [(str(g), labels == g) for g in sorted(set(labels.tolist()))]
    for name, mask in scopes:
        m = float(mu[mask].sum())
        lo, hi = nb_interval(np.array([m]), total_k(mu[mask], disp), level)
        totals[name] = {"expected": m, "lower": float(lo[0]), "upper": float(hi[0])}
    return Intervals(level, lower, upper, totals, disp)


def calibration_origins(history: History, horizon: Horizon, until: np.datetime64, count: int) -> list[np.datetime64]:
    """The ``count`` origins one horizon apart whose windows end at ``until`` (those after the first
    event): the periods ``auto`` backtests before a forecast, so its forecasts there are shared."""
    origins = [horizon.add(until, -k) for k in range(count, 0, -1)]
    start = history.start
    return [o for o in origins if start is None or o > start]


def calibrate(model: Forecaster, history: History, units: Units, until: Any, horizon: Horizon | str, *,
              origins: int = 6) -> Dispersion:  # fmt: skip
    """Fit the dispersions on ``model``'s forecasts at the ``origins`` periods before ``until`` (fitted on the
    data before each, as in a backtest; shared forecasts are reused) against what happened there. With no
    calibration period inside the data, Poisson (an infinite ``k``), said in ``origins``."""
    h = Horizon.parse(horizon)
    until = as_time(until)
    seen = history.before(until)
    found = calibration_origins(seen, h, until, origins)
    if len(seen):  # a forecast from beyond the data: periods the data do not reach would count as empty
        reach = seen.end if h.unit == "M" else (seen.t[-1].astype("datetime64[D]") + 1).astype("datetime64[s]")
        found = [o for o in found if h.add(o) <= reach]
    if not found:
        return Dispersion(K_RANGE[1], None, 0, 0, [])
    jobs = [shared.Job(model, o, o, h.add(o)) for o in found]
    made = shared.forecast_many(jobs, seen, units)
    pairs = []
    for job, done in zip(jobs, made, strict=True):
        window = seen.between(job.start, job.end)
        actual = units.counts(window, np.array([job.start, job.end], dtype="datetime64[s]"))[:, 0]
        pairs.append((done.prediction, actual))
    return fit_from_pairs(pairs, units.bcu, [str(o)[:10] for o in found])
