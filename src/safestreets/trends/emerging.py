"""Emerging, persistent and diminishing hot spots: how clustering of crime changes over time.

The method follows ESRI's Emerging Hot Spot Analysis:

1. bin events into ``units x periods`` counts (a space-time cube);
2. compute the Getis-Ord Gi* z-score of every bin, with the global mean and standard deviation of that
   period (optionally a space-time neighbourhood that also takes in the previous ``time_window`` periods);
3. call a bin a significant hot (cold) spot where its z is beyond the two-sided critical value at
   ``alpha``, after a Benjamini-Hochberg false discovery rate correction within the period by default;
4. run the Mann-Kendall trend test on each unit's series of Gi* z-scores;
5. sort each unit into one category from its hot/cold history and its trend (see :func:`classify`).

docs/hotspots.md gives the exact rules, the parameters and the caveats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
import shapely
from scipy import stats
from scipy.spatial import cKDTree

from safestreets import __version__
from safestreets.errors import NoDataError, ParameterError
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.geo.units import Units

HOT_CATEGORIES: tuple[str, ...] = (
    "new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating", "historical",
)  # fmt: skip
COLD_CATEGORIES: tuple[str, ...] = tuple(f"{c} cold" for c in HOT_CATEGORIES)
NO_PATTERN = "no pattern"
CATEGORIES: tuple[str, ...] = (*HOT_CATEGORIES, *COLD_CATEGORIES, NO_PATTERN)
#: What a briefing lists by default: hot spots that appeared, grew or faded.
NOTABLE: tuple[str, ...] = ("new", "consecutive", "intensifying", "diminishing")

# Gi* z-scores that are equal in exact arithmetic can differ in the last bits; Mann-Kendall counts every
# difference, so the series is rounded before the trend test.
_Z_DECIMALS = 9


# --- spatial weights ----------------------------------------------------------------------------------


def neighbours(units: Units, distance: float | None = None) -> sp.csr_matrix:
    """Binary spatial weights, each unit its own neighbour (the Gi* convention).

    Grid units: queen contiguity (cells whose centres are within 1.5 cell sizes), or centres within
    ``distance`` metres when given. Polygon units: polygons that touch or overlap (shared corners count),
    or centroids within ``distance`` when given.
    """
    n = len(units)
    if n == 0:
        return sp.csr_matrix((0, 0))
    if distance is not None and distance < 0:
        raise ParameterError(f"neighbour distance must not be negative, not {distance}")
    if units.grid is not None and distance is None:
        distance = 1.5 * units.grid.cell
    if distance is not None:
        if units.grid is not None:
            xy = np.column_stack([units.x, units.y])
        else:
            cent = shapely.centroid(units.geometry)
            xy = np.column_stack([shapely.get_x(cent), shapely.get_y(cent)])
        pairs = cKDTree(xy).query_pairs(float(distance), output_type="ndarray")
        rows = np.concatenate([pairs[:, 0], pairs[:, 1]]) if len(pairs) else np.array([], dtype="int64")
        cols = np.concatenate([pairs[:, 1], pairs[:, 0]]) if len(pairs) else np.array([], dtype="int64")
    else:
        tree = shapely.STRtree(units.geometry)
        rows, cols = tree.query(units.geometry, predicate="intersects")
    rows = np.concatenate([rows, np.arange(n)])
    cols = np.concatenate([cols, np.arange(n)])
    w = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    w.data[:] = 1.0  # duplicates (self from the tree query and from the diagonal) stay binary
    return w


# --- Getis-Ord Gi* --------------------------------------------------------------------------------------


def getis_ord_gi_star(
    counts: np.ndarray, weights: sp.spmatrix | np.ndarray, *, time_window: int = 0
) -> np.ndarray:
    """Gi* z-scores, ``(units, periods)``, of ``counts`` ``(units, periods)``.

    For period ``t`` the bins are the units' values in periods ``t - time_window .. t`` (fewer at the start
    of the series); unit ``i``'s neighbourhood is its spatial neighbours in each of those periods. With
    ``N`` bins of mean ``X`` and standard deviation ``S`` (population form) and weights ``w``::

        Gi* = (sum_j w_ij x_j - X * sum_j w_ij) / (S * sqrt((N * sum_j w_ij^2 - (sum_j w_ij)^2) / (N - 1)))

    (Getis & Ord 1992; Ord & Getis 1995). A period with no variation, or a unit whose neighbourhood is
    every bin, gets 0.
    """
    x = np.asarray(counts, dtype="float64")
    if x.ndim != 2:
        raise ParameterError(f"counts must be a (units, periods) array, not shape {x.shape}")
    if time_window < 0:
        raise ParameterError(f"time_window must be 0 or more, not {time_window}")
    n, periods = x.shape
    w = sp.csr_matrix(weights, dtype="float64")
    if w.shape != (n, n):
        raise ParameterError(f"weights are {w.shape} but there are {n} units")
    if n == 0 or periods == 0:
        return np.zeros((n, periods))
    # Sum of each unit's values over the time window, and of squares, via cumulative sums along time.
    k = int(time_window)

    def window_sum(a: np.ndarray) -> np.ndarray:
        c = np.cumsum(a, axis=-1)
        out = c.copy()
        if k + 1 < a.shape[-1]:
            out[..., k + 1 :] = c[..., k + 1 :] - c[..., : -(k + 1)]
        return out

    slab = window_sum(x)  # (n, periods)
    slab_sq = window_sum(x * x)
    m = np.minimum(np.arange(periods), k) + 1  # periods in each slab
    big_n = n * m
    mean = slab.sum(axis=0) / big_n
    var = slab_sq.sum(axis=0) / big_n - mean**2
    # Centre before the weighted sum so a large common level does not swamp the differences.
    lag = np.asarray(w @ (slab - mean * m))  # sum_j w_ij (x_j - X) over the window
    wi = np.asarray(w.sum(axis=1)).ravel()[:, None] * m
    s1 = np.asarray(w.multiply(w).sum(axis=1)).ravel()[:, None] * m
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = (big_n * s1 - wi**2) / (big_n - 1)
        sd = np.sqrt(np.clip(var, 0.0, None))
        denom = sd * np.sqrt(np.clip(spread, 0.0, None))
        z = lag / denom
    # Relative tolerance: a period whose values are all equal leaves rounding noise in var.
    flat = var <= 1e-12 * np.maximum(mean**2, 1.0)
    z[:, flat] = 0.0
    z[~np.isfinite(z) | (spread <= 1e-9 * np.maximum(wi**2, 1.0))] = 0.0
    return z


# --- Mann-Kendall ----------------------------------------------------------------------------------------


def mann_kendall(series: np.ndarray, *, continuity: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall trend test of each row of ``series`` ``(units, periods)``: ``(z, p)``, two-sided.

    ``S = sum_{i<j} sign(x_j - x_i)``; ``Var(S) = (n(n-1)(2n+5) - sum_t t(t-1)(2t+5)) / 18`` over groups of
    ``t`` tied values; ``z = (S - 1)/sd`` for ``S > 0``, ``(S + 1)/sd`` for ``S < 0`` (the continuity
    correction; ``continuity=False`` drops it, which matches ``scipy.stats.kendalltau`` against time), and
    0 where ``S = 0`` or every value is tied. A 1-d series gives 0-d arrays.
    """
    x = np.asarray(series, dtype="float64")
    one = x.ndim == 1
    x = np.atleast_2d(x)
    if x.ndim != 2:
        raise ParameterError(f"series must be a (units, periods) array, not shape {x.shape}")
    n_units, n = x.shape
    s = np.zeros(n_units)
    ties = np.zeros(n_units)  # count of values equal to each value, summed as f(t)/t per value
    for i in range(n):
        col = x[:, i : i + 1]
        s += np.sign(x[:, i + 1 :] - col).sum(axis=1)
        t = (x == col).sum(axis=1).astype("float64")  # size of the tie group holding value i
        ties += (t - 1) * (2 * t + 5)  # t(t-1)(2t+5) / t, so a group of t adds t(t-1)(2t+5) in all
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    corr = 1.0 if continuity else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var > 0, (s - np.sign(s) * corr) / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    z = np.where(s == 0, 0.0, z)
    p = 2.0 * stats.norm.sf(np.abs(z))
    if one:
        return z[0], p[0]
    return z, p


