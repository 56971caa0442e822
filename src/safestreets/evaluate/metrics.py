"""How well a hotspot forecast finds crime and harm, by the share of the area it flags.

A forecast gives each spatial unit (grid cell or polygon) an expected count, ``scores``. Each unit has a
land ``area`` in m², which may differ between units (cells clipped at the boundary, LSOAs). ``actual`` is
the observed count per unit in the forecast period and ``actual_harm`` the observed harm (sum of harm
weights). Coverage ``c`` is a fraction of the total area of all units in scope (0.01 = 1 %).

Definitions used throughout:

* **Ranking.** Units are ranked by predicted density ``scores / area``, highest first. Units with equal
  density form one block taken in random order; we use the expected value, so a block contributes its
  captured quantity in proportion to the area taken from it.
* **Fractional boundary.** Exactly ``c * total_area`` is flagged: blocks are taken in order and the block
  that straddles the budget contributes in proportion to the share of its area that fits. Capture is
  therefore a continuous, non-decreasing, piecewise-linear function of coverage, and every per-coverage
  measure is read off that one curve (:func:`capture_curve`).
* **Hit rate** ``HR(c)`` = captured actual / total actual.
* **PAI** ``PAI(c) = HR(c) / c`` (Chainey, Tompson & Uhlig 2008).
* **PEI** ``PEI(c) = HR(c) / HR*(c)``, where ``HR*`` is the same procedure ranking by actual density
  (NIJ Real-Time Crime Forecasting Challenge 2017). With the fractional rule, greedy by density is the
  exact optimum (a fractional knapsack), so ``0 <= PEI <= 1`` and a forecast proportional to the actual
  counts scores exactly 1.
* **Harm captured** = captured actual harm / total actual harm, ranking by ``scores`` or by separate
  ``harm_scores``.
* **Flagged units** (:func:`flagged`) are whole units for maps and stability: the longest prefix of the
  density ranking (ties broken by unit index) whose cumulative area is at most ``c * total_area``. If the
  first unit alone exceeds the budget nothing is flagged.
* **Stability** of two flagged sets is their Jaccard index ``|A ∩ B| / |A ∪ B|``.
* **Poisson deviance** is the mean over units of ``2 * (y * log(y / mu) - (y - mu))`` with
  ``y * log(y / mu) = 0`` at ``y = 0`` and ``mu`` clipped to at least ``1e-9``.

Undefined values are ``nan``, never 0, so that averages over periods or areas (``np.nanmean``) skip them
instead of being dragged down:

* hit rate, PAI, PEI and harm captured are ``nan`` when the quantity captured totals 0 (nothing happened);
* PAI and PEI are ``nan`` at ``c = 0`` (0 / 0);
* stability is ``nan`` when both sets are empty.

Bad input (unequal lengths, negative or non-finite values, area <= 0, coverage outside [0, 1], no units)
raises :class:`~safestreets.errors.ParameterError` (a ``ValueError``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from safestreets.errors import ParameterError
from safestreets.forecast.ranking import Ranking, capture

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: The coverages reported by :func:`evaluate` unless told otherwise.
DEFAULT_COVERAGES: tuple[float, ...] = (0.01, 0.05, 0.10)
#: The coverage grid of :func:`coverage_curve`: 0 to 20 % in steps of 0.5 %.
CURVE_COVERAGES: FloatArray = np.linspace(0.0, 0.20, 41)
#: Smallest expected count used in the deviance, so a zero forecast of a non-zero count stays finite.
MIN_MU = 1e-9


# --- validation ---------------------------------------------------------------------------------------


def _vector(values: ArrayLike, name: str, *, positive: bool = False) -> FloatArray:
    """``values`` as a 1-D float array, finite and non-negative (or positive); ParameterError otherwise."""
    try:
        arr = np.asarray(values, dtype="float64")
    except (TypeError, ValueError) as err:
        raise ParameterError(f"{name} must be numbers: {err}") from None
    if arr.ndim != 1:
        raise ParameterError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} has {int(np.sum(~np.isfinite(arr)))} non-finite value(s)")
    if positive and np.any(arr <= 0):
        raise ParameterError(f"{name} must be > 0 for every unit ({int(np.sum(arr <= 0))} are not)")
    if np.any(arr < 0):
        raise ParameterError(f"{name} must be >= 0 for every unit ({int(np.sum(arr < 0))} are negative)")
    return arr


def _vectors(**named: ArrayLike) -> list[FloatArray]:
    """Validate per-unit arrays given by name (``area`` must be positive) and check equal lengths."""
    arrays = [_vector(v, k, positive=k == "area") for k, v in named.items()]
    lengths = {k: len(a) for k, a in zip(named, arrays, strict=True)}
    if len(set(lengths.values())) > 1:
        raise ParameterError(f"per-unit arrays differ in length: {lengths}")
    if arrays and len(arrays[0]) == 0:
        raise ParameterError("there are no units to evaluate")
    return arrays


def _coverages(coverages: ArrayLike) -> FloatArray:
    """Coverages as a 1-D float array, each a fraction in [0, 1]."""
    arr = np.atleast_1d(np.asarray(coverages, dtype="float64"))
    if arr.ndim != 1:
        raise ParameterError(
            f"coverages must be a number or a one-dimensional sequence, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any((arr < 0) | (arr > 1)):
        raise ParameterError(f"coverage must be a fraction between 0 and 1 (0.01 = 1 %), got {arr.tolist()}")
    return arr


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den`` with nan where ``den`` is 0 (an undefined measure, not a bad one)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _pei(hit: FloatArray, best: FloatArray) -> FloatArray:
    # The optimum is exact, so anything above 1 is rounding.
    return np.minimum(_ratio(hit, best), 1.0)


# --- per-coverage measures ----------------------------------------------------------------------------


def capture_curve(scores: ArrayLike, values: ArrayLike, area: ArrayLike, coverages: ArrayLike) -> FloatArray:
    """Share of ``values`` captured at each coverage when units are ranked by ``scores / area``.

    Ties in density share the area taken from them; the unit on the budget boundary counts in part. The
    result is nan when ``values`` total 0.
    """
    s, v, a = _vectors(scores=scores, values=values, area=area)
    return capture(s, v, a, _coverages(coverages))


def hit_rate(scores: ArrayLike, actual: ArrayLike, area: ArrayLike, coverage: float) -> float:
    """Share of the actual count in the densest ``coverage`` of the area; nan when nothing happened."""
    s, y, a = _vectors(scores=scores, actual=actual, area=area)
    return float(Ranking.of(s, a).capture(y, _coverages(coverage))[0])


def pai(scores: ArrayLike, actual: ArrayLike, area: ArrayLike, coverage: float) -> float:
    """Predictive accuracy index ``HR(c) / c``; 1 is no better than chance, nan at ``c = 0``."""
    s, y, a = _vectors(scores=scores, actual=actual, area=area)
    c = _coverages(coverage)
    return float(_ratio(Ranking.of(s, a).capture(y, c), c)[0])


def pei(scores: ArrayLike, actual: ArrayLike, area: ArrayLike, coverage: float) -> float:
    """Predictive efficiency index: ``HR(c)`` over the best hit rate any ranking gets with that area; nan
    when nothing happened or no area is covered (``c = 0``, or so small that its area rounds to 0)."""
    s, y, a = _vectors(scores=scores, actual=actual, area=area)
    c = _coverages(coverage)
    return float(_pei(Ranking.of(s, a).capture(y, c), Ranking.of(y, a).capture(y, c))[0])


def harm_captured(scores: ArrayLike, actual_harm: ArrayLike, area: ArrayLike, coverage: float) -> float:
    """Share of the actual harm in the densest ``coverage`` of the area by ``scores`` (counts or harm)."""
    s, h, a = _vectors(scores=scores, actual_harm=actual_harm, area=area)
    return float(Ranking.of(s, a).capture(h, _coverages(coverage))[0])


def coverage_curve(
    scores: ArrayLike, actual: ArrayLike, area: ArrayLike, coverages: ArrayLike = CURVE_COVERAGES
) -> tuple[FloatArray, FloatArray]:
    """``(coverages, hit rates)`` over a grid of coverages (default 0 to 20 % in 0.5 % steps), one sort."""
    c = _coverages(coverages)
    return c, capture_curve(scores, actual, area, c)


def flagged(scores: ArrayLike, area: ArrayLike, coverage: float) -> BoolArray:
    """Whole units flagged at ``coverage``: the densest prefix (ties by unit index) that fits the area."""
    s, a = _vectors(scores=scores, area=area)
    ranking = Ranking.of(s, a)
    out = np.zeros(len(s), dtype=bool)
    out[ranking.order[: int(ranking.n_flagged(_coverages(coverage))[0])]] = True
    return out


def stability(flagged_a: ArrayLike, flagged_b: ArrayLike) -> float:
    """Jaccard index of two flagged sets (boolean masks over the same units); nan if both are empty."""
    a = np.asarray(flagged_a, dtype=bool)
    b = np.asarray(flagged_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ParameterError(
            f"flagged masks must be one-dimensional and equal in length, got {a.shape}, {b.shape}"
        )
    union = int(np.sum(a | b))
    return float(np.sum(a & b) / union) if union else float("nan")


def poisson_deviance(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Mean Poisson deviance of expected counts ``predicted`` (clipped to >= 1e-9) against ``actual``."""
    y, mu = _vectors(actual=actual, predicted=predicted)
    return _deviance(y, mu)