# --- significance --------------------------------------------------------------------------------------


def significant(z: np.ndarray, alpha: float = 0.05, *, fdr: bool = True) -> np.ndarray:
    """Which z-scores are significant at ``alpha`` (two-sided), per column: with ``fdr``, the
    Benjamini-Hochberg step-up procedure within each column (period); without, ``|z| > z_(1-alpha/2)``."""
    z = np.asarray(z, dtype="float64")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be between 0 and 1, not {alpha}")
    p = 2.0 * stats.norm.sf(np.abs(z))
    if not fdr:
        return np.abs(z) > stats.norm.isf(alpha / 2)
    m = z.shape[0]
    if m == 0:
        return np.zeros(z.shape, dtype=bool)
    ps = np.sort(p, axis=0)
    rank = np.arange(1, m + 1)[:, None]
    ok = ps <= rank / m * alpha
    # The largest rank that passes sets the cut-off; every p at or below it is a discovery.
    any_ok = ok.any(axis=0)
    last = m - 1 - np.argmax(ok[::-1], axis=0)
    cutoff = np.where(any_ok, ps[last, np.arange(ps.shape[1])], -1.0)
    return p <= cutoff[None, :]


# --- classification -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Classification:
    """One category per unit, with the evidence behind it."""

    category: np.ndarray  # str per unit, one of CATEGORIES
    hot: np.ndarray  # bool (units, periods): significant hot spot
    cold: np.ndarray  # bool (units, periods): significant cold spot
    gi_z: np.ndarray  # float (units, periods)
    trend_z: np.ndarray  # Mann-Kendall z of each unit's Gi* series (positive: hotter)
    trend_p: np.ndarray
    hot_share: np.ndarray  # share of periods each unit was a significant hot spot
    cold_share: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    def count(self) -> dict[str, int]:
        """Units per category, every category listed (in CATEGORIES order)."""
        return {c: int((self.category == c).sum()) for c in CATEGORIES}


def _classify_side(
    sig: np.ndarray,
    other: np.ndarray,
    trend_z: np.ndarray,
    trend_sig: np.ndarray,
    need: int,
    names: tuple[str, ...],
) -> np.ndarray:
    """Hot categories from ``sig`` (hot bins) and ``other`` (cold bins), or the cold mirror with the roles
    and the trend's sign swapped by the caller. Returns the category where the final period is ``sig``,
    else "" (historical is decided separately)."""
    n_units, n = sig.shape
    new, consecutive, intensifying, persistent, diminishing, sporadic, oscillating, _ = names
    out = np.full(n_units, "", dtype=object)
    final = sig[:, -1]
    count = sig.sum(axis=1)
    # Length of the run of significant bins that ends in the final period.
    run = np.argmin(np.concatenate([sig[:, ::-1], np.zeros((n_units, 1), dtype=bool)], axis=1), axis=1)
    before = np.arange(n)[None, :] < (n - run)[:, None]  # periods before that final run
    any_sig_before = ((sig | other) & before).any(axis=1)
    other_ever = other.any(axis=1)
    mostly = count >= need

    out[final & mostly & trend_sig & (trend_z > 0)] = intensifying
    out[final & mostly & trend_sig & (trend_z < 0)] = diminishing
    out[final & mostly & ~trend_sig] = persistent
    few = final & ~mostly
    out[few & other_ever] = oscillating
    out[few & ~other_ever & (sig & before).any(axis=1)] = sporadic
    fresh = few & ~any_sig_before
    out[fresh & (run == 1)] = new
    out[fresh & (run >= 2)] = consecutive
    return out


def classify(
    counts: np.ndarray,
    weights: sp.spmatrix | np.ndarray,
    *,
    alpha: float = 0.05,
    time_window: int = 0,
    threshold: float = 0.9,
    fdr: bool = True,
) -> Classification:
    """Sort each unit into an emerging hot spot category (ESRI's definitions, made exact).

    A bin is *hot* (*cold*) when its Gi* z is positive (negative) and significant at ``alpha`` (after the
    per-period FDR correction with ``fdr``). "Mostly hot" means hot in at least ``ceil(threshold * n)`` of
    the ``n`` periods. The trend is the Mann-Kendall test on the unit's Gi* z series, significant at
    ``alpha``. With the final period hot:

    - intensifying: mostly hot, significant upward trend;
    - diminishing: mostly hot, significant downward trend;
    - persistent: mostly hot, no significant trend;
    - oscillating: not mostly hot, and cold in some earlier period;
    - sporadic: not mostly hot, never cold, and hot in some period before the final run of hot periods;
    - new: hot in the final period only, never hot or cold before;
    - consecutive: an unbroken run of two or more hot periods ending in the final one, never hot or cold
      before the run, not mostly hot.

    With the final period not hot: historical when mostly hot. The cold categories ("new cold", ...,
    "historical cold") mirror these with hot and cold swapped and the trend's sign reversed (an
    intensifying cold spot grows colder). Everything else is "no pattern". The final period decides which
    side a unit is on, so a unit both mostly cold and hot at the end is an oscillating hot spot.
    """
    x = np.asarray(counts, dtype="float64")
    if x.ndim != 2:
        raise ParameterError(f"counts must be a (units, periods) array, not shape {x.shape}")
    if x.shape[1] < 2:
        raise ParameterError("emerging hot spots need at least two periods (ten or more for a useful trend)")
    if not 0 < threshold <= 1:
        raise ParameterError(f"threshold must be in (0, 1], not {threshold}")
    n = x.shape[1]
    z = getis_ord_gi_star(x, weights, time_window=time_window)
    sig = significant(z, alpha, fdr=fdr)
    hot = sig & (z > 0)
    cold = sig & (z < 0)
    trend_z, trend_p = mann_kendall(np.round(z, _Z_DECIMALS))
    trend_sig = trend_p < alpha
    need = int(np.ceil(threshold * n - 1e-9))

    hot_cat = _classify_side(hot, cold, trend_z, trend_sig, need, HOT_CATEGORIES)
    cold_cat = _classify_side(cold, hot, -trend_z, trend_sig, need, COLD_CATEGORIES)
    category = np.full(x.shape[0], NO_PATTERN, dtype=object)
    category[hot_cat != ""] = hot_cat[hot_cat != ""]
    category[cold_cat != ""] = cold_cat[cold_cat != ""]
    neither = ~hot[:, -1] & ~cold[:, -1]
    category[neither & (hot.sum(axis=1) >= need)] = "historical"
    category[neither & (cold.sum(axis=1) >= need)] = "historical cold"
    return Classification(
        category=category,
        hot=hot,
        cold=cold,
        gi_z=z,
        trend_z=trend_z,
        trend_p=trend_p,
        hot_share=hot.mean(axis=1),
        cold_share=cold.mean(axis=1),
        params={
            "alpha": alpha,
            "time_window": time_window,
            "threshold": threshold,
            "fdr": fdr,
            "periods": n,
            "mostly_hot_periods": need,
        },
    )