def _deviance(y: FloatArray, mu: FloatArray) -> float:
    mu = np.maximum(mu, MIN_MU)
    pos = y > 0
    ylog = np.zeros_like(y)
    ylog[pos] = y[pos] * np.log(y[pos] / mu[pos])  # y log(y / mu) -> 0 as y -> 0
    return float(np.mean(2.0 * (ylog - (y - mu))))


# --- the evaluation table -----------------------------------------------------------------------------


def _scope_rows(
    scope: str,
    c: FloatArray,
    scores: FloatArray,
    actual: FloatArray,
    area: FloatArray,
    harm: FloatArray | None,
    harm_scores: FloatArray | None,
) -> list[dict[str, Any]]:
    """The rows of one scope: each measure at each coverage, ranking within the scope."""
    ranking = Ranking.of(scores, area)
    hit = ranking.capture(actual, c)
    best = Ranking.of(actual, area).capture(actual, c)
    if harm is None:
        harm_share = np.full(len(c), np.nan)
    else:
        harm_ranking = ranking if harm_scores is None else Ranking.of(harm_scores, area)
        harm_share = harm_ranking.capture(harm, c)
    pai_ = _ratio(hit, c)
    pei_ = _pei(hit, best)
    n_flagged = ranking.n_flagged(c)
    deviance = _deviance(actual, scores)
    actual_total, predicted_total = float(actual.sum()), float(scores.sum())
    return [
        {
            "scope": scope,
            "coverage": float(c[i]),
            "hit_rate": float(hit[i]),
            "pai": float(pai_[i]),
            "pei": float(pei_[i]),
            "harm_captured": float(harm_share[i]),
            "flagged_units": int(n_flagged[i]),
            "actual_total": actual_total,
            "predicted_total": predicted_total,
            "deviance": deviance,
        }
        for i in range(len(c))
    ]