# --- from a history ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One notable unit for a briefing."""

    unit_id: str
    bcu: str
    category: str
    last_count: float  # events in the final period
    mean_before: float  # mean events per period over the earlier periods
    last_nearby: float  # events in the unit and its neighbours in the final period
    mean_nearby_before: float  # the same, mean per period over the earlier periods
    last_gi_z: float
    trend_z: float
    trend_p: float
    x: float
    y: float


@dataclass(frozen=True, eq=False)
class EmergingResult:
    """Emerging hot spots over ``len(edges) - 1`` periods of one history on one set of units."""

    classification: Classification
    units: Units
    edges: np.ndarray  # datetime64[s], periods + 1, oldest first
    counts: np.ndarray  # (units, periods)
    weights: sp.csr_matrix  # the neighbourhoods the Gi* used
    params: dict[str, Any]

    @property
    def category(self) -> np.ndarray:
        return self.classification.category

    def window(self) -> str:
        """The periods covered, inclusive, for titles: ``2023-01 to 2023-12``, or days for shorter periods."""
        return _window_label(self.edges)

    def nearby_counts(self) -> np.ndarray:
        """Events in each unit and its neighbours, ``(units, periods)``: what the Gi* of a unit weighs, so
        a briefing can explain a hot spot whose own count is low."""
        return np.asarray(self.weights @ self.counts)

    def summary(self, *, include_empty: bool = False) -> dict[str, int]:
        """Units per category, in CATEGORIES order (empty categories left out unless asked for)."""
        counted = self.classification.count()
        return {c: k for c, k in counted.items() if k or include_empty}

    def changes(self, categories: tuple[str, ...] = NOTABLE, limit: int | None = None) -> list[Change]:
        """The units in ``categories``, in that order, each category's biggest change in counts first."""
        cls = self.classification
        last = self.counts[:, -1]
        before = self.counts[:, :-1].mean(axis=1)
        nearby = self.nearby_counts()
        out: list[Change] = []
        for cat in categories:
            idx = np.flatnonzero(cls.category == cat)
            idx = idx[np.argsort(-np.abs(last[idx] - before[idx]), kind="stable")]
            out.extend(
                Change(
                    unit_id=str(self.units.ids[i]),
                    bcu=str(self.units.bcu[i] or ""),
                    category=cat,
                    last_count=float(last[i]),
                    mean_before=float(before[i]),
                    last_nearby=float(nearby[i, -1]),
                    mean_nearby_before=float(nearby[i, :-1].mean()),
                    last_gi_z=float(cls.gi_z[i, -1]),
                    trend_z=float(cls.trend_z[i]),
                    trend_p=float(cls.trend_p[i]),
                    x=float(self.units.x[i]),
                    y=float(self.units.y[i]),
                )
                for i in idx
            )
        return out if limit is None else out[:limit]

    def to_table(self) -> pa.Table:
        """One row per unit; ``mean_count`` is the mean per period over the periods before the last. The
        parameters travel in the schema metadata (key ``safestreets``) for provenance."""
        cls = self.classification
        table = pa.table(
            {
                "unit_id": pa.array([str(u) for u in self.units.ids], pa.string()),
                "bcu": pa.array([str(b or "") for b in self.units.bcu], pa.string()),
                "category": pa.array([str(c) for c in cls.category], pa.string()),
                "hot_share": pa.array(cls.hot_share, pa.float64()),
                "trend_z": pa.array(cls.trend_z, pa.float64()),
                "trend_p": pa.array(cls.trend_p, pa.float64()),
                "last_count": pa.array(self.counts[:, -1], pa.float64()),
                "mean_count": pa.array(self.counts[:, :-1].mean(axis=1), pa.float64()),
                "last_gi_z": pa.array(cls.gi_z[:, -1], pa.float64()),
                "x": pa.array(np.asarray(self.units.x, dtype="float64"), pa.float64()),
                "y": pa.array(np.asarray(self.units.y, dtype="float64"), pa.float64()),
            }
        )
        return table.replace_schema_metadata({"safestreets": json.dumps(self.params, default=str)})