def _group_slices(groups: ArrayLike, n: int) -> list[tuple[str, NDArray[np.intp]]]:
    """``(label, unit indices)`` per assigned group, labels sorted, indices ascending; "" is skipped."""
    labels = np.asarray(groups).astype(str)
    if labels.shape != (n,):
        raise ParameterError(f"groups must give one label per unit ({n}), got shape {labels.shape}")
    names, inverse = np.unique(labels, return_inverse=True)
    # One stable sort groups the units while keeping index order, so ties break as on the subset.
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
    return [(str(name), order[bounds[k] : bounds[k + 1]]) for k, name in enumerate(names) if name != ""]


def evaluate(
    scores: ArrayLike,
    actual: ArrayLike,
    area: ArrayLike,
    *,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    actual_harm: ArrayLike | None = None,
    harm_scores: ArrayLike | None = None,
    groups: ArrayLike | None = None,
) -> list[dict[str, Any]]:
    """One row per (scope, coverage): the whole area (``scope="city"``), then each group in label order.

    Keys: ``scope``, ``coverage``, ``hit_rate``, ``pai``, ``pei``, ``harm_captured`` (nan without
    ``actual_harm``), ``flagged_units``, ``actual_total``, ``predicted_total`` and ``deviance`` (the
    scope's Poisson deviance, repeated on each of its rows). Harm is ranked by ``harm_scores`` when given,
    otherwise by ``scores``. Group rows (``groups`` is a label per unit, e.g. the command unit; "" is
    unassigned) rank within the group and take coverage of the group's own area; unassigned units count
    in the city rows only.
    """
    named: dict[str, ArrayLike] = {"scores": scores, "actual": actual, "area": area}
    if actual_harm is not None:
        named["actual_harm"] = actual_harm
    if harm_scores is not None:
        if actual_harm is None:
            raise ParameterError("harm_scores needs actual_harm to be evaluated against")
        named["harm_scores"] = harm_scores
    arrays = dict(zip(named, _vectors(**named), strict=True))
    c = _coverages(coverages)
    s, y, a = arrays["scores"], arrays["actual"], arrays["area"]
    h, hs = arrays.get("actual_harm"), arrays.get("harm_scores")

    rows = _scope_rows("city", c, s, y, a, h, hs)
    if groups is not None:
        for label, idx in _group_slices(groups, len(s)):
            rows += _scope_rows(
                label, c, s[idx], y[idx], a[idx],
                None if h is None else h[idx], None if hs is None else hs[idx],
            )  # fmt: skip
    return rows


__all__ = [
    "CURVE_COVERAGES", "DEFAULT_COVERAGES", "MIN_MU", "capture_curve", "coverage_curve", "evaluate",
    "flagged", "harm_captured", "hit_rate", "pai", "pei", "poisson_deviance", "stability",
]  # fmt: skip