def period_edges(until: Any, period: str | Horizon = "1m", periods: int = 12) -> np.ndarray:
    """``periods + 1`` edges of consecutive windows of length ``period`` ending at ``until``."""
    if periods < 2:
        raise ParameterError(f"emerging hot spots need at least two periods, not {periods}")
    return Horizon.parse(period).edges_before(as_time(until), periods)


def _window_label(edges: np.ndarray) -> str:
    first, end = edges[0], edges[-1]
    months = np.asarray(edges).astype("datetime64[M]").astype("datetime64[s]")
    if bool(np.all(months == edges)):
        return f"{first.astype('datetime64[M]')} to {(end.astype('datetime64[M]') - 1)}"
    last_day = (end - np.timedelta64(1, "s")).astype("datetime64[D]")
    return f"{first.astype('datetime64[D]')} to {last_day}"


def _check_coverage(history: History, edges: np.ndarray) -> None:
    """Windows outside the data would read as empty periods and invent cooling or warming."""
    if not len(history):
        raise NoDataError("the history holds no events to classify")
    first, end = history.t[0], history.end
    assert end is not None
    if history.resolution == "month":
        start_ok, end_ok = first <= edges[0], end >= edges[-1]
    else:  # timestamped: some event in the first and in the last window
        start_ok, end_ok = first < edges[1], history.t[-1] >= edges[-2]
    if not start_ok or not end_ok:
        raise NoDataError(
            f"the events run from {first} to {end} but the {len(edges) - 1} periods run from {edges[0]} to "
            f"{edges[-1]}: ask for fewer periods or an earlier cut-off"
        )


def emerging_hotspots(
    history: History,
    units: Units,
    *,
    until: Any,
    period: str | Horizon = "1m",
    periods: int = 12,
    alpha: float = 0.05,
    time_window: int = 0,
    threshold: float = 0.9,
    fdr: bool = True,
    distance: float | None = None,
    weights: sp.spmatrix | None = None,
    harm: bool = False,
) -> EmergingResult:
    """Emerging hot spots of ``history`` on ``units`` over ``periods`` windows of ``period`` ending at
    ``until`` (exclusive).

    ``distance`` sets the neighbourhood (see :func:`neighbours`) unless ``weights`` are given; ``harm``
    sums harm weights instead of counting events.
    """
    horizon = Horizon.parse(period)
    history.check_horizon(horizon)
    edges = period_edges(until, horizon, periods)
    _check_coverage(history, edges)
    counts = units.counts(history, edges, weights=history.harm if harm else None)
    w = neighbours(units, distance) if weights is None else sp.csr_matrix(weights)
    cls = classify(counts, w, alpha=alpha, time_window=time_window, threshold=threshold, fdr=fdr)
    params: dict[str, Any] = {
        "method": "emerging hot spots (Gi* + Mann-Kendall)",
        "alpha": alpha,
        "fdr": fdr,
        "threshold": threshold,
        "time_window": time_window,
        "period": str(horizon),
        "periods": periods,
        "until": str(edges[-1]),
        "from": str(edges[0]),
        "measure": "harm" if harm else "count",
        "neighbours": "weights given"
        if weights is not None
        else (
            f"within {distance:g} m"
            if distance is not None
            else ("queen contiguity" if units.grid is not None else "touching polygons")
        ),
        "units": units.describe(),
        "events_in_window": float(counts.sum()),
        "data_fingerprint": history.fingerprint,
        "data": dict(history.meta),
        "safestreets_version": __version__,
    }
    params["window"] = _window_label(edges)
    return EmergingResult(
        classification=cls, units=units, edges=edges, counts=counts, weights=w, params=params
    )
